//! Many connections: address set, demux, listeners, SYN cookies, ICMP, UDP,
//! fragment reassembly, timers, ready lists, events and counters.
//!
//! This is the API the C ABI and the Python package map onto one to one
//! (see docs/DESIGN.md and CONTRACT.md).
//!
//! Costs: `feed` is one keyed-hash lookup plus the connection's own work;
//! `poll_transmit` pops the ready list; `poll_event` pops the event queue;
//! `poll_timeout` peeks a heap; `handle_timeout` pops due heap entries.
//! Nothing scans all connections. `Counters::work_*` count the visits so
//! tests can check it.
//!
//! Every queue is bounded, with a policy when full:
//! - connections (all states, orphans and TIME-WAIT included): `max_connections`;
//!   `connect` returns `Limit`, a SYN beyond it is dropped (counted);
//! - half-open connections per listener: `syn_backlog`, then SYN cookies
//!   (RFC 4987 §3.6) that hold no state;
//! - accept queue per listener: its backlog (clamped to 1..=65535); a SYN
//!   meeting a full accept queue is dropped (the peer retries, like Linux);
//!   so is the ACK that would complete a handshake into a full queue
//!   (`listen_overflows`): the SYN-RECEIVED entry stays until there is room;
//! - events: at most one pending per kind per handle (edge-triggered);
//! - stack-originated packets (RSTs, cookies, ICMP, UDP): 4096; beyond, new
//!   ones are dropped (`udp_send_to` returns `WouldBlock`);
//! - UDP receive queue: 256 datagrams or 256 KiB per socket, then drop (counted);
//! - fragment reassembly: 64 datagrams and 1 MiB, the oldest is evicted
//!   (`fragments_evicted`);
//!   30 s timeout;
//! - ICMP errors we send: token bucket, 100/s, burst 50.
//!
//! Orphans (closed or aborted by the application) finish the FIN exchange,
//! FIN-WAIT-2 (bounded by `fin_wait2_timeout`) and TIME-WAIT (`time_wait`)
//! on their own and are freed when the connection is finished. At most
//! `max_orphans` do so at once: beyond, `close` aborts (RST) instead
//! (`Counters::orphans_aborted`), as Linux does past `tcp_max_orphans`.

/// The tables of [`Books`], borrowed from a `Stack` field by field, so the
/// caller may hold a connection slot from `conns` at the same time.
macro_rules! books {
    ($s:ident) => {
        Books {
            now: $s.now,
            ready: &mut $s.ready,
            events: &mut $s.events,
            counters: &mut $s.counters,
            inflight_pool: &mut $s.inflight_pool,
            buffer_release: &mut $s.buffer_release,
            timers: &mut $s.timers,
        }
    };
}

pub mod config;
pub mod counters;
pub mod demux;
pub mod events;
pub mod frag;
pub mod handle;
pub mod icmp;
pub mod isn;
pub mod packet;
pub mod ports;
pub mod siphash;
pub mod syncookie;
mod tcp_input;
pub mod timer;
mod udp;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};

use crate::tcp::connection::{
    CloseReason, ConnConfig, ConnError, ConnTemplate, Connection, EV_CLOSED, EV_CONNECTED,
};
use crate::tcp::segment::OutHead;
use crate::tcp::time_wait::TimeWait;
use crate::tcp::{InFlightPool, OutOptions, SeqNum};
use crate::time::{Duration, Instant};
use crate::wire::TcpOptions;

pub use crate::tcp::state::State;
pub use config::{Config, Congestion};
pub use counters::Counters;

use demux::{addr16, Demux, FlowKey};
use events::EventQueue;
use frag::{FragKey, FragOutcome, Reassembler};
use handle::{CacheLine, Kind, Slab};
use isn::IsnGenerator;
use ports::PortAllocator;
use syncookie::SynCookies;
use timer::TimerQueue;

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

impl Error {
    /// The stable `tcpkit_result` number of this error (CONTRACT.md; never
    /// renumbered). The C and Python layers both report it.
    pub const fn code(&self) -> u32 {
        match self {
            Error::WouldBlock => 1,
            Error::InvalidArgument => 101,
            Error::InvalidHandle => 102,
            Error::BufferTooSmall { .. } => 106,
            Error::InvalidState => 107,
            Error::AddrInUse => 108,
            Error::NoPorts => 109,
            Error::Limit => 110,
            Error::Refused => 111,
            Error::Reset => 112,
            Error::TimedOut => 113,
            Error::Closed => 114,
            Error::AddrNotAvailable => 115,
        }
    }

    /// One line saying what went wrong, for messages and exceptions.
    pub const fn description(&self) -> &'static str {
        match self {
            Error::WouldBlock => "operation would block",
            Error::InvalidArgument => "invalid argument",
            Error::InvalidHandle => "invalid handle (closed, stale or of another kind)",
            Error::BufferTooSmall { .. } => "buffer too small",
            Error::InvalidState => "invalid state for this operation",
            Error::AddrInUse => "address in use",
            Error::NoPorts => "no ephemeral port available",
            Error::Limit => "resource limit reached",
            Error::Refused => "connection refused",
            Error::Reset => "connection reset",
            Error::TimedOut => "connection timed out",
            Error::Closed => "connection closed for sending",
            Error::AddrNotAvailable => "no local address of that family",
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::BufferTooSmall { needed } => {
                write!(f, "buffer too small, {needed} bytes needed")
            }
            other => f.write_str(other.description()),
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

impl PacketError {
    /// The stable `tcpkit_result` number of this error (CONTRACT.md).
    pub const fn code(&self) -> u32 {
        match self {
            PacketError::Malformed => 103,
            PacketError::Checksum => 104,
            PacketError::NotForUs => 105,
        }
    }
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

/// A snapshot of one connection (fields of `tcpkit_conn_info`): its
/// endpoints, which only the stack knows, and the TCP layer's own snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// State, windows, RTT and counters of the connection itself.
    pub tcp: crate::tcp::ConnInfo,
}

/// A packet the stack itself originates (not from a connection), queued for
/// `poll_transmit`. Control segments are built at emission time (no
/// allocation); ICMP and UDP packets are built when queued, into pooled buffers.
#[derive(Debug)]
enum Outgoing {
    Tcp { key: FlowKey, hdr: packet::TcpOut },
    Raw(Vec<u8>),
}

/// Most stack-originated packets waiting for `poll_transmit`; beyond it new ones are dropped.
const MAX_OUTGOING: usize = 4096;
/// Most local addresses.
const MAX_ADDRESSES: usize = 64;
/// Fragment reassembly bounds: datagrams in progress, buffer bytes, timeout
/// (RFC 791 suggests 15 s to start; RFC 8200 §4.5 says 60 s; one value for both).
const FRAG_MAX_DATAGRAMS: usize = 64;
const FRAG_MAX_BYTES: usize = 1 << 20;
const FRAG_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connection's buffers stay allocated while empty: long enough
/// that a connection moving data reuses them across drains (one minimum RTO,
/// RFC 6298 §2.4), short enough that an idle connection soon holds none.
const BUFFER_IDLE_RELEASE: Duration = Duration::from_secs(1);

/// When buffers that became empty at `now` are freed if still empty: after at least
/// [`BUFFER_IDLE_RELEASE`], rounded up to a whole multiple of it so that
/// connections going idle together are released in one timer wake-up.
fn buffer_release_deadline(now: Instant) -> Instant {
    let unit = BUFFER_IDLE_RELEASE.as_micros();
    let at = now.as_micros().saturating_add(unit);
    Instant::from_micros(at.div_ceil(unit).saturating_mul(unit))
}

/// Queues the slot's empty buffers for release at the next tick. Out of
/// line: once per connection and tick, while its test runs every pass.
#[inline(never)]
fn schedule_buffer_release(
    slot: &mut ConnSlot,
    idx: u32,
    generation: u32,
    now: Instant,
    queue: &mut VecDeque<(Instant, u32, u32)>,
) {
    let deadline = buffer_release_deadline(now);
    slot.release_at = release_tick(deadline);
    queue.push_back((deadline, idx, generation));
}

/// A release deadline as a whole number of [`BUFFER_IDLE_RELEASE`] ticks (it
/// is on that grid), so the slot keeps it in 32 bits (136 years of ticks).
fn release_tick(deadline: Instant) -> u32 {
    let tick = deadline.as_micros() / BUFFER_IDLE_RELEASE.as_micros();
    u32::try_from(tick).unwrap_or(u32::MAX - 1)
}

/// The stack's event kind of each `EV_` bit of a connection, by bit position.
const CONN_EVENT_KINDS: [EventKind; 5] = [
    EventKind::Connected,
    EventKind::Readable,
    EventKind::Writable,
    EventKind::PeerClosed,
    EventKind::Closed,
];

/// Slot flags.
const F_READY: u8 = 1;
/// The application closed or aborted: the handle is invalid, the stack finishes the connection.
const F_ORPHAN: u8 = 2;
/// Passive connection not yet accepted (in SYN-RECEIVED or in the accept queue).
const F_UNACCEPTED: u8 = 4;
/// Passive connection counted in its listener's SYN queue.
const F_SYN_QUEUED: u8 = 8;
/// In its listener's accept queue.
const F_IN_ACCEPT_QUEUE: u8 = 16;
/// The connection reached ESTABLISHED (counted in connections_opened).
const F_OPENED: u8 = 32;

/// One connection and what the stack keeps beside it. `repr(C)`: what the
/// stack reads per segment (timer, demux key, events) first, then the
/// connection (hot fields first, see [`Connection`]), then what only a
/// passive connection before `accept` uses, so a segment touches one
/// contiguous hot range of the slot (fewer cache lines from DRAM).
#[derive(Debug)]
#[repr(C)]
struct ConnSlot {
    /// Earliest deadline this slot has in the timer queue (`Instant::MAX`: none).
    armed: Instant,
    /// The application's user data, or, while `F_UNACCEPTED`, the listener
    /// of the passive connection (see [`ConnSlot::listener`]): the
    /// application cannot reach an unaccepted connection (its handle is
    /// refused until `accept`), so one field holds either.
    user_or_listener: u64,
    key: FlowKey,
    /// Next check that frees the connection's empty buffers, in whole
    /// [`BUFFER_IDLE_RELEASE`] ticks (`u32::MAX`: none pending).
    release_at: u32,
    /// One past the highest sequence number sent (for RFC 5927 checks of ICMP errors).
    snd_max: SeqNum,
    /// Event kinds queued and not yet popped.
    pending: u8,
    flags: u8,
    /// Events held until `accept` (passive connections).
    deferred: u8,
    /// The reason of a deferred CLOSED event (1 byte, unlike `Option<Error>`).
    deferred_reason: Option<CloseReason>,
    conn: Connection,
}

impl ConnSlot {
    /// Loads a word of each of the slot's 7 cache lines at once (the
    /// stack's line and the connection's six), on the first access of an
    /// operation: past the caches (100k connections) the misses then
    /// overlap instead of stalling one by one as the code reaches each line.
    #[inline]
    fn warm(&self) {
        core::hint::black_box(self.armed.as_micros() ^ self.conn.line_words());
    }

    /// `user_or_listener` for a connection built with `flags`: the listener
    /// (index, generation) of an unaccepted passive connection, else 0 (no
    /// user data yet).
    fn owner_word(flags: u8, listener: (u32, u32)) -> u64 {
        if flags & F_UNACCEPTED != 0 {
            u64::from(listener.0) << 32 | u64::from(listener.1)
        } else {
            0
        }
    }

    /// Listener (index, generation) of a passive connection not yet accepted.
    fn listener(&self) -> (u32, u32) {
        if self.flags & F_UNACCEPTED != 0 {
            (
                (self.user_or_listener >> 32) as u32,
                self.user_or_listener as u32,
            )
        } else {
            (u32::MAX, 0)
        }
    }

    /// The application's user data (0 until it sets some).
    fn user_data(&self) -> u64 {
        if self.flags & F_UNACCEPTED != 0 {
            0
        } else {
            self.user_or_listener
        }
    }
}

/// An orphan in TIME-WAIT, compacted: its 4-tuple, the TCP record, and
/// its timer entry (`armed`, as for connection slots).
#[derive(Debug)]
struct TwSlot {
    key: FlowKey,
    rec: TimeWait,
    armed: Instant,
}

/// Demux and timer entries with this bit name a [`TwSlot`] (index without
/// the bit), not a connection slot.
const TW_BIT: u32 = 1 << 31;

/// The 4-tuple of a demux entry: a connection slot or a TIME-WAIT record.
fn entry_key(conns: &Slab<ConnSlot, CacheLine>, tw: &Slab<TwSlot>, i: u32) -> Option<FlowKey> {
    if i & TW_BIT != 0 {
        tw.at(i & !TW_BIT).map(|t| t.key)
    } else {
        conns.at(i).map(|s| s.key)
    }
}

#[derive(Debug)]
struct Listener {
    addr: ListenAddr,
    port: u16,
    backlog: u32,
    /// Half-open connections (SYN-RECEIVED) of this listener.
    syn_count: u32,
    accept_queue: VecDeque<u32>,
    pending: u8,
}

/// Most datagrams and bytes a UDP socket queues before dropping.
const UDP_QUEUE_DATAGRAMS: usize = 256;
const UDP_QUEUE_BYTES: usize = 256 * 1024;

#[derive(Debug)]
struct UdpSocket {
    local: SocketAddr,
    queue: VecDeque<(SocketAddr, Vec<u8>)>,
    queued_bytes: usize,
    pending: u8,
}

/// The stack. See the module docs and CONTRACT.md for the loop.
#[derive(Debug)]
pub struct Stack {
    config: Config,
    cfg_v4: ConnConfig,
    cfg_v6: ConnConfig,
    /// What new connections derive from `cfg_v4` / `cfg_v6`, computed once.
    tmpl_v4: ConnTemplate,
    tmpl_v6: ConnTemplate,
    counters: Counters,
    now: Instant,
    addrs: Vec<IpAddr>,
    /// Line-aligned slots: a connection's 448 bytes are exactly 7 lines.
    conns: Slab<ConnSlot, CacheLine>,
    /// Orphans in TIME-WAIT, compacted (see [`TwSlot`]).
    tw: Slab<TwSlot>,
    demux: Demux,
    listeners: Slab<Listener>,
    /// (address or unspecified, port) -> listener; exact addresses win over wildcards.
    listen_map: BTreeMap<(ListenKey, u16), u32>,
    /// Listeners per [`ListenKey`] kind (exact, any IPv4, any): a SYN looks
    /// up only the kinds that exist (one tree search instead of three for
    /// the usual single wildcard listener).
    listen_kinds: [u32; 3],
    udp: Slab<UdpSocket>,
    udp_map: BTreeMap<([u8; 16], u16), u32>,
    isn: IsnGenerator,
    ports: PortAllocator,
    cookies: SynCookies,
    timers: TimerQueue,
    /// Connections whose empty buffers get freed at a deadline, as
    /// (deadline, slot, generation). Deadlines only grow with `now`, so a
    /// FIFO is ordered: O(1) per entry, no heap.
    buffer_release: VecDeque<(Instant, u32, u32)>,
    /// Released in-flight boxes kept for the next connection that needs one.
    inflight_pool: InFlightPool,
    ready: VecDeque<u32>,
    events: EventQueue,
    outgoing: VecDeque<Outgoing>,
    pool: Vec<Vec<u8>>,
    /// Where `poll_transmit_head` writes options other than timestamps only
    /// (SYN, SACK blocks): kept here so the data path initialises nothing.
    tx_options: TcpOptions,
    /// A connection segment that did not fit the caller's buffer, kept for the next call.
    stash: Option<Vec<u8>>,
    frag: Reassembler,
    icmp_limiter: icmp::RateLimiter,
    ip_id: u16,
    /// Slot of the last demux hit: consecutive packets mostly belong to one
    /// flow, so `lookup` compares this slot's key before hashing (set by
    /// `feed_tcp` on each hit).
    last_lookup: u32,
}

/// Listener map key: exact address, any IPv4, or any address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ListenKey {
    Exact([u8; 16]),
    AnyV4,
    Any,
}

impl ListenKey {
    /// Index of the kind in `Stack::listen_kinds`.
    fn kind(&self) -> usize {
        match self {
            ListenKey::Exact(_) => 0,
            ListenKey::AnyV4 => 1,
            ListenKey::Any => 2,
        }
    }
}

/// IP and base TCP header bytes: the payload cap is MTU minus these. The
/// connection's MSS is MTU - IP - 20 and it subtracts the timestamp and SACK
/// option bytes of each segment itself (RFC 6691 §2, RFC 1191 §3).
fn base_headers(v6: bool) -> usize {
    let ip = if v6 { 40 } else { 20 };
    ip + 20
}

fn conn_error(e: ConnError) -> Error {
    match e {
        ConnError::WouldBlock => Error::WouldBlock,
        ConnError::InvalidState => Error::InvalidState,
        ConnError::Closed => Error::Closed,
        ConnError::Reset => Error::Reset,
        ConnError::Refused => Error::Refused,
        ConnError::TimedOut => Error::TimedOut,
    }
}

fn close_reason_error(r: CloseReason) -> Option<Error> {
    match r {
        CloseReason::Orderly => None,
        CloseReason::Refused => Some(Error::Refused),
        CloseReason::Reset => Some(Error::Reset),
        CloseReason::TimedOut => Some(Error::TimedOut),
    }
}

/// A usable unicast address (not unspecified, multicast or IPv4 broadcast,
/// and not IPv4-mapped: RFC 4291 §2.5.5.2 keeps those off the wire, and the
/// demux stores IPv4 flows in that form, so one would alias an IPv4 flow).
fn is_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !a.is_unspecified() && !a.is_multicast() && !a.is_broadcast(),
        IpAddr::V6(a) => !a.is_unspecified() && !a.is_multicast() && a.to_ipv4_mapped().is_none(),
    }
}

/// The stack's tables that per-connection bookkeeping updates (see [`bookkeep`]).
struct Books<'a> {
    now: Instant,
    ready: &'a mut VecDeque<u32>,
    events: &'a mut EventQueue,
    counters: &'a mut Counters,
    inflight_pool: &'a mut InFlightPool,
    buffer_release: &'a mut VecDeque<(Instant, u32, u32)>,
    timers: &'a mut TimerQueue,
}

/// What `bookkeep` found due that needs the whole stack, as bits in one
/// byte: the common answer (none) is a zero the callers test in one
/// instruction, not three flags packed after the fact.
#[derive(Clone, Copy)]
struct StateChange(u8);

impl StateChange {
    const NONE: StateChange = StateChange(0);
    /// A passive open left SYN-RECEIVED: to its listener's accept queue.
    const PROMOTE: u8 = 1;
    /// CLOSED with nothing left to send: reap.
    const FINISHED: u8 = 2;
    /// An orphan in TIME-WAIT with nothing pending: compact.
    const TIME_WAIT: u8 = 4;

    fn any(self) -> bool {
        self.0 != 0
    }

    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// After anything touched the connection in `slot`: collect its events, put
/// it on the ready list (if `requeue`), release its unused box, schedule its
/// buffer release and re-arm its timer. Takes the slot the caller already
/// holds, so a hot path needs no second slab lookup; what needs the whole
/// stack (promotion, reaping, compaction) is returned for
/// `Stack::after_state_change`.
#[inline(always)]
fn bookkeep(
    slot: &mut ConnSlot,
    idx: u32,
    generation: u32,
    requeue: bool,
    b: Books<'_>,
) -> StateChange {
    let now = b.now;
    // Events (out of line: about one call in three has any).
    if slot.conn.has_events() {
        Stack::publish_events(slot, idx, generation, b.events, b.counters);
    }
    // Ready list. The answer also serves the box release below.
    let mut wants = None;
    if requeue && slot.flags & F_READY == 0 {
        let w = slot.conn.wants_transmit();
        wants = Some(w);
        if w {
            slot.flags |= F_READY;
            b.ready.push_back(idx);
        }
    }
    // A box that served only the handshake and holds nothing goes now;
    // otherwise empty buffers (and an empty box) are freed at the next
    // release tick (1-2 s away) if still empty then; a drain in between
    // keeps them.
    slot.conn
        .release_unused_in_flight_into(b.inflight_pool, wants);
    if slot.release_at == u32::MAX && slot.conn.holds_idle_buffers() {
        schedule_buffer_release(slot, idx, generation, now, b.buffer_release);
    }
    // Timer: never at or before now, so handle_timeout always makes
    // progress. Nothing to push unless the earliest deadline is before the
    // armed one (the clamp only moves it later): one compare, mostly.
    let earliest = slot.conn.earliest_deadline();
    if earliest < slot.armed {
        let deadline = earliest.max(now + Duration::from_micros(1));
        let pushed = b
            .timers
            .schedule(idx, generation, Some(deadline), &mut slot.armed);
        b.counters.work_timer_ops += u64::from(pushed);
    }
    // Only a passive open leaving SYN-RECEIVED needs promoting, only a
    // finished (CLOSED) connection reaping, and only an orphan in TIME-WAIT
    // with nothing pending compacting: one test of the slot's flags and
    // state for the common case (none of them), the rest out of line.
    let state = slot.conn.state();
    if slot.flags & (F_SYN_QUEUED | F_ORPHAN) == 0 && state != State::Closed {
        return StateChange::NONE;
    }
    let promote = slot.flags & F_SYN_QUEUED != 0 && state != State::SynReceived;
    let finished = slot.conn.is_finished();
    let time_wait = slot.flags & (F_ORPHAN | F_READY) == F_ORPHAN && state == State::TimeWait;
    StateChange(
        (u8::from(promote) * StateChange::PROMOTE)
            | (u8::from(finished) * StateChange::FINISHED)
            | (u8::from(time_wait) * StateChange::TIME_WAIT),
    )
}

/// A connection's segment through the general emitter: IPv6, options other
/// than timestamps, or a buffer too small (the packet is built into a pooled
/// buffer and stashed). Out of line: the connect/transfer/close cycle and bulk
/// never come here, so the fixed-layout emits stay dense in `transmit_one`.
#[cold]
#[inline(never)]
fn emit_general(
    key: &FlowKey,
    seg: &OutHead<'_>,
    id: u16,
    tx_options: &TcpOptions,
    buf: &mut [u8],
    pool: &mut Vec<Vec<u8>>,
    stash: &mut Option<Vec<u8>>,
) -> Result<usize, Error> {
    let (local, remote) = (key.local(), key.remote());
    let hdr = packet::TcpOut {
        seq: seg.seq.0,
        ack: seg.ack.0,
        flags: seg.flags,
        window: seg.window,
        options: seg.tcp_options(tx_options),
    };
    let needed = packet::tcp_packet_len(key.is_ipv6(), &hdr.options, seg.payload_len());
    if buf.len() >= needed {
        return Ok(packet::emit_tcp(buf, local, remote, id, &hdr, seg.payload));
    }
    let mut p = pool.pop().unwrap_or_default();
    p.clear();
    p.resize(needed, 0);
    packet::emit_tcp(&mut p, local, remote, id, &hdr, seg.payload);
    *stash = Some(p);
    Err(Error::BufferTooSmall { needed })
}

impl Stack {
    /// A stack with `config` (validated: `InvalidArgument` for nonsense).
    pub fn new(config: Config) -> Result<Stack, Error> {
        config.validate()?;
        let (dk0, dk1) = siphash::keys_from(&config.isn_secret, 0);
        let (ik0, ik1) = siphash::keys_from(&config.isn_secret, 1);
        // Distinct keys per use, derived from the one secret.
        let derive = |label: u64| {
            (
                siphash::siphash(ik0, ik1, &label.to_le_bytes()),
                siphash::siphash(ik1, ik0, &label.to_le_bytes()),
            )
        };
        let (pk0, pk1) = derive(1);
        let (ck0, ck1) = derive(2);
        let cfg_v4 = Self::conn_config(&config, 20);
        let cfg_v6 = Self::conn_config(&config, 40);
        Ok(Stack {
            tmpl_v4: ConnTemplate::new(&cfg_v4),
            tmpl_v6: ConnTemplate::new(&cfg_v6),
            cfg_v4,
            cfg_v6,
            counters: Counters::default(),
            now: Instant::ZERO,
            addrs: Vec::new(),
            conns: Slab::new(),
            tw: Slab::new(),
            demux: Demux::new(dk0, dk1),
            listeners: Slab::new(),
            listen_map: BTreeMap::new(),
            listen_kinds: [0; 3],
            udp: Slab::new(),
            udp_map: BTreeMap::new(),
            isn: IsnGenerator::new(ik0, ik1),
            ports: PortAllocator::new(pk0, pk1),
            cookies: SynCookies::new(ck0, ck1),
            timers: TimerQueue::new(),
            buffer_release: VecDeque::new(),
            inflight_pool: InFlightPool::default(),
            ready: VecDeque::new(),
            events: EventQueue::new(),
            outgoing: VecDeque::new(),
            pool: Vec::new(),
            tx_options: TcpOptions::default(),
            stash: None,
            frag: Reassembler::new(FRAG_MAX_DATAGRAMS, FRAG_MAX_BYTES, FRAG_TIMEOUT),
            icmp_limiter: icmp::RateLimiter::new(),
            ip_id: 0,
            last_lookup: 0,
            config,
        })
    }

    /// Per-family connection configuration: MSS = MTU - IP header - 20 (RFC 9293 §3.7.1).
    fn conn_config(config: &Config, ip_header: u32) -> ConnConfig {
        let mss = config
            .mtu
            .saturating_sub(ip_header + 20)
            .min(u32::from(u16::MAX));
        ConnConfig {
            mss: mss as u16,
            send_buffer: config.send_buffer,
            recv_buffer: config.recv_buffer,
            time_wait: config.time_wait,
            fin_wait2_timeout: config.fin_wait2_timeout,
            initial_rto: config.initial_rto,
            min_rto: config.min_rto,
            max_rto: config.max_rto,
            max_retries: config.max_retries,
            delayed_ack: config.delayed_ack,
            initial_cwnd_segments: config.initial_cwnd_segments,
            congestion: config.congestion,
            hystart: config.hystart,
            enable_sack: config.enable_sack,
            enable_timestamps: config.enable_timestamps,
            enable_window_scale: config.enable_window_scale,
            ..ConnConfig::default()
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn touch(&mut self, now: Instant) {
        // The host's clock never goes backwards; ignore it if it does.
        self.now = self.now.max(now);
    }

    /// Adds a local address. The first address of each family is the source for `connect`.
    pub fn add_address(&mut self, ip: IpAddr) -> Result<(), Error> {
        if !is_unicast(ip) || (ip.is_ipv6() && !self.config.ipv6_capable()) {
            return Err(Error::InvalidArgument);
        }
        if self.addrs.contains(&ip) {
            return Ok(());
        }
        if self.addrs.len() >= MAX_ADDRESSES {
            return Err(Error::Limit);
        }
        self.addrs.push(ip);
        Ok(())
    }

    fn is_local(&self, ip: IpAddr) -> bool {
        self.addrs.contains(&ip)
    }

    fn first_address(&self, v6: bool) -> Option<IpAddr> {
        self.addrs.iter().copied().find(|a| a.is_ipv6() == v6)
    }

    fn next_ip_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }

    // ------------------------------------------------------------------
    // Input
    // ------------------------------------------------------------------

    /// Takes one received IP packet. OK for every well-formed packet
    /// addressed to the stack, whatever TCP does with it.
    pub fn feed(&mut self, now: Instant, packet: &[u8]) -> Result<(), PacketError> {
        self.touch(now);
        self.counters.packets_in += 1;
        self.counters.bytes_in += packet.len() as u64;
        // The common IPv4 packet keeps its addresses as 4-byte values: kept
        // in an `IpIn` in memory, they were re-read with wider loads than
        // written (a store-forwarding stall per packet).
        if let Some(v4) = packet::parse_ipv4_plain(packet) {
            return self.feed_ipv4(v4, packet);
        }
        // Read in place: moving the parsed header out of the Result copies
        // it with wide loads of just-written narrow stores (a stall per packet).
        let parsed = packet::parse_ip_general(packet);
        let ip = match &parsed {
            Ok(ip) => ip,
            Err(e) => return Err(self.count_packet_error(*e)),
        };
        let for_us = self.addrs.contains(&ip.dst)
            || (self.config.accept_any_destination
                && is_unicast(ip.dst)
                && ip.proto == packet::PROTO_TCP);
        if !for_us {
            return Err(self.count_packet_error(PacketError::NotForUs));
        }
        if !is_unicast(ip.src) {
            // RFC 1122 §3.2.1.3: a source must be a unicast address.
            return Err(self.count_packet_error(PacketError::Malformed));
        }
        if let Some(f) = ip.frag {
            return self.feed_fragment(ip.src, ip.dst, ip.proto, f, ip.payload);
        }
        self.feed_transport(&ip.src, &ip.dst, ip.proto, ip.payload, packet)
    }

    /// `feed` past an unfragmented IPv4 header without options: the same
    /// checks, in the same order.
    #[inline(always)]
    fn feed_ipv4(&mut self, ip: packet::Ipv4In, packet: &[u8]) -> Result<(), PacketError> {
        let (src, dst) = (IpAddr::V4(ip.src), IpAddr::V4(ip.dst));
        let for_us = self.addrs.contains(&dst)
            || (self.config.accept_any_destination
                && is_unicast(dst)
                && ip.proto == packet::PROTO_TCP);
        if !for_us {
            return Err(self.count_packet_error(PacketError::NotForUs));
        }
        if !is_unicast(src) {
            // RFC 1122 §3.2.1.3: a source must be a unicast address.
            return Err(self.count_packet_error(PacketError::Malformed));
        }
        if ip.proto == packet::PROTO_TCP {
            return self
                .feed_tcp_v4(ip.src, ip.dst, ip.payload)
                .map_err(|e| self.count_packet_error(e));
        }
        self.feed_transport(&src, &dst, ip.proto, ip.payload, packet)
    }

    fn count_packet_error(&mut self, e: PacketError) -> PacketError {
        match e {
            PacketError::Malformed => self.counters.dropped_malformed += 1,
            PacketError::Checksum => self.counters.dropped_checksum += 1,
            PacketError::NotForUs => self.counters.dropped_not_for_us += 1,
        }
        e
    }

    /// RFC 791 §3.2 / RFC 8200 §4.5: hold fragments until the datagram is whole.
    fn feed_fragment(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        proto: u8,
        f: packet::FragInfo,
        payload: &[u8],
    ) -> Result<(), PacketError> {
        self.counters.fragments_in += 1;
        let key = FragKey {
            src: addr16(src),
            dst: addr16(dst),
            id: f.id,
            proto: if dst.is_ipv6() { 0 } else { proto },
            v6: dst.is_ipv6(),
        };
        let outcome = self
            .frag
            .insert(self.now, key, f.offset, f.more, proto, payload);
        self.counters.fragments_evicted = self.frag.evicted;
        match outcome {
            FragOutcome::Stored => Ok(()),
            FragOutcome::Dropped => {
                self.counters.fragments_dropped += 1;
                Ok(())
            }
            FragOutcome::Complete(proto, data) => {
                self.counters.fragments_reassembled += 1;
                // No original packet to quote in ICMP errors: pass the payload alone.
                self.feed_transport(&src, &dst, proto, &data, &[])
            }
        }
    }

    /// Dispatches a whole transport payload. `packet` is the original IP packet
    /// (for ICMP quotes), empty after reassembly.
    /// The addresses are borrowed from the parsed header: copied into
    /// arguments, they are re-read with other widths than written (a
    /// store-forwarding stall per packet).
    fn feed_transport(
        &mut self,
        src: &IpAddr,
        dst: &IpAddr,
        proto: u8,
        payload: &[u8],
        packet: &[u8],
    ) -> Result<(), PacketError> {
        let r = match proto {
            packet::PROTO_TCP => self.feed_tcp(src, dst, payload),
            packet::PROTO_UDP => self.feed_udp(*src, *dst, payload, packet),
            packet::PROTO_ICMP if src.is_ipv4() => self.feed_icmp(*src, *dst, payload),
            packet::PROTO_ICMPV6 if src.is_ipv6() => self.feed_icmp(*src, *dst, payload),
            _ => {
                self.counters.dropped_unknown_protocol += 1;
                Ok(())
            }
        };
        r.map_err(|e| self.count_packet_error(e))
    }

    // ------------------------------------------------------------------
    // Output
    // ------------------------------------------------------------------

    /// Writes one whole IP packet into `buf`; `WouldBlock` when there is none,
    /// `BufferTooSmall { needed }` (packet kept) when `buf` is too small.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Result<usize, Error> {
        self.touch(now);
        // Hosts poll until WouldBlock: answer that without entering the
        // (large) transmit path.
        if self.stash.is_none() && self.outgoing.is_empty() && self.ready.is_empty() {
            return Err(Error::WouldBlock);
        }
        let n = self.transmit_one(buf)?;
        self.counters.packets_out += 1;
        self.counters.bytes_out += n as u64;
        Ok(n)
    }

    #[inline(never)]
    fn transmit_one(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if let Some(p) = self.stash.take() {
            return match buf.get_mut(..p.len()) {
                Some(dst) => {
                    dst.copy_from_slice(&p);
                    let n = p.len();
                    self.recycle(p);
                    Ok(n)
                }
                None => {
                    let needed = p.len();
                    self.stash = Some(p);
                    Err(Error::BufferTooSmall { needed })
                }
            };
        }
        if !self.outgoing.is_empty() {
            if let Some(n) = self.transmit_outgoing(buf)? {
                return Ok(n);
            }
        }
        self.transmit_connection(buf)
    }

    /// Stack-originated packets first: they are few and answer the peer's
    /// packets. Out of line: most polls have none.
    #[inline(never)]
    fn transmit_outgoing(&mut self, buf: &mut [u8]) -> Result<Option<usize>, Error> {
        let Some(front) = self.outgoing.front() else {
            return Ok(None);
        };
        let needed = match front {
            Outgoing::Tcp { key, hdr } => {
                packet::tcp_packet_len(key.local().is_ipv6(), &hdr.options, 0)
            }
            Outgoing::Raw(p) => p.len(),
        };
        if buf.len() < needed {
            return Err(Error::BufferTooSmall { needed });
        }
        let id = self.next_ip_id();
        let n = match self.outgoing.pop_front() {
            Some(Outgoing::Tcp { key, hdr }) => {
                packet::emit_tcp(buf, key.local(), key.remote(), id, &hdr, (&[], &[]))
            }
            Some(Outgoing::Raw(p)) => {
                let n = p.len();
                if let Some(dst) = buf.get_mut(..n) {
                    dst.copy_from_slice(&p);
                }
                self.recycle(p);
                n
            }
            None => return Ok(None),
        };
        Ok(Some(n))
    }

    /// Round robin over the ready list: one segment from the first connection
    /// that has one; it goes to the back if it has more. The entry is popped
    /// only once the outcome is known: a connection alone on the list that
    /// sent data stays where it is (the back of a list of one).
    fn transmit_connection(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        while let Some(&idx) = self.ready.front() {
            let id = self.ip_id.wrapping_add(1);
            let now = self.now;
            let mtu = self.config.mtu as usize;
            // One slab lookup for the whole segment, bookkeeping included.
            let Some((slot, generation)) = self.conns.at_mut_with_generation(idx) else {
                self.ready.pop_front();
                continue;
            };
            slot.flags &= !F_READY;
            self.counters.work_conn_visits += 1;
            // The key stays in the slot (a copy of it costs more than the
            // IPv4 endpoints the fast path needs).
            let v6 = slot.key.is_ipv6();
            let max_payload = mtu.saturating_sub(base_headers(v6));
            // Used in place (see `feed`: moving it out of the Option stalls).
            slot.conn.prefill_in_flight(&mut self.inflight_pool);
            let out = slot
                .conn
                .poll_transmit_head(now, max_payload, &mut self.tx_options);
            let Some(seg) = out.as_ref() else {
                // Nothing after all (window or cwnd closed): leave the ready
                // list until something else touches it, so this loop ends.
                self.ready.pop_front();
                let change = bookkeep(slot, idx, generation, false, books!(self));
                if change.any() {
                    self.after_state_change(idx, change);
                }
                continue;
            };
            let end = seg.seq
                + (seg.payload_len() as u32)
                + u32::from(seg.flags.syn())
                + u32::from(seg.flags.fin());
            let first = seg.flags.syn() && !seg.flags.ack();
            // A FIN ends the new data: nothing follows it but what
            // `wants_transmit` would report (asked below instead of a poll).
            let data_sent = seg.payload_len() > 0 && !seg.flags.fin();
            // IPv4 with timestamps only (nearly every segment): the fields
            // go straight to the fixed-layout emitter, without copying the
            // options into a `TcpOut` (wide loads of fresh narrow stores).
            let fast = match (slot.key.v4_endpoints(), seg.options) {
                (Some((l, r)), OutOptions::Timestamps(val, ecr)) => {
                    let hdr = packet::TcpOutTs {
                        seq: seg.seq.0,
                        ack: seg.ack.0,
                        flags: seg.flags,
                        window: seg.window,
                        ts: packet::TcpOutTs::pack_ts(val, ecr),
                    };
                    packet::emit_tcp_v4_ts(buf, l, r, id, &hdr, seg.payload)
                }
                // A SYN or SYN-ACK (options spilled by `plan_syn`): its
                // fixed-layout emitter, without the general path's copies.
                (Some((l, r)), OutOptions::Spilled) => {
                    let (f, o) = (seg.flags, &self.tx_options);
                    match packet::SynHeader::of(seg.seq.0, seg.ack.0, f, seg.window, o) {
                        Some(h) => packet::emit_tcp_v4_syn(buf, l, r, id, &h, seg.payload),
                        None => None,
                    }
                }
                _ => None,
            };
            let result = match fast {
                Some(n) => Ok(n),
                None => emit_general(
                    &slot.key,
                    seg,
                    id,
                    &self.tx_options,
                    buf,
                    &mut self.pool,
                    &mut self.stash,
                ),
            };
            if seg.flags.rst() {
                self.counters.rst_sent += 1;
            }
            if first || end > slot.snd_max || slot.snd_max == SeqNum(0) {
                slot.snd_max = end;
            }
            self.ip_id = id;
            // After a data segment (without FIN), more is likely (bulk
            // transfer): back on the ready list without asking
            // `wants_transmit`; if nothing is sendable after all, the poll
            // above returns None and drops it from the list. Otherwise the
            // bookkeeping asks (requeue).
            if data_sent {
                slot.flags |= F_READY;
                if self.ready.len() != 1 {
                    self.ready.pop_front();
                    self.ready.push_back(idx);
                }
            } else {
                self.ready.pop_front();
            }
            let change = bookkeep(slot, idx, generation, !data_sent, books!(self));
            if change.any() {
                self.after_state_change(idx, change);
            }
            return result;
        }
        Err(Error::WouldBlock)
    }

    fn recycle(&mut self, p: Vec<u8>) {
        if self.pool.len() < 64 {
            self.pool.push(p);
        }
    }

    /// Queues a stack-originated packet; dropped when the queue is full.
    fn queue_outgoing(&mut self, o: Outgoing) -> bool {
        if self.outgoing.len() >= MAX_OUTGOING {
            if let Outgoing::Raw(p) = o {
                self.recycle(p);
            }
            return false;
        }
        if let Outgoing::Tcp { hdr, .. } = &o {
            if hdr.flags.rst() {
                self.counters.rst_sent += 1;
            }
        }
        self.outgoing.push_back(o);
        true
    }

    /// A pooled buffer of `len` zero bytes.
    fn buffer(&mut self, len: usize) -> Vec<u8> {
        let mut p = self.pool.pop().unwrap_or_default();
        p.clear();
        p.resize(len, 0);
        p
    }

    // ------------------------------------------------------------------
    // Events and timers
    // ------------------------------------------------------------------

    /// The next event, if any. Events naming a handle that was closed since are skipped.
    pub fn poll_event(&mut self) -> Option<Event> {
        while let Some(q) = self.events.pop() {
            let b = events::bit(q.kind);
            let user_data = if let Some((i, g)) = handle::decode(Kind::Conn, q.handle) {
                match self.conns.get_mut(i, g) {
                    Some(s) if s.flags & F_ORPHAN == 0 => {
                        s.pending &= !b;
                        s.user_data()
                    }
                    _ => continue,
                }
            } else if let Some((i, g)) = handle::decode(Kind::Listener, q.handle) {
                match self.listeners.get_mut(i, g) {
                    Some(l) => {
                        l.pending &= !b;
                        0
                    }
                    None => continue,
                }
            } else if let Some((i, g)) = handle::decode(Kind::Udp, q.handle) {
                match self.udp.get_mut(i, g) {
                    Some(u) => {
                        u.pending &= !b;
                        0
                    }
                    None => continue,
                }
            } else {
                continue;
            };
            return Some(Event {
                kind: q.kind,
                handle: q.handle,
                reason: q.reason,
                user_data,
            });
        }
        None
    }

    /// When `handle_timeout` must next be called; None: no timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let release = self.buffer_release.front().map(|e| e.0);
        [
            self.timers.next_deadline(),
            self.frag.next_deadline(),
            release,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs the timers due at `now`; safe to call spuriously. Afterwards
    /// `poll_timeout` is later than `now` (or None).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.touch(now);
        let now = self.now;
        self.frag.expire(now);
        self.counters.fragments_timed_out = self.frag.timed_out;
        self.release_idle_buffers(now);
        while let Some(e) = self.timers.pop_due(now) {
            self.counters.work_timer_ops += 1;
            if e.index & TW_BIT != 0 {
                self.expire_time_wait(e, now);
                continue;
            }
            let Some(slot) = self.conns.get_mut(e.index, e.generation) else {
                continue;
            };
            if slot.armed != e.deadline {
                continue; // superseded by an earlier deadline that already ran
            }
            slot.armed = Instant::MAX;
            self.counters.work_conn_visits += 1;
            if slot.conn.poll_timeout().is_some_and(|d| d <= now) {
                if !matches!(slot.conn.state(), State::Closed | State::TimeWait) {
                    slot.conn.prefill_in_flight(&mut self.inflight_pool);
                }
                slot.conn.handle_timeout(now);
            }
            self.after(e.index);
        }
    }

    /// Frees the buffers of connections whose release deadline passed, if
    /// they are still empty (a drain in between keeps them; the next drain
    /// queues them again).
    fn release_idle_buffers(&mut self, now: Instant) {
        while let Some(&(deadline, idx, generation)) = self.buffer_release.front() {
            if deadline > now {
                break;
            }
            self.buffer_release.pop_front();
            if let Some(slot) = self.conns.get_mut(idx, generation) {
                if slot.release_at == release_tick(deadline) {
                    slot.release_at = u32::MAX;
                    slot.conn.release_idle_buffers_into(&mut self.inflight_pool);
                }
            }
        }
        if self.buffer_release.is_empty() {
            // Every connection has released its buffers: the pool gives
            // back what they left in it, so an idle stack holds no rings.
            self.inflight_pool.trim_idle();
            if self.buffer_release.capacity() > 64 {
                // Give back the burst's capacity (idle stacks hold little).
                self.buffer_release = VecDeque::new();
            }
        }
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Heap bytes the stack's own tables use (slabs, demux, timer heap), for memory accounting.
    pub fn table_heap_bytes(&self) -> usize {
        self.conns.heap_bytes()
            + self.tw.heap_bytes()
            + self.demux.heap_bytes()
            + self.timers.heap_bytes()
            + self.buffer_release.capacity() * core::mem::size_of::<(Instant, u32, u32)>()
            + self.inflight_pool.heap_bytes()
    }

    // ------------------------------------------------------------------
    // Per-connection bookkeeping
    // ------------------------------------------------------------------

    fn conn_handle(&self, idx: u32) -> u64 {
        handle::encode(Kind::Conn, idx, self.conns.generation(idx).unwrap_or(0))
    }

    /// After anything touched connection `idx`: collect its events, promote a
    /// completed passive open to the accept queue, put it on the ready list,
    /// re-arm its timer, and free it when it is finished and nobody holds it.
    fn after(&mut self, idx: u32) {
        self.after_inner(idx, true);
    }

    fn after_inner(&mut self, idx: u32, requeue: bool) {
        // One slab lookup for everything below (this runs per packet and per command).
        let Some((slot, generation)) = self.conns.at_mut_with_generation(idx) else {
            return;
        };
        let change = bookkeep(slot, idx, generation, requeue, books!(self));
        if change.any() {
            self.after_state_change(idx, change);
        }
    }

    /// Moves a connection's new events to the stack's queue (or holds them
    /// until accept, or drops them for an orphan).
    #[inline(never)]
    fn publish_events(
        slot: &mut ConnSlot,
        idx: u32,
        generation: u32,
        events: &mut EventQueue,
        counters: &mut Counters,
    ) {
        let bits = slot.conn.take_event_bits();
        // What CONNECTED and CLOSED record whoever holds the handle.
        if bits & EV_CONNECTED != 0 && slot.flags & F_OPENED == 0 {
            slot.flags |= F_OPENED;
            counters.connections_opened += 1;
        }
        let mut reason = None;
        if bits & EV_CLOSED != 0 {
            let r = slot.conn.closed_event_reason();
            slot.deferred_reason = Some(r);
            reason = close_reason_error(r);
        }
        if slot.flags & F_ORPHAN != 0 {
            return; // nobody to tell
        }
        let handle = handle::encode(Kind::Conn, idx, generation);
        // Each pending bit, lowest (first to report) first, its kind from a
        // table: no branch per kind.
        let mut rest = bits;
        while rest != 0 {
            let at = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            let Some(&kind) = CONN_EVENT_KINDS.get(at) else {
                continue;
            };
            if slot.flags & F_UNACCEPTED != 0 {
                // CONNECTED is for active opens only; the rest waits for accept.
                if kind != EventKind::Connected {
                    slot.deferred |= events::bit(kind);
                }
                continue;
            }
            let reason = if kind == EventKind::Closed {
                reason
            } else {
                None
            };
            events.push(&mut slot.pending, kind, handle, reason);
        }
    }

    /// The promotion, reaping or compaction `after_inner` found due.
    #[inline(never)]
    fn after_state_change(&mut self, idx: u32, change: StateChange) {
        let promote = change.has(StateChange::PROMOTE);
        let finished = change.has(StateChange::FINISHED);
        let time_wait = change.has(StateChange::TIME_WAIT);
        if promote {
            self.promote_passive(idx);
            self.reap_if_finished(idx);
        } else if finished {
            self.reap_if_finished(idx);
        }
        if time_wait && !finished {
            self.compact_time_wait(idx);
        }
    }

    /// Connections in every state, TIME-WAIT records included (`max_connections` counts them all).
    fn conn_count(&self) -> usize {
        self.conns.len() + self.tw.len()
    }

    /// An orphan in TIME-WAIT with nothing left to send or report shrinks to
    /// a [`TimeWait`] record under the same demux key, reaped by the timer
    /// heap at 2×MSL. A segment for it rebuilds the connection
    /// ([`Stack::revive_time_wait`]), so RFC 9293's TIME-WAIT rules still
    /// apply in one place.
    fn compact_time_wait(&mut self, idx: u32) {
        let Some(slot) = self.conns.at(idx) else {
            return;
        };
        if slot.flags & F_ORPHAN == 0 || slot.flags & F_READY != 0 {
            return;
        }
        let Some(rec) = slot.conn.time_wait_record() else {
            return;
        };
        let key = slot.key;
        let Some((ti, tg)) = self.tw.insert(TwSlot {
            key,
            rec,
            armed: Instant::MAX,
        }) else {
            return;
        };
        if ti & TW_BIT != 0 {
            self.tw.remove(ti);
            return;
        }
        if let Some(slot) = self.conns.at_mut(idx) {
            slot.conn.recycle_in_flight(&mut self.inflight_pool);
        }
        self.conns.discard(idx);
        self.demux.replace(&key, idx, ti | TW_BIT);
        self.counters.time_wait_active = self.tw.len() as u64;
        if let Some(t) = self.tw.at_mut(ti) {
            let pushed = self
                .timers
                .schedule(ti | TW_BIT, tg, Some(rec.expiry()), &mut t.armed);
            self.counters.work_timer_ops += u64::from(pushed);
        }
    }

    /// A segment arrived for a TIME-WAIT record: rebuild the orphan
    /// connection in a slot (same demux key) and return its index.
    fn revive_time_wait(&mut self, ti: u32) -> Option<u32> {
        let t = self.tw.at(ti)?;
        let (key, rec) = (t.key, t.rec);
        let cfg = if key.is_ipv6() {
            &self.cfg_v6
        } else {
            &self.cfg_v4
        };
        let slot = ConnSlot {
            conn: Connection::from_time_wait(cfg, &rec, self.now),
            key,
            user_or_listener: 0,
            armed: Instant::MAX,
            release_at: u32::MAX,
            pending: 0,
            deferred: 0,
            flags: F_ORPHAN | F_OPENED,
            deferred_reason: None,
            snd_max: SeqNum(0),
        };
        let (idx, _) = self.conns.insert(slot)?;
        if idx & TW_BIT != 0 {
            self.conns.remove(idx);
            return None;
        }
        self.tw.remove(ti);
        self.demux.replace(&key, ti | TW_BIT, idx);
        self.counters.time_wait_active = self.tw.len() as u64;
        Some(idx)
    }

    /// A TIME-WAIT record's timer: 2×MSL is over, free it (RFC 9293 §3.10.7.4).
    fn expire_time_wait(&mut self, e: timer::Entry, now: Instant) {
        let ti = e.index & !TW_BIT;
        let Some(t) = self.tw.get_mut(ti, e.generation) else {
            return;
        };
        if t.armed != e.deadline {
            return;
        }
        t.armed = Instant::MAX;
        if t.rec.expiry() > now {
            let deadline = t.rec.expiry();
            let pushed = self
                .timers
                .schedule(e.index, e.generation, Some(deadline), &mut t.armed);
            self.counters.work_timer_ops += u64::from(pushed);
            return;
        }
        let Some(t) = self.tw.remove(ti) else {
            return;
        };
        self.demux.remove(&t.key, e.index);
        self.counters.time_wait_active = self.tw.len() as u64;
        self.counters.work_conn_visits += 1;
        self.counters.connections_closed += 1;
        self.counters.connections_active = self.conn_count() as u64;
        self.counters.orphans_reaped += 1;
        self.counters.orphans_active = self.counters.orphans_active.saturating_sub(1);
    }

    /// A passive connection that left SYN-RECEIVED joins its listener's accept
    /// queue (ACCEPTABLE when the queue was empty), or is reset if the queue is
    /// full or the listener is gone.
    fn promote_passive(&mut self, idx: u32) {
        let Some(slot) = self.conns.at_mut(idx) else {
            return;
        };
        if slot.flags & F_SYN_QUEUED == 0 || slot.conn.state() == State::SynReceived {
            return;
        }
        slot.flags &= !F_SYN_QUEUED;
        let (li, lg) = slot.listener();
        let finished = slot.conn.state() == State::Closed;
        if slot.flags & F_OPENED == 0 && !finished {
            slot.flags |= F_OPENED;
            self.counters.connections_opened += 1;
        }
        let lhandle = handle::encode(Kind::Listener, li, lg);
        match self.listeners.get_mut(li, lg) {
            Some(l) => {
                l.syn_count = l.syn_count.saturating_sub(1);
                if finished {
                    // Reset or timed out during the handshake: never shown to the application.
                    self.mark_orphan(idx);
                    return;
                }
                if l.accept_queue.len() >= l.backlog as usize {
                    self.counters.dropped_listen_overflow += 1;
                    self.orphan_abort(idx);
                    return;
                }
                let was_empty = l.accept_queue.is_empty();
                l.accept_queue.push_back(idx);
                if was_empty {
                    self.events
                        .push(&mut l.pending, EventKind::Acceptable, lhandle, None);
                }
                if let Some(s) = self.conns.at_mut(idx) {
                    s.flags |= F_IN_ACCEPT_QUEUE;
                }
            }
            None => self.orphan_abort(idx),
        }
    }

    /// Abort a connection nobody will ever accept; the stack sends the RST and frees it.
    fn orphan_abort(&mut self, idx: u32) {
        let now = self.now;
        self.mark_orphan(idx);
        if let Some(s) = self.conns.at_mut(idx) {
            s.flags &= !(F_IN_ACCEPT_QUEUE | F_SYN_QUEUED);
            s.conn.abort(now);
            if s.flags & F_READY == 0 && s.conn.wants_transmit() {
                s.flags |= F_READY;
                self.ready.push_back(idx);
            }
        }
        self.reap_if_finished(idx);
    }

    /// The application (or the listener) let go of the connection: its handle
    /// is invalid and the stack finishes it alone.
    fn mark_orphan(&mut self, idx: u32) {
        if let Some(s) = self.conns.at_mut(idx) {
            if s.flags & F_ORPHAN == 0 {
                s.flags |= F_ORPHAN;
                self.counters.orphans_active += 1;
            }
        }
    }

    /// Frees a finished connection unless the application still holds its
    /// handle (it stays valid after CLOSED until close/abort).
    fn reap_if_finished(&mut self, idx: u32) {
        let Some(slot) = self.conns.at(idx) else {
            return;
        };
        if !slot.conn.is_finished() {
            return;
        }
        let held = slot.flags & F_ORPHAN == 0
            && (slot.flags & (F_UNACCEPTED | F_IN_ACCEPT_QUEUE)) != F_UNACCEPTED;
        if held {
            return;
        }
        self.free_slot(idx);
    }

    fn free_slot(&mut self, idx: u32) {
        let Some((key, flags, listener)) =
            self.conns.at(idx).map(|s| (s.key, s.flags, s.listener()))
        else {
            return;
        };
        if let Some(slot) = self.conns.at_mut(idx) {
            slot.conn.recycle_in_flight(&mut self.inflight_pool);
        }
        self.conns.discard(idx);
        if flags & F_SYN_QUEUED != 0 {
            if let Some(l) = self.listeners.get_mut(listener.0, listener.1) {
                l.syn_count = l.syn_count.saturating_sub(1);
            }
        }
        self.demux.remove(&key, idx);
        self.counters.connections_closed += 1;
        self.counters.connections_active = self.conn_count() as u64;
        if flags & F_ORPHAN != 0 {
            self.counters.orphans_reaped += 1;
            self.counters.orphans_active = self.counters.orphans_active.saturating_sub(1);
        }
    }

    /// Inserts a new connection; `Error::Limit` at `max_connections`.
    /// Inlined so the connection is built where the slab stores it instead
    /// of being copied there (it is large).
    #[inline(always)]
    fn insert_conn(
        &mut self,
        conn: Connection,
        key: FlowKey,
        flags: u8,
        listener: (u32, u32),
    ) -> Result<u32, Error> {
        if self.conn_count() >= self.config.max_connections as usize {
            return Err(Error::Limit);
        }
        let slot = ConnSlot {
            conn,
            key,
            user_or_listener: ConnSlot::owner_word(flags, listener),
            armed: Instant::MAX,
            release_at: u32::MAX,
            pending: 0,
            deferred: 0,
            flags,
            deferred_reason: None,
            snd_max: SeqNum(0),
        };
        let (idx, _) = self.conns.insert(slot).ok_or(Error::Limit)?;
        if idx & TW_BIT != 0 {
            self.conns.remove(idx);
            return Err(Error::Limit);
        }
        let (conns, tw) = (&self.conns, &self.tw);
        if !self.demux.insert(key, idx, |i| entry_key(conns, tw, i)) {
            self.conns.remove(idx);
            return Err(Error::AddrInUse);
        }
        self.counters.connections_active = self.conn_count() as u64;
        Ok(idx)
    }

    /// Demux: the slot of a 4-tuple.
    /// A connection slot, or a TIME-WAIT record (index with [`TW_BIT`]).
    /// A live connection slot's key is in the demux table (and keys are
    /// unique there), so the last hit's slot, if its key matches, is the answer.
    fn lookup(&mut self, key: &FlowKey) -> Option<u32> {
        let last = self.last_lookup;
        if self.conns.at(last).is_some_and(|s| s.key == *key) {
            return Some(last);
        }
        let (conns, tw) = (&self.conns, &self.tw);
        self.demux.get(key, |i| match conns.at(i) {
            // A connection's lines are loaded with its key, not after the
            // comparison (one DRAM round trip fewer when slots are cold).
            Some(s) if i & TW_BIT == 0 => {
                s.warm();
                Some(s.key)
            }
            _ => entry_key(conns, tw, i),
        })
    }

    /// The slot of an application-held connection handle.
    fn slot_index(&self, c: ConnHandle) -> Result<u32, Error> {
        let (i, g) = handle::decode(Kind::Conn, c.raw()).ok_or(Error::InvalidHandle)?;
        match self.conns.get(i, g) {
            Some(s) if s.flags & (F_ORPHAN | F_UNACCEPTED) == 0 => Ok(i),
            _ => Err(Error::InvalidHandle),
        }
    }

    /// [`Stack::slot_index`] that also loads all of the slot's lines: for
    /// `send`, which with a segment's arrival is what first reaches a
    /// connection after it sat idle (other commands follow one of them).
    fn slot_index_warm(&self, c: ConnHandle) -> Result<u32, Error> {
        let (i, g) = handle::decode(Kind::Conn, c.raw()).ok_or(Error::InvalidHandle)?;
        match self.conns.get(i, g) {
            Some(s) if s.flags & (F_ORPHAN | F_UNACCEPTED) == 0 => {
                s.warm();
                Ok(i)
            }
            _ => Err(Error::InvalidHandle),
        }
    }

    fn slot(&self, c: ConnHandle) -> Result<&ConnSlot, Error> {
        let i = self.slot_index(c)?;
        self.conns.at(i).ok_or(Error::InvalidHandle)
    }

    /// Runs `f` on an application-held connection, then does the bookkeeping.
    fn with_conn<R>(
        &mut self,
        c: ConnHandle,
        f: impl FnOnce(&mut ConnSlot, Instant) -> R,
    ) -> Result<R, Error> {
        let i = self.slot_index(c)?;
        let now = self.now;
        let slot = self.conns.at_mut(i).ok_or(Error::InvalidHandle)?;
        self.counters.work_conn_visits += 1;
        let r = f(slot, now);
        self.after(i);
        Ok(r)
    }

    // ------------------------------------------------------------------
    // Commands
    // ------------------------------------------------------------------

    /// Listens on `addr`:`port`. `backlog` (accept queue) is clamped to 1..=65535.
    /// Port 0 is allowed only in `accept_any_destination` mode (any port).
    pub fn listen(
        &mut self,
        addr: ListenAddr,
        port: u16,
        backlog: u32,
    ) -> Result<ListenerHandle, Error> {
        let key = match addr {
            ListenAddr::Any => ListenKey::Any,
            ListenAddr::AnyV4 => ListenKey::AnyV4,
            ListenAddr::Exact(ip) => {
                if !is_unicast(ip) {
                    return Err(Error::InvalidArgument);
                }
                if !self.is_local(ip) && !self.config.accept_any_destination {
                    return Err(Error::AddrNotAvailable);
                }
                ListenKey::Exact(addr16(ip))
            }
        };
        let wildcard = !matches!(key, ListenKey::Exact(_));
        if port == 0 && !(wildcard && self.config.accept_any_destination) {
            return Err(Error::InvalidArgument);
        }
        if self.listen_map.contains_key(&(key, port)) {
            return Err(Error::AddrInUse);
        }
        let l = Listener {
            addr,
            port,
            backlog: backlog.clamp(1, config::MAX_BACKLOG),
            syn_count: 0,
            accept_queue: VecDeque::new(),
            pending: 0,
        };
        let (i, g) = self.listeners.insert(l).ok_or(Error::Limit)?;
        self.listen_map.insert((key, port), i);
        if let Some(n) = self.listen_kinds.get_mut(key.kind()) {
            *n += 1;
        }
        Ok(ListenerHandle(handle::encode(Kind::Listener, i, g)))
    }

    /// The listener for a SYN to `dst`:`port`: exact address first, then any
    /// IPv4 (for IPv4), then any; in tun2socks mode also port-0 wildcards.
    fn find_listener(&self, dst: IpAddr, port: u16) -> Option<u32> {
        let exact = ListenKey::Exact(addr16(dst));
        let any_v4 = dst.is_ipv4().then_some(ListenKey::AnyV4);
        let port0 = if self.config.accept_any_destination {
            Some(0)
        } else {
            None
        };
        let candidates = [
            Some((exact, port)),
            any_v4.map(|k| (k, port)),
            Some((ListenKey::Any, port)),
            any_v4.zip(port0),
            port0.map(|p| (ListenKey::Any, p)),
        ];
        candidates
            .into_iter()
            .flatten()
            .filter(|(k, _)| self.listen_kinds.get(k.kind()).is_some_and(|&n| n > 0))
            .find_map(|k| self.listen_map.get(&k).copied())
    }

    /// Takes the oldest established connection from the accept queue.
    pub fn accept(&mut self, l: ListenerHandle) -> Result<ConnHandle, Error> {
        let (li, lg) = handle::decode(Kind::Listener, l.raw()).ok_or(Error::InvalidHandle)?;
        let listener = self.listeners.get_mut(li, lg).ok_or(Error::InvalidHandle)?;
        let idx = listener.accept_queue.pop_front().ok_or(Error::WouldBlock)?;
        let handle = self.conn_handle(idx);
        let slot = self.conns.at_mut(idx).ok_or(Error::InvalidState)?;
        slot.flags &= !(F_UNACCEPTED | F_IN_ACCEPT_QUEUE);
        slot.user_or_listener = 0;
        let deferred = core::mem::take(&mut slot.deferred);
        for kind in [
            EventKind::Readable,
            EventKind::Writable,
            EventKind::PeerClosed,
            EventKind::Closed,
        ] {
            if deferred & events::bit(kind) != 0 {
                let reason = if kind == EventKind::Closed {
                    slot.deferred_reason.and_then(close_reason_error)
                } else {
                    None
                };
                self.events.push(&mut slot.pending, kind, handle, reason);
            }
        }
        self.counters.work_conn_visits += 1;
        Ok(ConnHandle(handle))
    }

    /// Closes a listener; connections still in its accept queue are refused (RST).
    pub fn listener_close(&mut self, l: ListenerHandle) -> Result<(), Error> {
        let (li, lg) = handle::decode(Kind::Listener, l.raw()).ok_or(Error::InvalidHandle)?;
        let listener = self.listeners.get(li, lg).ok_or(Error::InvalidHandle)?;
        let key = match listener.addr {
            ListenAddr::Any => ListenKey::Any,
            ListenAddr::AnyV4 => ListenKey::AnyV4,
            ListenAddr::Exact(ip) => ListenKey::Exact(addr16(ip)),
        };
        if self.listen_map.remove(&(key, listener.port)).is_some() {
            if let Some(n) = self.listen_kinds.get_mut(key.kind()) {
                *n = n.saturating_sub(1);
            }
        }
        let Some(listener) = self.listeners.remove(li) else {
            return Err(Error::InvalidHandle);
        };
        for idx in listener.accept_queue {
            self.orphan_abort(idx);
        }
        // Half-open connections of this listener are reset when their handshake
        // completes (promote_passive finds the listener gone).
        Ok(())
    }

    /// Opens a connection to `remote` from the first local address of its
    /// family; `local_port` 0 picks an ephemeral port (RFC 6056).
    pub fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local_port: u16,
    ) -> Result<ConnHandle, Error> {
        self.touch(now);
        let ip = self
            .first_address(remote.is_ipv6())
            .ok_or(Error::AddrNotAvailable)?;
        self.open(SocketAddr::new(ip, local_port), remote)
    }

    /// Opens a connection naming both ends (port 0 in `local`: ephemeral).
    pub fn connect_from(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<ConnHandle, Error> {
        self.touch(now);
        if local.is_ipv6() != remote.is_ipv6() || !is_unicast(local.ip()) {
            return Err(Error::InvalidArgument);
        }
        if !self.is_local(local.ip()) && !self.config.accept_any_destination {
            return Err(Error::AddrNotAvailable);
        }
        self.open(local, remote)
    }

    /// RFC 9293 §3.10.1 OPEN (active): ISN per RFC 6528, SYN via poll_transmit.
    fn open(&mut self, local: SocketAddr, remote: SocketAddr) -> Result<ConnHandle, Error> {
        if !is_unicast(remote.ip()) || remote.port() == 0 {
            return Err(Error::InvalidArgument);
        }
        if self.conn_count() >= self.config.max_connections as usize {
            return Err(Error::Limit);
        }
        let mut local = local;
        if local.port() == 0 {
            // The probe that finds the port free is the lookup of its 4-tuple.
            let demux = &mut self.demux;
            let (conns, tw) = (&self.conns, &self.tw);
            let probes = &mut self.counters.work_hash_lookups;
            let port = self.ports.pick(local.ip(), Some(remote), |p| {
                *probes += 1;
                let k = FlowKey::new(SocketAddr::new(local.ip(), p), remote);
                demux.get(&k, |i| entry_key(conns, tw, i)).is_some()
            })?;
            local.set_port(port);
        } else {
            self.counters.work_hash_lookups += 1;
            if self.lookup(&FlowKey::new(local, remote)).is_some() {
                return Err(Error::AddrInUse);
            }
        }
        let key = FlowKey::new(local, remote);
        let iss = self.isn.isn(self.now, &key);
        let tmpl = if remote.is_ipv6() {
            &self.tmpl_v6
        } else {
            &self.tmpl_v4
        };
        let conn = Connection::connect_with(tmpl, iss, self.now);
        let idx = self.insert_conn(conn, key, 0, (u32::MAX, 0))?;
        self.after(idx);
        Ok(ConnHandle(self.conn_handle(idx)))
    }

    /// Queues data; OK with at least one byte, or WouldBlock (then WRITABLE follows).
    pub fn send(&mut self, c: ConnHandle, data: &[u8]) -> Result<usize, Error> {
        let i = self.slot_index_warm(c)?;
        let slot = self.conns.at_mut(i).ok_or(Error::InvalidHandle)?;
        self.counters.work_conn_visits += 1;
        let r = slot.conn.send_pooled(data, &mut self.inflight_pool);
        self.after(i);
        r.map_err(conn_error)
    }

    /// Reads data; OK(0) only at end of stream. A zero-length buffer is InvalidArgument.
    pub fn recv(&mut self, c: ConnHandle, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            self.slot_index(c)?;
            return Err(Error::InvalidArgument);
        }
        let i = self.slot_index(c)?;
        let slot = self.conns.at_mut(i).ok_or(Error::InvalidHandle)?;
        self.counters.work_conn_visits += 1;
        let r = slot.conn.recv(buf);
        // A read that moved no bytes (end of stream, WouldBlock, an error)
        // changed nothing the bookkeeping looks at: no event, no window
        // update, no timer. Hosts read until then, so it is skipped.
        if matches!(r, Ok(n) if n > 0) {
            self.after(i);
        }
        r.map_err(conn_error)
    }

    /// Sends FIN after the queued data; `send` then returns Closed.
    pub fn shutdown(&mut self, c: ConnHandle) -> Result<(), Error> {
        self.with_conn(c, |s, now| s.conn.shutdown(now))?
            .map_err(conn_error)
    }

    /// Closes the handle: the stack finishes the FIN exchange and TIME-WAIT on
    /// its own (unread data: RST, RFC 2525). OK also on an ended connection.
    pub fn close(&mut self, c: ConnHandle) -> Result<(), Error> {
        self.release(c, false)
    }

    /// Aborts: RST if synchronized, and the handle becomes invalid.
    pub fn abort(&mut self, c: ConnHandle) -> Result<(), Error> {
        self.release(c, true)
    }

    fn release(&mut self, c: ConnHandle, abort: bool) -> Result<(), Error> {
        let i = self.slot_index(c)?;
        let now = self.now;
        let orphans_full = self.counters.orphans_active >= u64::from(self.config.max_orphans);
        if let Some(s) = self.conns.at_mut(i) {
            // Orphan cap (Linux tcp_max_orphans): a close that would leave one
            // more connection finishing on its own aborts instead.
            let capped = !abort && orphans_full && s.conn.state() != State::Closed;
            if capped {
                self.counters.orphans_aborted += 1;
            }
            if abort || capped {
                s.conn.abort(now);
            } else {
                s.conn.close(now);
            }
            self.counters.work_conn_visits += 1;
        }
        self.mark_orphan(i);
        self.after(i);
        Ok(())
    }

    pub fn state(&self, c: ConnHandle) -> Result<State, Error> {
        Ok(self.slot(c)?.conn.state())
    }

    pub fn info(&self, c: ConnHandle) -> Result<ConnInfo, Error> {
        let s = self.slot(c)?;
        Ok(ConnInfo {
            local: s.key.local(),
            remote: s.key.remote(),
            tcp: s.conn.info(),
        })
    }

    /// The local end; in tun2socks mode, the original destination.
    pub fn local_endpoint(&self, c: ConnHandle) -> Result<SocketAddr, Error> {
        Ok(self.slot(c)?.key.local())
    }

    pub fn remote_endpoint(&self, c: ConnHandle) -> Result<SocketAddr, Error> {
        Ok(self.slot(c)?.key.remote())
    }

    /// Sets a per-connection option; unknown values are InvalidArgument.
    pub fn set_option(&mut self, c: ConnHandle, opt: ConnOption, value: u64) -> Result<(), Error> {
        let to_u32 = |v: u64| u32::try_from(v).map_err(|_| Error::InvalidArgument);
        let buffer = |v: u64| {
            let v = u32::try_from(v).unwrap_or(u32::MAX);
            if v == 0 {
                Err(Error::InvalidArgument)
            } else {
                Ok(v.clamp(config::MIN_BUFFER, config::MAX_BUFFER))
            }
        };
        let us = Duration::from_micros;
        let checked: Result<(), Error> = match opt {
            ConnOption::Congestion if value != 1 && value != 2 => Err(Error::InvalidArgument),
            ConnOption::KeepAliveCount => to_u32(value).map(|_| ()),
            ConnOption::SendBuffer | ConnOption::RecvBuffer => buffer(value).map(|_| ()),
            _ => Ok(()),
        };
        checked?;
        self.with_conn(c, |s, now| match opt {
            ConnOption::NoDelay => s.conn.set_nodelay(value != 0),
            ConnOption::KeepAliveIdleUs => {
                let (_, iv, n) = s.conn.keepalive();
                s.conn.set_keepalive(now, us(value), iv, n);
            }
            ConnOption::KeepAliveIntervalUs => {
                let (idle, _, n) = s.conn.keepalive();
                s.conn.set_keepalive(now, idle, us(value), n);
            }
            ConnOption::KeepAliveCount => {
                let (idle, iv, _) = s.conn.keepalive();
                s.conn
                    .set_keepalive(now, idle, iv, u32::try_from(value).unwrap_or(u32::MAX));
            }
            ConnOption::UserTimeoutUs => s.conn.set_user_timeout(us(value)),
            ConnOption::SendBuffer => s
                .conn
                .set_send_buffer(buffer(value).unwrap_or(config::MIN_BUFFER)),
            ConnOption::RecvBuffer => s
                .conn
                .set_recv_buffer(buffer(value).unwrap_or(config::MIN_BUFFER)),
            ConnOption::Congestion => s.conn.set_congestion(if value == 1 {
                Congestion::NewReno
            } else {
                Congestion::Cubic
            }),
            ConnOption::UserData => s.user_or_listener = value,
        })
    }

    pub fn get_option(&self, c: ConnHandle, opt: ConnOption) -> Result<u64, Error> {
        let s = self.slot(c)?;
        let conn = &s.conn;
        Ok(match opt {
            ConnOption::NoDelay => u64::from(conn.nodelay()),
            ConnOption::KeepAliveIdleUs => conn.keepalive().0.as_micros(),
            ConnOption::KeepAliveIntervalUs => conn.keepalive().1.as_micros(),
            ConnOption::KeepAliveCount => u64::from(conn.keepalive().2),
            ConnOption::UserTimeoutUs => conn.user_timeout().as_micros(),
            ConnOption::SendBuffer => u64::from(conn.send_buffer()),
            ConnOption::RecvBuffer => u64::from(conn.recv_buffer()),
            ConnOption::Congestion => match conn.congestion() {
                Congestion::NewReno => 1,
                Congestion::Cubic => 2,
            },
            ConnOption::UserData => s.user_data(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `publish_events` reads each connection event's kind from its bit
    /// position: every `EV_` bit maps to its own kind, nothing else does.
    #[test]
    fn each_connection_event_bit_names_its_kind() {
        use crate::tcp::connection::{EV_PEER_CLOSED, EV_READABLE, EV_WRITABLE};
        let pairs = [
            (EV_CONNECTED, EventKind::Connected),
            (EV_READABLE, EventKind::Readable),
            (EV_WRITABLE, EventKind::Writable),
            (EV_PEER_CLOSED, EventKind::PeerClosed),
            (EV_CLOSED, EventKind::Closed),
        ];
        for (bit, kind) in pairs {
            assert_eq!(bit.count_ones(), 1);
            let at = bit.trailing_zeros() as usize;
            assert_eq!(CONN_EVENT_KINDS.get(at), Some(&kind), "bit {bit}");
        }
        assert_eq!(CONN_EVENT_KINDS.len(), pairs.len());
    }

    #[test]
    fn buffer_release_waits_at_least_the_idle_time_on_a_shared_grid() {
        let unit = BUFFER_IDLE_RELEASE.as_micros();
        for now in [0, 1, unit - 1, unit, unit + 1, 7 * unit + unit / 3] {
            let at = buffer_release_deadline(Instant::from_micros(now)).as_micros();
            assert!(at >= now + unit, "{now} -> {at}");
            assert!(at < now + 2 * unit, "{now} -> {at}");
            assert_eq!(at % unit, 0);
        }
    }

    /// A segment reads the stack's per-slot fields and the connection's hot
    /// fields: they form one range at the front of the slot, and what only a
    /// passive connection before `accept` reads, plus the connection's cold
    /// tail, come after it.
    #[test]
    fn slot_hot_fields_come_first() {
        use core::mem::{offset_of, size_of};
        for hot in [
            offset_of!(ConnSlot, armed),
            offset_of!(ConnSlot, key),
            offset_of!(ConnSlot, release_at),
            offset_of!(ConnSlot, pending),
            offset_of!(ConnSlot, flags),
        ] {
            assert!(hot < offset_of!(ConnSlot, conn), "{hot}");
        }
        assert_eq!(
            size_of::<ConnSlot>(),
            offset_of!(ConnSlot, conn) + size_of::<Connection>()
        );
        // 7 whole cache lines, line-aligned (see `handle::Slot`).
        assert!(
            handle::slot_size::<ConnSlot, CacheLine>() <= 448,
            "slot grew"
        );
        assert_eq!(handle::slot_size::<ConnSlot, CacheLine>() % 64, 0);
    }

    /// What the stack keeps beside each connection stays small.
    #[test]
    fn slot_overhead_beside_the_connection_is_small() {
        let extra = core::mem::size_of::<ConnSlot>() - core::mem::size_of::<Connection>();
        extern crate std;
        std::println!(
            "size_of ConnSlot {} Connection {} slab slot {}",
            core::mem::size_of::<ConnSlot>(),
            core::mem::size_of::<Connection>(),
            handle::slot_size::<ConnSlot, CacheLine>()
        );
        assert!(extra <= 80, "ConnSlot adds {extra} bytes");
        let slab_slot = core::mem::size_of::<handle::Slab<ConnSlot, CacheLine>>();
        assert!(slab_slot < 64);
    }
}
