//! Many connections: address set, demux, listeners, SYN cookies, ICMP, UDP,
//! fragment reassembly, timers, ready lists, events and counters.
//!
//! This is the API the C ABI and the Python package map onto one to one
//! (see docs/DESIGN.md and CONTRACT.md).

pub mod config;
pub mod demux;
pub mod events;
pub mod frag;
pub mod handle;
pub mod isn;
pub mod ports;
pub mod siphash;
pub mod syncookie;
pub mod timer;

use core::net::{IpAddr, SocketAddr};

use crate::time::Instant;

pub use config::{Config, Congestion};

/// TCP connection states with their C values (RFC 9293 §3.3.2).
///
/// Stand-in until `tcp::state::State` lands; then this becomes a re-export,
/// with the same names and values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Closed = 0,
    Listen = 1,
    SynSent = 2,
    SynReceived = 3,
    Established = 4,
    FinWait1 = 5,
    FinWait2 = 6,
    CloseWait = 7,
    Closing = 8,
    LastAck = 9,
    TimeWait = 10,
}

/// Errors of stack commands (C: `tcpkit_result` minus the packet errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// Nothing now: no packet, event, data, room, pending connection or timer.
    WouldBlock,
    InvalidArgument,
    InvalidHandle,
    InvalidState,
    AddrInUse,
    NoPorts,
    Limit,
    Refused,
    Reset,
    TimedOut,
    Closed,
    /// No local address of that family.
    AddrNotAvailable,
    /// The output buffer is too small; `needed` bytes are required.
    BufferTooSmall {
        needed: usize,
    },
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::WouldBlock => f.write_str("would block"),
            Error::InvalidArgument => f.write_str("invalid argument"),
            Error::InvalidHandle => f.write_str("invalid handle"),
            Error::InvalidState => f.write_str("invalid state"),
            Error::AddrInUse => f.write_str("address in use"),
            Error::NoPorts => f.write_str("no free ephemeral port"),
            Error::Limit => f.write_str("resource limit reached"),
            Error::Refused => f.write_str("connection refused"),
            Error::Reset => f.write_str("connection reset"),
            Error::TimedOut => f.write_str("timed out"),
            Error::Closed => f.write_str("closed"),
            Error::AddrNotAvailable => f.write_str("no local address of that family"),
            Error::BufferTooSmall { needed } => {
                write!(f, "buffer too small, {needed} bytes needed")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

/// Why `feed` did not take a packet. Each is counted; none changes any connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketError {
    Malformed,
    Checksum,
    NotForUs,
}

impl core::fmt::Display for PacketError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            PacketError::Malformed => "malformed packet",
            PacketError::Checksum => "bad checksum",
            PacketError::NotForUs => "packet not for us",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PacketError {}

macro_rules! handle_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u64);
        impl $name {
            /// The C value (never 0 for a handle the stack gave out).
            pub const fn raw(self) -> u64 {
                self.0
            }
            /// Wraps a C value; the stack checks it on use.
            pub const fn from_raw(raw: u64) -> Self {
                $name(raw)
            }
        }
    };
}

handle_type!(
    /// A connection handle.
    ConnHandle
);
handle_type!(
    /// A listener handle.
    ListenerHandle
);
handle_type!(
    /// A UDP socket handle.
    UdpHandle
);

/// Where a listener accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListenAddr {
    /// Every IPv4 and IPv6 address (C: family 6 or 0, all-zero address).
    Any,
    /// Every IPv4 address (C: family 4, all-zero address).
    AnyV4,
    /// One address; wins over a wildcard listener on the same port.
    Exact(IpAddr),
}

/// Event kinds with their C values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    Connected = 1,
    Acceptable = 2,
    Readable = 3,
    Writable = 4,
    PeerClosed = 5,
    Closed = 6,
}

/// One event. `handle` is the listener for `Acceptable`, else the connection
/// or UDP socket. `reason` is set only for `Closed` that was not orderly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub handle: u64,
    pub reason: Option<Error>,
    pub user_data: u64,
}

/// Per-connection options with their C values; values are u64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnOption {
    NoDelay = 1,
    KeepAliveIdleUs = 2,
    KeepAliveIntervalUs = 3,
    /// 0: keep-alive off.
    KeepAliveCount = 4,
    UserTimeoutUs = 5,
    SendBuffer = 6,
    RecvBuffer = 7,
    /// 1 NewReno, 2 Cubic.
    Congestion = 8,
    UserData = 9,
}

impl ConnOption {
    /// The option with C value `v`, None for unknown values.
    pub fn from_u32(v: u32) -> Option<ConnOption> {
        Some(match v {
            1 => ConnOption::NoDelay,
            2 => ConnOption::KeepAliveIdleUs,
            3 => ConnOption::KeepAliveIntervalUs,
            4 => ConnOption::KeepAliveCount,
            5 => ConnOption::UserTimeoutUs,
            6 => ConnOption::SendBuffer,
            7 => ConnOption::RecvBuffer,
            8 => ConnOption::Congestion,
            9 => ConnOption::UserData,
            _ => return None,
        })
    }
}

/// A snapshot of one connection (fields of `tcpkit_conn_info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    pub state: State,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub mss: u32,
    pub srtt_us: u64,
    pub rttvar_us: u64,
    pub rto_us: u64,
    pub cwnd: u64,
    pub ssthresh: u64,
    pub snd_wnd: u64,
    pub rcv_wnd: u64,
    pub bytes_sent: u64,
    pub bytes_acked: u64,
    pub bytes_received: u64,
    pub bytes_unsent: u64,
    pub bytes_unacked: u64,
    pub bytes_readable: u64,
    pub segs_sent: u64,
    pub segs_received: u64,
    pub segs_retransmitted: u64,
    pub timeouts: u64,
    pub sack_recoveries: u64,
}

/// Stack-wide counters: the fields of `tcpkit_counters`, then more drop
/// reasons, and work counters so tests can assert per-call work stays flat.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets_in: u64,
    pub packets_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub dropped_malformed: u64,
    pub dropped_checksum: u64,
    pub dropped_not_for_us: u64,
    pub dropped_no_listener: u64,
    pub syn_cookies_sent: u64,
    pub syn_cookies_accepted: u64,
    pub rst_sent: u64,
    pub challenge_acks_sent: u64,
    pub connections_opened: u64,
    pub connections_closed: u64,
    pub connections_active: u64,
    // --- beyond tcpkit_counters ---
    /// SYNs dropped: accept queue full, or cookie validation failed.
    pub dropped_listen_overflow: u64,
    /// ACKs that looked like a returning SYN cookie but failed validation.
    pub syn_cookies_failed: u64,
    /// Packets dropped because a UDP socket's queue was full.
    pub dropped_udp_queue_full: u64,
    /// Packets with an IP protocol the stack does not handle.
    pub dropped_unknown_protocol: u64,
    /// Segments dropped because the connection limit was reached.
    pub dropped_connection_limit: u64,
    /// Fragments received / datagrams reassembled / fragments dropped
    /// (overlap RFC 5722, memory cap) / reassemblies timed out.
    pub fragments_in: u64,
    pub fragments_reassembled: u64,
    pub fragments_dropped: u64,
    pub fragments_timed_out: u64,
    /// ICMP / ICMPv6 messages in and out; echo replies; errors delivered to
    /// connections; errors ignored (failed RFC 5927 validation); rate-limited.
    pub icmp_in: u64,
    pub icmp_out: u64,
    pub icmp_echo_replies: u64,
    pub icmp_errors_delivered: u64,
    pub icmp_errors_ignored: u64,
    pub icmp_rate_limited: u64,
    /// Path MTU decreases applied (RFC 1191 / RFC 8201).
    pub pmtu_updates: u64,
    /// UDP datagrams in / out.
    pub udp_in: u64,
    pub udp_out: u64,
    /// Connections reaped while orphaned (closed by the app, finished by the stack).
    pub orphans_reaped: u64,
    /// Connections currently orphaned.
    pub orphans_active: u64,
    /// Work: connections touched (handle_segment / poll_transmit / timers / commands).
    pub work_conn_visits: u64,
    /// Work: timer queue pushes and pops.
    pub work_timer_ops: u64,
    /// Work: demux hash lookups.
    pub work_hash_lookups: u64,
}

/// The stack. See the module docs and CONTRACT.md for the loop.
#[derive(Debug)]
pub struct Stack {
    config: Config,
    counters: Counters,
    now: Instant,
}

impl Stack {
    /// A stack with `config` (validated: `InvalidArgument` for nonsense).
    pub fn new(config: Config) -> Result<Stack, Error> {
        config.validate()?;
        Ok(Stack {
            config,
            counters: Counters::default(),
            now: Instant::ZERO,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Adds a local address. The first address of each family is the source for `connect`.
    pub fn add_address(&mut self, ip: IpAddr) -> Result<(), Error> {
        let _ = ip;
        Err(Error::InvalidState)
    }

    /// Takes one received IP packet.
    pub fn feed(&mut self, now: Instant, packet: &[u8]) -> Result<(), PacketError> {
        self.now = self.now.max(now);
        let _ = packet;
        self.counters.dropped_malformed += 1;
        Err(PacketError::Malformed)
    }

    /// Writes one whole IP packet into `buf`; `WouldBlock` when there is none,
    /// `BufferTooSmall { needed }` (packet kept) when `buf` is too small.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Result<usize, Error> {
        self.now = self.now.max(now);
        let _ = buf;
        Err(Error::WouldBlock)
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        None
    }

    /// When `handle_timeout` must next be called; None: no timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Runs the timers due at `now`; safe to call spuriously.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn listen(
        &mut self,
        addr: ListenAddr,
        port: u16,
        backlog: u32,
    ) -> Result<ListenerHandle, Error> {
        let _ = (addr, port, backlog);
        Err(Error::InvalidState)
    }

    pub fn accept(&mut self, l: ListenerHandle) -> Result<ConnHandle, Error> {
        let _ = l;
        Err(Error::InvalidHandle)
    }

    pub fn listener_close(&mut self, l: ListenerHandle) -> Result<(), Error> {
        let _ = l;
        Err(Error::InvalidHandle)
    }

    pub fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local_port: u16,
    ) -> Result<ConnHandle, Error> {
        self.now = self.now.max(now);
        let _ = (remote, local_port);
        Err(Error::AddrNotAvailable)
    }

    pub fn connect_from(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<ConnHandle, Error> {
        self.now = self.now.max(now);
        let _ = (local, remote);
        Err(Error::AddrNotAvailable)
    }

    pub fn send(&mut self, c: ConnHandle, data: &[u8]) -> Result<usize, Error> {
        let _ = (c, data);
        Err(Error::InvalidHandle)
    }

    pub fn recv(&mut self, c: ConnHandle, buf: &mut [u8]) -> Result<usize, Error> {
        let _ = (c, buf);
        Err(Error::InvalidHandle)
    }

    pub fn shutdown(&mut self, c: ConnHandle) -> Result<(), Error> {
        let _ = c;
        Err(Error::InvalidHandle)
    }

    pub fn close(&mut self, c: ConnHandle) -> Result<(), Error> {
        let _ = c;
        Err(Error::InvalidHandle)
    }

    pub fn abort(&mut self, c: ConnHandle) -> Result<(), Error> {
        let _ = c;
        Err(Error::InvalidHandle)
    }

    pub fn state(&self, c: ConnHandle) -> Result<State, Error> {
        let _ = c;
        Err(Error::InvalidHandle)
    }

    pub fn info(&self, c: ConnHandle) -> Result<ConnInfo, Error> {
        let _ = c;
        Err(Error::InvalidHandle)
    }

    pub fn local_endpoint(&self, c: ConnHandle) -> Result<SocketAddr, Error> {
        let _ = c;
        Err(Error::InvalidHandle)
    }

    pub fn remote_endpoint(&self, c: ConnHandle) -> Result<SocketAddr, Error> {
        let _ = c;
        Err(Error::InvalidHandle)
    }

    pub fn set_option(&mut self, c: ConnHandle, opt: ConnOption, value: u64) -> Result<(), Error> {
        let _ = (c, opt, value);
        Err(Error::InvalidHandle)
    }

    pub fn get_option(&self, c: ConnHandle, opt: ConnOption) -> Result<u64, Error> {
        let _ = (c, opt);
        Err(Error::InvalidHandle)
    }

    pub fn udp_bind(&mut self, local: SocketAddr) -> Result<UdpHandle, Error> {
        let _ = local;
        Err(Error::AddrNotAvailable)
    }

    pub fn udp_send_to(
        &mut self,
        now: Instant,
        u: UdpHandle,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), Error> {
        self.now = self.now.max(now);
        let _ = (u, to, data);
        Err(Error::InvalidHandle)
    }

    pub fn udp_recv_from(
        &mut self,
        u: UdpHandle,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddr), Error> {
        let _ = (u, buf);
        Err(Error::InvalidHandle)
    }

    pub fn udp_close(&mut self, u: UdpHandle) -> Result<(), Error> {
        let _ = u;
        Err(Error::InvalidHandle)
    }
}
