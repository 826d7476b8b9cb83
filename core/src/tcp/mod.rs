//! One TCP connection as a pure state machine (RFC 9293 and extensions).
//!
//! A segment and `now` go in; segments, events and the next deadline come
//! out. This layer knows nothing of demux or IP beyond the pseudo-header.

pub mod cc;
pub mod connection;
mod input;
pub mod options;
mod output;
mod recovery;
pub mod recv;
pub mod rtt;
pub mod segment;
pub mod send;
pub mod seq;
pub mod state;
pub mod timers;

pub use seq::SeqNum;

pub use cc::Congestion;
pub use connection::{CloseReason, ConnConfig, ConnError, ConnEvent, ConnInfo, Connection};
pub use segment::{OutSegment, Segment, SegmentOutcome};
pub use state::State;
