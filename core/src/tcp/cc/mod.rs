//! Congestion control behind one small trait.

pub mod cubic;
pub mod newreno;
