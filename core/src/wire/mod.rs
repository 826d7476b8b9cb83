//! Zero-copy packet views and emitters (the smoltcp wire pattern).

pub mod tcp;

pub use tcp::{TcpFlags, TcpOptions};
