//! tcpkit: an embeddable, sans-I/O TCP/IP stack.
//!
//! The host owns packet I/O and the clock. It feeds each received IP packet
//! with the current time ([`stack::Stack::feed`]), and pulls out packets to
//! send ([`stack::Stack::poll_transmit`]), events ([`stack::Stack::poll_event`])
//! and the next deadline ([`stack::Stack::poll_timeout`]).
//!
//! Layers, each usable alone:
//! - [`wire`]: zero-copy packet views and emitters (IPv4, IPv6, TCP, UDP, ICMP).
//! - [`tcp`]: one TCP connection as a pure state machine.
//! - [`stack`]: many connections, demux, listeners, ICMP, UDP, timers, events.
#![no_std]
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod stack;
pub mod tcp;
pub mod time;
pub mod wire;

#[cfg(feature = "sim")]
pub mod sim;

pub use time::{Duration, Instant};
