//! Deterministic in-memory network simulator (feature `sim`): links with
//! seeded faults, a virtual clock that jumps to the next event, and a driver
//! running endpoints over them. The same seed gives the same run.
//!
//! - [`rng`]: xoshiro256** seeded through SplitMix64; the only randomness.
//! - [`link`]: one direction of a link: serialization at a bandwidth, a
//!   tail-drop queue, latency and jitter (jitter alone keeps order), MTU drop,
//!   random and Gilbert-Elliott loss, duplication, reordering, and corruption
//!   as a burst of at most 15 flipped bits (always caught by the Internet
//!   checksum). [`link::LinkStats::trace_hash`] digests every delivery.
//! - [`net`]: the [`Endpoint`] trait and the [`Network`] driver. Hosts own IP
//!   addresses; packets are routed by destination address onto the link
//!   between the two hosts. [`Network::run`] ends with an [`Outcome`]: all
//!   done, one failed (with its reason), time bound passed, stalled, memory
//!   bound exceeded, or step limit.
//! - [`data`]: checked byte streams ([`PatternSource`], [`PatternSink`]):
//!   byte i of a stream is a function of (seed, i), so a receiver verifies
//!   every byte at its offset (once, in order, intact) and a hash.
//! - [`stack_ep`]: a tcpkit [`crate::stack::Stack`] as an endpoint running one
//!   [`Transfer`] as client or server.
//! - [`sweep`]: [`Scenario`]s drawn from a seed (loss up to 30%, bursts,
//!   reordering, duplication, 1% corruption, LAN to 300 ms RTT).
//!
//! Unlike the stack's `poll_timeout(&self)`, [`Endpoint::poll_timeout`] takes
//! `&mut self` and `now`, because smoltcp computes its deadline lazily.

pub mod data;
pub mod link;
pub mod net;
pub mod rng;
pub mod stack_ep;
pub mod sweep;

pub use data::{pattern_fill, PatternSink, PatternSource, Transfer};
pub use link::{GilbertElliott, Link, LinkConfig, LinkStats};
pub use net::{Endpoint, EndpointStats, NetStats, Network, Outcome, RunLimits, Status};
pub use rng::SimRng;
pub use stack_ep::TcpkitEndpoint;
pub use sweep::Scenario;
