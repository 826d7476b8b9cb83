//! One TCP connection as a pure state machine (RFC 9293 and extensions).
//!
//! A segment and `now` go in; segments, events and the next deadline come
//! out. This layer knows nothing of demux or IP beyond the pseudo-header.

pub mod cc;
pub mod connection;
pub mod options;
pub mod recv;
pub mod rtt;
pub mod segment;
pub mod send;
pub mod seq;
pub mod state;
pub mod timers;

pub use seq::SeqNum;
