//! tcpkit's C ABI: `libtcpkit.so.0` and `libtcpkit.a`, header `tcpkit.h`.
//!
//! tcpkit is an embeddable, sans-I/O TCP/IP stack: the host program owns the
//! packet I/O and the clock. It feeds each received IP packet with
//! `tcpkit_stack_feed`, runs timers with `tcpkit_stack_handle_timeout` when
//! `tcpkit_stack_next_timeout`'s deadline has come, issues commands
//! (`tcpkit_connect`, `tcpkit_send`, ...), and after any of these drains
//! `tcpkit_stack_poll_transmit` and `tcpkit_stack_poll_event` until
//! `TCPKIT_WOULD_BLOCK`.
//!
//! Only marshalling lives here: pointer checks, result codes, the panic
//! boundary. Protocol logic is in the core crate `tcpkit`.
#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

mod api;
mod boundary;
mod convert;
mod types;

pub(crate) use tcpkit::stack as backend;

pub use api::*;
pub use boundary::tcpkit_stack;
pub use types::*;
