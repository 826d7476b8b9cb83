//! One TCP connection as a pure state machine (RFC 9293 and extensions).
//!
//! A segment and `now` go in; segments, events and the next deadline come
//! out. This layer knows nothing of demux or IP beyond the pseudo-header.
//!
//! [`Connection`] is split by responsibility: `connection.rs` (state, API,
//! events, timers), `input.rs` (SEGMENT ARRIVES), `output.rs` (what to send),
//! `recovery.rs` (fast retransmit, NewReno, SACK recovery with PRR),
//! `rack.rs` (RACK-TLP loss detection).
//!
//! Deliberate choices and deviations, as facts:
//! - LISTEN lives in the stack: [`Connection::accept`] starts in SYN-RECEIVED,
//!   and an RST there closes the connection instead of returning to LISTEN.
//! - RST in TIME-WAIT is ignored (RFC 1337).
//! - A SYN in TIME-WAIT with a newer timestamp or higher sequence number is
//!   reported as [`SegmentOutcome::ReopenFromTimeWait`]; the stack decides.
//! - Zero-window probes and keep-alives are `<SEQ=SND.UNA-1><ACK>` without
//!   data (Linux practice) rather than one byte of new data; a peer that keeps
//!   answering probes is never timed out, a silent one after `max_retries`.
//! - RTO retransmission goes back to SND.UNA (go-back-N, slow start); the SACK
//!   scoreboard is cleared on RTO (RFC 6675 §5.1 allows this).
//! - On SACK connections loss detection is RACK-TLP (RFC 8985, `rack.rs`;
//!   choices and deviations in docs/DESIGN.md); DupThresh alone no longer
//!   starts recovery there.
//! - PRR (RFC 6937) is used in SACK recovery; without SACK, NewReno (RFC 6582)
//!   inflates and deflates cwnd the classic way.
//! - The FIN-WAIT-2 timeout applies only after `close` (an orphan); after
//!   `shutdown` the half-closed connection waits for the peer indefinitely.
//! - `Connected` is raised for passive opens too, when the handshake completes
//!   (the stack turns it into `Acceptable`). `Closed(Orderly)` is raised when
//!   TIME-WAIT starts. The application's own `abort` raises no event.
//! - Receive-window auto-tuning is not implemented: the window is the
//!   configured receive buffer.
//! - The RTO backoff doubling is applied to the clamped RTO here (not inside
//!   `RttEstimator`), so it works while SRTT + 4·RTTVAR is below `min_rto`.

pub mod cc;
pub mod connection;
mod inflight;
pub(crate) use inflight::InFlightPool;
mod input;
pub mod options;
mod output;
pub mod rack;
mod recovery;
pub mod recv;
pub mod rtt;
pub mod segment;
pub mod send;
pub mod seq;
pub mod state;
pub mod time_wait;
pub mod timers;

pub use seq::SeqNum;

pub use cc::Congestion;
pub use connection::{CloseReason, ConnConfig, ConnError, ConnEvent, ConnInfo, Connection};
pub(crate) use segment::OutOptions;
pub use segment::{BadChecksum, OutSegment, Segment, SegmentOutcome};
pub use state::State;
