//! Zero-copy packet views and emitters. (being written)
