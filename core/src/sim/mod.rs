//! Deterministic in-memory network simulator. (being written)
