//! The C ABI's types and constants, exactly as the public contract fixes them.
//!
//! Enumerations are `uint32_t` typedefs with `#define` constants so that any
//! value a C caller passes is defined behaviour; unknown values are rejected
//! with `TCPKIT_ERR_INVALID_ARGUMENT`. Never renumber a constant here.
//!
//! Struct layouts may change only together with the SONAME (`libtcpkit.so.0`);
//! before 1.0 that is allowed, so recompile against the header of the library
//! you link.

/// Result of every fallible call. `TCPKIT_OK` (0) is success.
pub type tcpkit_result = u32;

/// Success.
pub const TCPKIT_OK: tcpkit_result = 0;
/// Nothing now: no packet, event, data, room, pending connection or timer.
pub const TCPKIT_WOULD_BLOCK: tcpkit_result = 1;
/// A pointer argument was NULL.
pub const TCPKIT_ERR_NULL: tcpkit_result = 100;
/// An argument is out of range: unknown enum value, bad address text, bad config field.
pub const TCPKIT_ERR_INVALID_ARGUMENT: tcpkit_result = 101;
/// The handle is 0, stale (closed), of another kind, or from another stack.
pub const TCPKIT_ERR_INVALID_HANDLE: tcpkit_result = 102;
/// The packet is not a well-formed IP packet.
pub const TCPKIT_ERR_MALFORMED: tcpkit_result = 103;
/// The packet's IP, TCP, UDP or ICMP checksum is wrong.
pub const TCPKIT_ERR_CHECKSUM: tcpkit_result = 104;
/// The packet is addressed to another host (counted, dropped).
pub const TCPKIT_ERR_NOT_FOR_US: tcpkit_result = 105;
/// The output buffer is too small; the size needed was written to `*out_len`.
pub const TCPKIT_ERR_BUFFER_TOO_SMALL: tcpkit_result = 106;
/// The operation is not possible in the connection's current state.
pub const TCPKIT_ERR_INVALID_STATE: tcpkit_result = 107;
/// The local endpoint (or the identical 4-tuple) is already in use.
pub const TCPKIT_ERR_ADDR_IN_USE: tcpkit_result = 108;
/// No ephemeral port is free for this remote endpoint.
pub const TCPKIT_ERR_NO_PORTS: tcpkit_result = 109;
/// A resource limit is exhausted (e.g. `max_connections`).
pub const TCPKIT_ERR_LIMIT: tcpkit_result = 110;
/// The peer refused the connection (RST in reply to our SYN).
pub const TCPKIT_ERR_REFUSED: tcpkit_result = 111;
/// The peer reset the connection.
pub const TCPKIT_ERR_RESET: tcpkit_result = 112;
/// The connection timed out (retransmissions, keepalive or user timeout).
pub const TCPKIT_ERR_TIMED_OUT: tcpkit_result = 113;
/// The connection (or our sending side after `tcpkit_shutdown`) is closed.
pub const TCPKIT_ERR_CLOSED: tcpkit_result = 114;
/// The stack has no local address of the remote's family.
pub const TCPKIT_ERR_ADDR_NOT_AVAILABLE: tcpkit_result = 115;
/// A Rust panic was caught at the ABI boundary; the stack is poisoned and
/// every later call on it returns this, except `tcpkit_stack_free`.
pub const TCPKIT_ERR_PANIC: tcpkit_result = 199;

/// Kind of a `tcpkit_event`.
pub type tcpkit_event_kind = u32;
/// An active open (`tcpkit_connect`) completed.
pub const TCPKIT_EVENT_CONNECTED: tcpkit_event_kind = 1;
/// A listener's accept queue became non-empty; call `tcpkit_accept`.
pub const TCPKIT_EVENT_ACCEPTABLE: tcpkit_event_kind = 2;
/// Data or end-of-stream became available after `tcpkit_recv` found none.
pub const TCPKIT_EVENT_READABLE: tcpkit_event_kind = 3;
/// Send-buffer room appeared after `tcpkit_send` returned `TCPKIT_WOULD_BLOCK`.
pub const TCPKIT_EVENT_WRITABLE: tcpkit_event_kind = 4;
/// The peer's FIN arrived (once per connection).
pub const TCPKIT_EVENT_PEER_CLOSED: tcpkit_event_kind = 5;
/// The connection is over (once); `reason` says how.
pub const TCPKIT_EVENT_CLOSED: tcpkit_event_kind = 6;

/// TCP connection state (RFC 9293 §3.3.2).
pub type tcpkit_state = u32;
/// CLOSED.
pub const TCPKIT_STATE_CLOSED: tcpkit_state = 0;
/// LISTEN.
pub const TCPKIT_STATE_LISTEN: tcpkit_state = 1;
/// SYN-SENT.
pub const TCPKIT_STATE_SYN_SENT: tcpkit_state = 2;
/// SYN-RECEIVED.
pub const TCPKIT_STATE_SYN_RECEIVED: tcpkit_state = 3;
/// ESTABLISHED.
pub const TCPKIT_STATE_ESTABLISHED: tcpkit_state = 4;
/// FIN-WAIT-1.
pub const TCPKIT_STATE_FIN_WAIT_1: tcpkit_state = 5;
/// FIN-WAIT-2.
pub const TCPKIT_STATE_FIN_WAIT_2: tcpkit_state = 6;
/// CLOSE-WAIT.
pub const TCPKIT_STATE_CLOSE_WAIT: tcpkit_state = 7;
/// CLOSING.
pub const TCPKIT_STATE_CLOSING: tcpkit_state = 8;
/// LAST-ACK.
pub const TCPKIT_STATE_LAST_ACK: tcpkit_state = 9;
/// TIME-WAIT.
pub const TCPKIT_STATE_TIME_WAIT: tcpkit_state = 10;

/// Congestion controller.
pub type tcpkit_congestion = u32;
/// NewReno (RFC 5681, RFC 6582).
pub const TCPKIT_CC_NEWRENO: tcpkit_congestion = 1;
/// CUBIC (RFC 9438). The default.
pub const TCPKIT_CC_CUBIC: tcpkit_congestion = 2;

/// Per-connection option for `tcpkit_conn_set_option` / `tcpkit_conn_get_option`;
/// values are `uint64_t`.
pub type tcpkit_option = u32;
/// 1: disable Nagle's algorithm (RFC 9293 §3.7.4); 0: enable it.
pub const TCPKIT_OPT_NODELAY: tcpkit_option = 1;
/// Idle time before the first keepalive probe, microseconds.
pub const TCPKIT_OPT_KEEPALIVE_IDLE_US: tcpkit_option = 2;
/// Time between keepalive probes, microseconds.
pub const TCPKIT_OPT_KEEPALIVE_INTERVAL_US: tcpkit_option = 3;
/// Unanswered probes before the connection times out; 0: keepalive off.
pub const TCPKIT_OPT_KEEPALIVE_COUNT: tcpkit_option = 4;
/// RFC 5482 user timeout, microseconds; 0: none.
pub const TCPKIT_OPT_USER_TIMEOUT_US: tcpkit_option = 5;
/// Send buffer limit, bytes.
pub const TCPKIT_OPT_SEND_BUFFER: tcpkit_option = 6;
/// Receive buffer limit, bytes.
pub const TCPKIT_OPT_RECV_BUFFER: tcpkit_option = 7;
/// Congestion controller, a `tcpkit_congestion` value.
pub const TCPKIT_OPT_CONGESTION: tcpkit_option = 8;
/// Opaque value returned in every event's `user_data` for this connection.
pub const TCPKIT_OPT_USER_DATA: tcpkit_option = 9;

/// Longest text `tcpkit_endpoint_format` writes, terminating NUL included
/// ("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535" is 54 bytes + NUL).
pub const TCPKIT_ENDPOINT_STRLEN: usize = 64;

/// A connection handle. 0 is never valid.
pub type tcpkit_conn = u64;
/// A listener handle. 0 is never valid.
pub type tcpkit_listener = u64;
/// A UDP socket handle. 0 is never valid.
///
/// The three handle kinds never collide (the kind is tagged in the handle):
/// a listener passed where a connection is expected is
/// `TCPKIT_ERR_INVALID_HANDLE`.
pub type tcpkit_udp = u64;

/// An IP address and port.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct tcpkit_endpoint {
    /// 4 or 6; 0 only in a listen address: any family.
    pub family: u8,
    /// IPv4 in addr[0..4], the rest zero; all zero = any address.
    pub addr: [u8; 16],
    /// Host byte order.
    pub port: u16,
}

/// One event from `tcpkit_stack_poll_event`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct tcpkit_event {
    /// What happened (`TCPKIT_EVENT_*`).
    pub kind: tcpkit_event_kind,
    /// ACCEPTABLE: the listener; otherwise the connection or UDP socket.
    pub handle: u64,
    /// CLOSED: `TCPKIT_OK` (orderly), `TCPKIT_ERR_REFUSED`, `TCPKIT_ERR_RESET`
    /// or `TCPKIT_ERR_TIMED_OUT`; `TCPKIT_OK` for every other kind.
    pub reason: tcpkit_result,
    /// The value set with `TCPKIT_OPT_USER_DATA`, else 0.
    pub user_data: u64,
}

/// Stack configuration. Fill with `tcpkit_config_default`, then change fields.
/// Booleans are `uint8_t` 0 or 1; any other value is `TCPKIT_ERR_INVALID_ARGUMENT`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct tcpkit_config {
    /// Link MTU in bytes, IP header included. Default 1500.
    pub mtu: u32,
    /// Key for ISNs (RFC 6528), SYN cookies and the demux hash. All zero:
    /// `tcpkit_stack_new` fills it from the OS's randomness (getrandom).
    pub isn_secret: [u8; 32],
    /// Per-connection send buffer limit, bytes. Default 262144.
    pub send_buffer: u32,
    /// Per-connection receive buffer limit, bytes. Default 262144.
    pub recv_buffer: u32,
    /// Most connections in all states. Default 1048576.
    pub max_connections: u32,
    /// Half-open connections per listener before SYN cookies are used. Default 128.
    pub syn_backlog: u32,
    /// TIME-WAIT duration, microseconds. Default 60 s.
    pub time_wait_us: u64,
    /// How long an orphaned connection may stay in FIN-WAIT-2, microseconds. Default 60 s.
    pub fin_wait2_timeout_us: u64,
    /// Initial retransmission timeout (RFC 6298), microseconds. Default 1 s.
    pub initial_rto_us: u64,
    /// Lower bound of the retransmission timeout, microseconds. Default 200 ms.
    pub min_rto_us: u64,
    /// Upper bound of the retransmission timeout, microseconds. Default 60 s.
    pub max_rto_us: u64,
    /// Retransmissions of one segment before the connection times out. Default 15.
    pub max_retries: u32,
    /// Delayed-ACK timer, microseconds. Default 40000.
    pub delayed_ack_us: u64,
    /// Initial congestion window in segments. Default 10 (RFC 6928).
    pub initial_cwnd_segments: u32,
    /// Congestion controller (`TCPKIT_CC_*`). Default `TCPKIT_CC_CUBIC`.
    pub congestion: tcpkit_congestion,
    /// Offer and accept SACK (RFC 2018). Default 1.
    pub enable_sack: u8,
    /// Offer and accept timestamps (RFC 7323). Default 1.
    pub enable_timestamps: u8,
    /// Offer and accept window scaling (RFC 7323). Default 1.
    pub enable_window_scale: u8,
    /// 1: listeners on the any-address terminate connections to any
    /// destination address, and port 0 to any port (tun2socks). Default 0.
    pub accept_any_destination: u8,
    /// Room to grow without moving fields; leave zero.
    pub reserved: [u8; 64],
}

/// A snapshot of one connection (`tcpkit_conn_get_info`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct tcpkit_conn_info {
    /// RFC 9293 state.
    pub state: tcpkit_state,
    /// Local endpoint (with `accept_any_destination`: the original destination).
    pub local: tcpkit_endpoint,
    /// Remote endpoint.
    pub remote: tcpkit_endpoint,
    /// Sender maximum segment size, bytes.
    pub mss: u32,
    /// Smoothed round-trip time, microseconds (0 before the first sample).
    pub srtt_us: u64,
    /// Round-trip time variation, microseconds.
    pub rttvar_us: u64,
    /// Current retransmission timeout, microseconds.
    pub rto_us: u64,
    /// Congestion window, bytes.
    pub cwnd: u64,
    /// Slow-start threshold, bytes.
    pub ssthresh: u64,
    /// Peer's advertised window, bytes.
    pub snd_wnd: u64,
    /// Our advertised window, bytes.
    pub rcv_wnd: u64,
    /// Payload bytes sent, retransmissions included.
    pub bytes_sent: u64,
    /// Payload bytes acknowledged by the peer.
    pub bytes_acked: u64,
    /// Payload bytes received in order.
    pub bytes_received: u64,
    /// Bytes in the send buffer not yet sent.
    pub bytes_unsent: u64,
    /// Bytes sent but not yet acknowledged.
    pub bytes_unacked: u64,
    /// Bytes the application can read now.
    pub bytes_readable: u64,
    /// Segments sent.
    pub segs_sent: u64,
    /// Segments received.
    pub segs_received: u64,
    /// Segments retransmitted.
    pub segs_retransmitted: u64,
    /// Retransmission timeouts.
    pub timeouts: u64,
    /// Loss recoveries entered by SACK or duplicate ACKs.
    pub sack_recoveries: u64,
    /// Room to grow without moving fields.
    pub reserved: [u8; 64],
}

/// Stack-wide counters (`tcpkit_stack_get_counters`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct tcpkit_counters {
    /// IP packets fed.
    pub packets_in: u64,
    /// IP packets transmitted.
    pub packets_out: u64,
    /// Bytes fed.
    pub bytes_in: u64,
    /// Bytes transmitted.
    pub bytes_out: u64,
    /// Packets dropped as malformed.
    pub dropped_malformed: u64,
    /// Packets dropped for a bad checksum.
    pub dropped_checksum: u64,
    /// Packets dropped as addressed to another host.
    pub dropped_not_for_us: u64,
    /// SYNs (and strays) with no listener or connection.
    pub dropped_no_listener: u64,
    /// SYN cookies sent.
    pub syn_cookies_sent: u64,
    /// SYN cookies validated.
    pub syn_cookies_accepted: u64,
    /// RST segments sent.
    pub rst_sent: u64,
    /// Challenge ACKs sent (RFC 5961).
    pub challenge_acks_sent: u64,
    /// Connections opened (active and passive).
    pub connections_opened: u64,
    /// Connections closed.
    pub connections_closed: u64,
    /// Connections currently held by the stack.
    pub connections_active: u64,
    /// Room to grow without moving fields.
    pub reserved: [u8; 128],
}
