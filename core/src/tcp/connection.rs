//! One TCP connection: state, the application-facing API, events and timers.
//!
//! Segment arrival is in `input.rs`, segment emission in `output.rs`, loss
//! recovery in `recovery.rs`; they are `impl Connection` blocks on this struct.

use crate::tcp::cc::{Congestion, CongestionControl, Controller};
use crate::tcp::inflight::{InFlightBox, InFlightPool};
use crate::tcp::options::{self, Negotiated, Offer};
use crate::tcp::rtt::RttEstimator;
use crate::tcp::state::State;
use crate::tcp::timers::{self, Dur32, DurMs32, Ms32, Timers};
use crate::tcp::SeqNum;
use crate::time::{Duration, Instant};

pub use crate::tcp::segment::{OutSegment, Segment, SegmentOutcome};

/// Per-connection configuration.
#[derive(Clone, Debug)]
pub struct ConnConfig {
    /// Our MSS to advertise (and the initial path MSS).
    pub mss: u16,
    pub send_buffer: u32,
    pub recv_buffer: u32,
    /// TIME-WAIT duration, 2×MSL (RFC 9293 §3.10.7.4).
    pub time_wait: Duration,
    /// How long an orphaned connection may sit in FIN-WAIT-2.
    pub fin_wait2_timeout: Duration,
    pub initial_rto: Duration,
    pub min_rto: Duration,
    pub max_rto: Duration,
    /// Consecutive retransmission timeouts (or unanswered probes) before TimedOut.
    pub max_retries: u32,
    pub delayed_ack: Duration,
    pub initial_cwnd_segments: u32,
    pub congestion: Congestion,
    /// HyStart++ (RFC 9406) in the initial slow start. Default on.
    pub hystart: bool,
    pub enable_sack: bool,
    /// RACK-TLP loss detection (RFC 8985) on SACK connections; off = RFC 6675 DupThresh only.
    pub enable_rack: bool,
    pub enable_timestamps: bool,
    pub enable_window_scale: bool,
    pub nodelay: bool,
    pub keepalive_idle: Duration,
    pub keepalive_interval: Duration,
    /// Unanswered keep-alive probes before TimedOut; 0 turns keep-alive off.
    pub keepalive_count: u32,
    /// RFC 5482 user timeout; ZERO = none.
    pub user_timeout: Duration,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            mss: 1460,
            send_buffer: 256 * 1024,
            recv_buffer: 256 * 1024,
            time_wait: Duration::from_secs(60),
            fin_wait2_timeout: Duration::from_secs(60),
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(60),
            max_retries: 15,
            delayed_ack: Duration::from_millis(40),
            initial_cwnd_segments: 10,
            congestion: Congestion::Cubic,
            hystart: true,
            enable_sack: true,
            enable_rack: true,
            enable_timestamps: true,
            enable_window_scale: true,
            nodelay: false,
            keepalive_idle: Duration::from_secs(7200),
            keepalive_interval: Duration::from_secs(75),
            keepalive_count: 0,
            user_timeout: Duration::ZERO,
        }
    }
}

/// Something the application should know about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnEvent {
    Connected,
    Readable,
    Writable,
    PeerClosed,
    Closed(CloseReason),
}

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    Orderly,
    Refused,
    Reset,
    TimedOut,
}

/// Errors of the application-facing calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnError {
    WouldBlock,
    InvalidState,
    Closed,
    Reset,
    Refused,
    TimedOut,
}

/// Statistics and state, as `tcpkit_conn_info` wants them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    pub state: State,
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
    /// Challenge ACKs decided (RFC 5961 §3.2, §4.2, §5.2), within the §7 rate limit.
    pub challenge_acks_sent: u64,
}

/// Event bits, in reporting order (lowest first); see [`Connection::take_event_bits`].
pub(crate) const EV_CONNECTED: u8 = 1;
pub(crate) const EV_READABLE: u8 = 2;
pub(crate) const EV_WRITABLE: u8 = 4;
pub(crate) const EV_PEER_CLOSED: u8 = 8;
pub(crate) const EV_CLOSED: u8 = 16;
/// Not an event: a flag kept in the spare top bit of `events_emitted` (so the
/// compact part does not grow): the in-flight box has served only the
/// handshake so far, so it is freed as soon as it is unused. Later idle
/// periods wait for the stack's release tick, so segments to an idle
/// connection rebuild the box at most once per tick, not per segment. Also
/// set when the connection ends (CLOSED, TIME-WAIT): the box goes once its
/// last ACK is out.
pub(super) const HANDSHAKE_BOX: u8 = 128;

/// Counters kept per connection. `repr(C)`: the three counted per segment
/// first, next to the connection's hot fields (see [`Connection`]).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub(super) struct Stats {
    /// (Bytes acked and received are not counted here: they are SND.UNA's
    /// and RCV.NXT's stream offsets, see `info`.)
    pub bytes_sent: u64,
    pub segs_sent: u64,
    pub segs_received: u64,
    pub segs_retransmitted: u64,
    // Rare events: 32 bits, saturating.
    pub timeouts: u32,
    pub sack_recoveries: u32,
    pub challenge_acks: u32,
    // Rarer still: 16 bits each, so the counters keep their size.
    pub spurious_recoveries: u16,
    pub spurious_rtos: u16,
}

/// SYN-ACK retransmissions before a passive half-open connection is dropped
/// (Linux's tcp_synack_retries default: about 63 s with a 1 s initial RTO).
pub const SYNACK_RETRIES: u32 = 5;

/// Options the application may change on a live connection.
#[derive(Clone, Copy, Debug)]
pub(super) struct UserOptions {
    pub nodelay: bool,
    /// Keep-alive and user timeouts in whole ms, rounded up (see [`DurMs32`]).
    pub keepalive_idle: DurMs32,
    pub keepalive_interval: DurMs32,
    pub keepalive_count: u32,
    pub user_timeout: DurMs32,
    /// Clamped to u16: the retry and probe counters it bounds are u16
    /// (saturating), so any larger limit is equally never reached.
    pub max_retries: u16,
    /// Configured durations in 32 bits (see [`Dur32`]: clamped to 71.5 min).
    /// (max_rto is the RTT estimator's, not kept twice.)
    pub delayed_ack: Dur32,
    pub time_wait: Dur32,
    pub fin_wait2_timeout: Dur32,
    pub congestion: Congestion,
    /// HyStart++ (RFC 9406) for the controllers this connection creates.
    pub hystart: bool,
    /// At most 1000 (the stack's config bound); clamped to u16.
    pub initial_cwnd_segments: u16,
    /// RACK-TLP on SACK connections (RFC 8985).
    pub rack: bool,
}

/// One TCP connection (RFC 9293 TCB plus extensions).
/// `repr(C)`, fields in this order: the fields one segment exchange touches
/// come first and the cold ones last, so a connection fetched from DRAM
/// (100k connections are far past the caches) costs fewer cache lines; the
/// order is also packed without holes so the size stays 376 bytes and the
/// stack's slab slot 448 (7 cache lines; see `stack_memory` and the layout
/// tests).
#[derive(Debug)]
#[repr(C)]
pub struct Connection {
    // Hot part: what a data segment, its ACK and the timers read and write.
    /// Buffers, SACK scoreboard and loss-recovery state: boxed, allocated on
    /// first use and dropped when the connection goes idle.
    pub(super) fl: InFlightBox,
    pub(super) cc: Controller,
    pub(super) rtt: RttEstimator,
    /// Stream offset of SND.UNA (the SYN is offset -1, i.e. u64::MAX, wrapping).
    pub(super) snd_una_off: u64,
    pub(super) unacked_since: Instant,
    /// The latest time seen from the stack, for timers armed by send() (which has no clock).
    pub(super) clock: Instant,
    pub(super) timers: Timers,
    pub(super) opts: UserOptions,
    pub(super) snd_una: SeqNum,
    /// Next sequence number to send; pulled back to SND.UNA on RTO.
    pub(super) snd_nxt: SeqNum,
    /// Highest sequence number sent so far (one past it).
    pub(super) snd_max: SeqNum,
    pub(super) snd_wl1: SeqNum,
    pub(super) snd_wl2: SeqNum,
    /// Send window in bytes, already scaled.
    pub(super) snd_wnd: u32,
    pub(super) max_snd_wnd: u32,
    pub(super) rcv_nxt: SeqNum,
    /// Right edge of the window we last advertised.
    pub(super) rcv_adv: SeqNum,
    pub(super) ts_offset: u32,
    pub(super) ts_recent: u32,
    /// When TS.Recent was recorded (PAWS 24-day rule; see [`Ms32`]'s wrap rule).
    pub(super) ts_recent_at: Ms32,
    pub(super) last_ack_sent: SeqNum,
    pub(super) last_recv: Ms32,
    pub(super) last_send: Ms32,
    pub(super) dupacks: u32,
    pub(super) recover: SeqNum,
    pub(super) neg: Negotiated,
    pub(super) path_mss: u16,
    pub(super) eff_mss: u16,
    /// Largest payload seen from the peer: the receiver's idea of a full segment.
    pub(super) rcv_mss: u16,
    /// The stack's payload cap from the last poll_transmit, so wants_transmit() plans
    /// with the same segment size (u16::MAX until the first poll). 16 bits: an
    /// IP packet's payload is below 64 KiB, and it only ever caps a u16 MSS.
    pub(super) payload_cap: u16,
    pub(super) retries: u16,
    pub(super) probes: u16,
    pub(super) state: State,
    pub(super) in_recovery: bool,
    pub(super) ack_now: bool,
    /// A persist or keep-alive timer asked for a probe or a forced send.
    pub(super) probe_pending: bool,
    pub(super) force_send: bool,
    pub(super) fin_queued: bool,
    pub(super) app_closed: bool,
    pub(super) passive: bool,
    pub(super) read_starved: bool,
    pub(super) write_blocked: bool,
    pub(super) events: u8,
    pub(super) events_emitted: u8,
    /// RTO doublings since the last RTT sample (RFC 6298 §5.5).
    pub(super) rto_backoff: u8,
    pub(super) persist_backoff: u8,
    /// Our offer (handshake only): cold, but its 6 bytes fill what would
    /// otherwise be padding before the 8-byte-aligned counters.
    pub(super) offer: Offer,
    // Per-connection counters: the first three count every segment.
    pub(super) stats: Stats,
    // Cold tail: handshake, RFC 5961 challenge ACK and close state,
    // untouched by an established connection's data segments.
    pub(super) iss: SeqNum,
    pub(super) irs: SeqNum,
    pub(super) challenge_window: Ms32,
    /// An ICMP soft error arrived during SYN-SENT (RFC 1122 §4.2.3.9).
    pub(super) soft_error: bool,
    pub(super) close_reason: Option<CloseReason>,
    pub(super) challenge_count: u8,
}

/// Timestamp clock offset derived from the ISS, so TSval does not reveal uptime (RFC 7323 §7.1).
fn ts_offset_from_iss(iss: SeqNum) -> u32 {
    iss.0.wrapping_mul(0x9e37_79b1).rotate_left(13)
}

/// The TSval a connection with this ISS sends at `now`: 1 ms ticks plus the
/// per-connection offset (RFC 7323 §5.4). Public so SYN cookies can use the
/// same clock as the connection later built from them.
pub fn timestamp_clock(iss: SeqNum, now: Instant) -> u32 {
    (now.as_millis() as u32).wrapping_add(ts_offset_from_iss(iss))
}

/// What a new connection derives from its [`ConnConfig`] alone (the
/// offer, the estimator and controller in their initial state, the options
/// in their compact units), computed once per configuration: a stack keeps
/// one per address family instead of converting durations and searching
/// the window shift for every connection.
#[derive(Clone, Debug)]
pub(crate) struct ConnTemplate {
    offer: Offer,
    eff_mss: u16,
    path_mss: u16,
    send_buffer: u32,
    recv_buffer: u32,
    rtt: RttEstimator,
    cc: Controller,
    opts: UserOptions,
}

impl ConnTemplate {
    pub(crate) fn new(cfg: &ConnConfig) -> ConnTemplate {
        let offer = Offer {
            mss: cfg.mss,
            sack: cfg.enable_sack,
            timestamps: cfg.enable_timestamps,
            window_scale: cfg.enable_window_scale,
            rcv_shift: if cfg.enable_window_scale {
                options::window_shift_for(cfg.recv_buffer)
            } else {
                0
            },
        };
        let eff_mss = options::effective_mss(options::DEFAULT_PEER_MSS, cfg.mss, false);
        ConnTemplate {
            offer,
            eff_mss,
            path_mss: cfg.mss,
            send_buffer: cfg.send_buffer,
            recv_buffer: cfg.recv_buffer,
            rtt: RttEstimator::new(cfg.initial_rto, cfg.min_rto, cfg.max_rto),
            cc: Controller::with_hystart(
                cfg.congestion,
                u32::from(eff_mss),
                cfg.initial_cwnd_segments,
                cfg.hystart,
            ),
            opts: UserOptions {
                nodelay: cfg.nodelay,
                keepalive_idle: DurMs32::new(cfg.keepalive_idle),
                keepalive_interval: DurMs32::new(cfg.keepalive_interval),
                keepalive_count: cfg.keepalive_count,
                user_timeout: DurMs32::new(cfg.user_timeout),
                max_retries: u16::try_from(cfg.max_retries).unwrap_or(u16::MAX),
                delayed_ack: Dur32::new(cfg.delayed_ack),
                time_wait: Dur32::new(cfg.time_wait),
                fin_wait2_timeout: Dur32::new(cfg.fin_wait2_timeout),
                congestion: cfg.congestion,
                hystart: cfg.hystart,
                initial_cwnd_segments: u16::try_from(cfg.initial_cwnd_segments).unwrap_or(u16::MAX),
                rack: cfg.enable_rack,
            },
        }
    }
}

impl Connection {
    pub(super) fn new(cfg: &ConnConfig, iss: SeqNum, now: Instant, state: State) -> Connection {
        Connection::from_template(&ConnTemplate::new(cfg), iss, now, state)
    }

    /// A new connection in `state` from a precomputed template.
    #[inline(never)]
    pub(super) fn from_template(
        t: &ConnTemplate,
        iss: SeqNum,
        now: Instant,
        state: State,
    ) -> Connection {
        let cfg_mss = t.path_mss;
        let eff_mss = t.eff_mss;
        Connection {
            state,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wl1: SeqNum(0),
            snd_wl2: iss,
            snd_wnd: 0,
            max_snd_wnd: 0,
            snd_una_off: u64::MAX,
            irs: SeqNum(0),
            rcv_nxt: SeqNum(0),
            rcv_adv: SeqNum(0),
            offer: t.offer,
            neg: Negotiated {
                peer_mss: options::DEFAULT_PEER_MSS,
                ..Negotiated::default()
            },
            path_mss: cfg_mss,
            eff_mss,
            rcv_mss: options::DEFAULT_PEER_MSS.min(cfg_mss),
            ts_offset: ts_offset_from_iss(iss),
            ts_recent: 0,
            ts_recent_at: Ms32::at(now),
            last_ack_sent: SeqNum(0),
            fl: InFlightBox::new(t.send_buffer, t.recv_buffer),
            rtt: t.rtt.clone(),
            cc: t.cc.clone(),
            timers: Timers::default(),
            retries: 0,
            probes: 0,
            rto_backoff: 0,
            persist_backoff: 0,
            last_recv: Ms32::at(now),
            last_send: Ms32::at(now),
            unacked_since: now,
            challenge_window: Ms32::at(now),
            challenge_count: 0,
            clock: now,
            payload_cap: u16::MAX,
            dupacks: 0,
            recover: iss,
            in_recovery: false,
            ack_now: false,
            probe_pending: false,
            force_send: false,
            fin_queued: false,
            app_closed: false,
            passive: false,
            read_starved: true,
            write_blocked: false,
            soft_error: false,
            events: 0,
            events_emitted: HANDSHAKE_BOX,
            close_reason: None,
            opts: t.opts,
            stats: Stats::default(),
        }
    }

    /// Active OPEN: CLOSED -> SYN-SENT; the SYN comes out of `poll_transmit` (RFC 9293 §3.10.1).
    pub fn connect(cfg: &ConnConfig, iss: SeqNum, now: Instant) -> Connection {
        Connection::connect_with(&ConnTemplate::new(cfg), iss, now)
    }

    /// [`Connection::connect`] from a template of the configuration.
    pub(crate) fn connect_with(t: &ConnTemplate, iss: SeqNum, now: Instant) -> Connection {
        Connection::from_template(t, iss, now, State::SynSent)
    }

    /// Passive OPEN with a SYN in hand: LISTEN -> SYN-RECEIVED (RFC 9293 §3.10.7.2).
    pub fn accept(cfg: &ConnConfig, iss: SeqNum, syn: &Segment, now: Instant) -> Connection {
        Connection::accept_with(&ConnTemplate::new(cfg), iss, syn, now)
    }

    /// [`Connection::accept`] from a template of the configuration.
    pub(crate) fn accept_with(
        t: &ConnTemplate,
        iss: SeqNum,
        syn: &Segment,
        now: Instant,
    ) -> Connection {
        let mut c = Connection::from_template(t, iss, now, State::SynReceived);
        c.passive = true;
        c.irs = syn.seq;
        c.rcv_nxt = syn.seq + 1;
        c.rcv_adv = c.rcv_nxt;
        c.last_ack_sent = c.rcv_nxt;
        c.apply_negotiation(&syn.options);
        c.record_peer_timestamp(syn, now);
        // The window of a SYN is never scaled (RFC 7323 §2.2).
        c.snd_wnd = u32::from(syn.window);
        c.max_snd_wnd = c.snd_wnd;
        c.snd_wl1 = syn.seq;
        c.snd_wl2 = iss;
        c.last_recv = Ms32::at(now);
        c.stats.segs_received = 1;
        c
    }

    /// A connection rebuilt from a valid SYN cookie ACK: straight to ESTABLISHED
    /// (RFC 4987 §3.6). `peer_syn` carries what the cookie recorded of the
    /// peer's SYN options (mss, window_scale, sack_permitted, timestamps Some/None);
    /// `iss` is the cookie, the sequence number of our SYN-ACK.
    pub fn from_syn_cookie(
        cfg: &ConnConfig,
        iss: SeqNum,
        irs: SeqNum,
        peer_syn: &crate::wire::tcp::TcpOptions,
        ack: &Segment,
        now: Instant,
    ) -> Connection {
        let mut c = Connection::new(cfg, iss, now, State::Established);
        c.passive = true;
        c.irs = irs;
        c.rcv_nxt = irs + 1;
        c.rcv_adv = c.rcv_nxt;
        c.last_ack_sent = c.rcv_nxt;
        c.apply_negotiation(peer_syn);
        c.snd_una = iss + 1;
        c.snd_nxt = iss + 1;
        c.snd_max = iss + 1;
        c.snd_una_off = 0;
        c.snd_wnd = u32::from(ack.window) << c.neg.snd_shift;
        c.max_snd_wnd = c.snd_wnd;
        c.snd_wl1 = ack.seq;
        c.snd_wl2 = ack.ack;
        c.record_peer_timestamp(ack, now);
        c.raise(EV_CONNECTED);
        c.last_recv = Ms32::at(now);
        c.arm_keepalive(now);
        c
    }

    /// Use the options both sides offered (RFC 7323 §1.3, RFC 2018 §2, RFC 6691).
    pub(super) fn apply_negotiation(&mut self, peer: &crate::wire::tcp::TcpOptions) {
        self.neg = options::negotiate(&self.offer, peer);
        self.update_effective_mss();
        // The initial window depends on the negotiated MSS (RFC 6928 §2).
        self.cc = Controller::with_hystart(
            self.opts.congestion,
            u32::from(self.eff_mss),
            u32::from(self.opts.initial_cwnd_segments),
            self.opts.hystart,
        );
    }

    /// Effective send MSS = min(peer MSS, path MSS) - TS bytes (RFC 6691 §2).
    pub(super) fn update_effective_mss(&mut self) {
        self.eff_mss =
            options::effective_mss(self.neg.peer_mss, self.path_mss, self.neg.timestamps);
        self.cc.set_mss(u32::from(self.eff_mss));
        let rcv_full = options::effective_mss(self.offer.mss, self.offer.mss, self.neg.timestamps);
        self.rcv_mss = self.rcv_mss.min(rcv_full);
    }

    /// Our timestamp clock: 1 ms ticks plus a per-connection offset (RFC 7323 §5.4).
    pub(super) fn ts_val(&self, now: Instant) -> u32 {
        (now.as_millis() as u32).wrapping_add(self.ts_offset)
    }

    /// Whether timestamps were negotiated (RFC 7323).
    pub fn timestamps_enabled(&self) -> bool {
        self.neg.timestamps
    }

    /// Keep the TSval of a SYN as TS.Recent (RFC 7323 §4.3).
    pub(super) fn record_peer_timestamp(&mut self, seg: &Segment, now: Instant) {
        if let (true, Some((val, _))) = (self.neg.timestamps, seg.options.timestamps) {
            self.ts_recent = val;
            self.ts_recent_at = Ms32::at(now);
        }
    }

    // ------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------

    /// Queue an event; each kind is pending at most once, and Connected,
    /// PeerClosed and Closed are delivered only once in a lifetime.
    pub(super) fn raise(&mut self, ev: u8) {
        let once = EV_CONNECTED | EV_PEER_CLOSED | EV_CLOSED;
        if ev & once != 0 && self.events_emitted & ev != 0 {
            return;
        }
        self.events_emitted |= ev & once;
        self.events |= ev;
    }

    /// Readable is edge-triggered: only after the application found nothing.
    pub(super) fn raise_readable(&mut self) {
        if self.read_starved {
            self.read_starved = false;
            self.raise(EV_READABLE);
        }
    }

    /// Writable is edge-triggered: only after `send` returned WouldBlock.
    pub(super) fn raise_writable_if_room(&mut self) {
        if self.write_blocked && self.fl.sendbuf.free() > 0 {
            self.write_blocked = false;
            self.raise(EV_WRITABLE);
        }
    }

    /// Next event, in a fixed order.
    pub fn poll_event(&mut self) -> Option<ConnEvent> {
        // The EV_ bits are in reporting order: the lowest set bit is next
        // (one step instead of a test per kind; `raise` sets no other bit).
        let bit = self.events & self.events.wrapping_neg();
        let ev = match bit {
            EV_CONNECTED => ConnEvent::Connected,
            EV_READABLE => ConnEvent::Readable,
            EV_WRITABLE => ConnEvent::Writable,
            EV_PEER_CLOSED => ConnEvent::PeerClosed,
            EV_CLOSED => ConnEvent::Closed(self.closed_event_reason()),
            _ => return None,
        };
        self.events &= !bit;
        Some(ev)
    }

    pub fn has_events(&self) -> bool {
        self.events != 0
    }

    /// Every pending event at once as `EV_` bits (lowest first is the order
    /// of [`Connection::poll_event`]), none pending afterwards: the stack maps
    /// the bits to its own event kinds without the `ConnEvent` step.
    pub(crate) fn take_event_bits(&mut self) -> u8 {
        core::mem::take(&mut self.events)
    }

    /// The reason a CLOSED event reports (as [`ConnEvent::Closed`] does).
    pub(crate) fn closed_event_reason(&self) -> CloseReason {
        self.close_reason.unwrap_or(CloseReason::Orderly)
    }

    /// Enter CLOSED and tell the application why (RFC 9293 §3.10.7.4).
    pub(super) fn enter_closed(&mut self, reason: CloseReason) {
        if self.close_reason.is_none() {
            self.close_reason = Some(reason);
        }
        self.state = State::Closed;
        self.timers.clear();
        self.fl.clear_timers();
        self.ack_now = false;
        self.probe_pending = false;
        self.force_send = false;
        self.raise(EV_CLOSED);
        if self.write_blocked {
            self.write_blocked = false;
            self.raise(EV_WRITABLE);
        }
        if self.fl.is_allocated() {
            self.fl.rexmit_seq = None;
            let end = self.fl.send_end_offset();
            self.fl.sendbuf.release_to(end);
        }
        self.release_buffers_now();
    }

    /// Enter TIME-WAIT and start the 2×MSL timer (RFC 9293 §3.10.7.4).
    pub(super) fn enter_time_wait(&mut self, now: Instant) {
        self.state = State::TimeWait;
        let close = now + self.opts.time_wait;
        self.timers.clear();
        self.fl.clear_timers();
        self.timers.close = close;
        if self.close_reason.is_none() {
            self.close_reason = Some(CloseReason::Orderly);
        }
        self.raise(EV_CLOSED);
        if self.fl.is_allocated() {
            self.fl.rexmit_seq = None;
        }
        self.release_buffers_now();
    }

    /// The connection is over (or in TIME-WAIT): its box, buffer memory
    /// included, goes once its last ACK is out, in the stack's bookkeeping
    /// pass (`release_unused_in_flight_into`), into the stack's box pool,
    /// which keeps that memory for the next connection within its budget.
    /// Unread received data stays readable (the box stays until it is read;
    /// the idle release frees what is left then).
    fn release_buffers_now(&mut self) {
        if !self.fl.is_allocated() {
            return;
        }
        self.events_emitted |= HANDSHAKE_BOX;
    }

    /// A segment, transmit or timer is about to rebuild a released box: take
    /// its memory from `pool` (same contents as `InFlightBox::ensure`).
    /// Whether it took one (then a segment that fails its checksum gives it
    /// back with [`Connection::recycle_in_flight`], changing nothing).
    #[inline]
    pub(crate) fn prefill_in_flight(&mut self, pool: &mut InFlightPool) -> bool {
        self.fl.prefill(pool)
    }

    /// The connection is being dropped: its box goes to `pool`.
    pub(crate) fn recycle_in_flight(&mut self, pool: &mut InFlightPool) {
        self.fl.recycle(pool);
    }

    /// Nothing buffered, nothing in flight, no recovery, retransmission or
    /// FIN pending: the in-flight box holds nothing a rebuilt one would not.
    pub(super) fn in_flight_releasable(&self) -> bool {
        self.fl.holds_no_data()
            && self.snd_una == self.snd_max
            && !self.in_recovery
            && !self.fin_pending()
    }

    // ------------------------------------------------------------------
    // Application calls (RFC 9293 §3.10.2 - §3.10.6)
    // ------------------------------------------------------------------

    fn closed_error(&self) -> ConnError {
        match self.close_reason {
            Some(CloseReason::Reset) => ConnError::Reset,
            Some(CloseReason::Refused) => ConnError::Refused,
            Some(CloseReason::TimedOut) => ConnError::TimedOut,
            _ => ConnError::Closed,
        }
    }

    /// SEND: queue data; before the handshake completes it waits (RFC 9293 §3.10.2).
    pub fn send(&mut self, data: &[u8]) -> Result<usize, ConnError> {
        self.send_pooled(data, &mut InFlightPool::default())
    }

    /// [`Connection::send`], a released box rebuilt from `pool`'s memory.
    pub(crate) fn send_pooled(
        &mut self,
        data: &[u8],
        pool: &mut InFlightPool,
    ) -> Result<usize, ConnError> {
        match self.state {
            State::Closed => return Err(self.closed_error()),
            State::Listen => return Err(ConnError::InvalidState),
            _ => {}
        }
        if self.fin_queued || self.app_closed || !self.state.can_send_data() {
            return Err(ConnError::Closed);
        }
        if data.is_empty() {
            return Ok(0);
        }
        let _ = self.fl.prefill(pool);
        let n = self.fl.sendbuf.push(data);
        if n == 0 {
            self.write_blocked = true;
            return Err(ConnError::WouldBlock);
        }
        self.arm_persist_if_window_stalled(self.clock);
        Ok(n)
    }

    /// RECEIVE: read in-order data; Ok(0) only at end of stream (RFC 9293 §3.10.3).
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, ConnError> {
        if buf.is_empty() {
            return Err(ConnError::InvalidState);
        }
        let before = self.fl.recv_window();
        // A released box holds nothing to read: do not rebuild it for that.
        let n = if self.fl.is_allocated() {
            self.fl.recvbuf.read(buf)
        } else {
            0
        };
        if n > 0 {
            self.stats_after_read(before);
            return Ok(n);
        }
        let eof = self.peer_fin_received();
        match self.state {
            State::Closed if self.close_reason != Some(CloseReason::Orderly) || !eof => {
                Err(self.closed_error())
            }
            State::Listen => Err(ConnError::InvalidState),
            _ if eof => Ok(0),
            _ => {
                self.read_starved = true;
                Err(ConnError::WouldBlock)
            }
        }
    }

    /// After the application read, open the window if the receiver SWS rule allows (RFC 9293 §3.8.6.2.2).
    fn stats_after_read(&mut self, _window_before: usize) {
        if self.fl.recvbuf.readable() == 0 {
            // The ring is kept for the next segment; the stack frees it once idle.
            self.read_starved = true;
        }
        if self.state.can_receive_data() && self.window_update_worth_sending() {
            self.ack_now = true;
        }
    }

    /// The peer's FIN has been received (and is in sequence).
    pub(super) fn peer_fin_received(&self) -> bool {
        matches!(
            self.state,
            State::CloseWait | State::LastAck | State::Closing | State::TimeWait
        ) || (self.state == State::Closed && self.events_emitted & EV_PEER_CLOSED != 0)
    }

    /// CLOSE for sending: queue a FIN after the data (RFC 9293 §3.10.4).
    pub fn shutdown(&mut self, _now: Instant) -> Result<(), ConnError> {
        match self.state {
            State::Closed => return Err(self.closed_error()),
            State::Listen => return Err(ConnError::InvalidState),
            _ => {}
        }
        if self.fin_queued {
            return Ok(());
        }
        self.fin_queued = true;
        match self.state {
            State::Established => self.state = State::FinWait1,
            State::CloseWait => self.state = State::LastAck,
            // SYN-SENT / SYN-RECEIVED: the FIN follows once the handshake is done.
            _ => {}
        }
        Ok(())
    }

    /// CLOSE: like shutdown, but unread data (RFC 2525 §2.17) or data arriving
    /// later resets the connection; an orphan in FIN-WAIT-2 times out.
    pub fn close(&mut self, now: Instant) {
        match self.state {
            State::Closed | State::TimeWait => {
                self.app_closed = true;
                return;
            }
            State::Listen | State::SynSent => {
                self.app_closed = true;
                self.enter_closed(CloseReason::Orderly);
                return;
            }
            _ => {}
        }
        if self.fl.recvbuf.readable() > 0 {
            self.abort(now);
            self.app_closed = true;
            return;
        }
        let _ = self.shutdown(now);
        self.app_closed = true;
        if self.state == State::FinWait2 {
            self.timers.close = now + self.opts.fin_wait2_timeout;
        }
    }

    /// ABORT: RST if synchronized, then CLOSED (RFC 9293 §3.10.5).
    pub fn abort(&mut self, _now: Instant) {
        match self.state {
            State::SynReceived
            | State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait => {
                self.fl.pending_rst = Some((self.snd_nxt, SeqNum(0), false));
            }
            _ => {}
        }
        self.app_closed = true;
        if self.state != State::Closed {
            self.enter_closed(CloseReason::Reset);
        }
        // The application asked for it: no Closed event for its own abort.
        self.events = 0;
    }

    /// RFC 1122 §4.2.3.9 / RFC 5461 §4: an ICMP destination unreachable the
    /// stack validated (RFC 5927). During the handshake a hard error (protocol
    /// or port unreachable, administratively prohibited) ends the attempt with
    /// REFUSED; a soft one (net or host unreachable) is only remembered and
    /// turns a later handshake timeout into REFUSED, like Linux reporting
    /// `sk_err_soft` instead of ETIMEDOUT. Synchronized states ignore both.
    pub fn handle_icmp_unreachable(&mut self, hard: bool) {
        match self.state {
            State::SynSent | State::SynReceived if hard => self.enter_closed(CloseReason::Refused),
            State::SynSent => self.soft_error = true,
            _ => {}
        }
    }

    /// Why a timeout ends the connection: TIMED_OUT, or REFUSED when an ICMP
    /// soft error said the handshake's destination is unreachable.
    fn timeout_reason(&self) -> CloseReason {
        if self.soft_error && self.state == State::SynSent {
            CloseReason::Refused
        } else {
            CloseReason::TimedOut
        }
    }

    /// The path MTU dropped (ICMP, RFC 1191 / RFC 8201): use the smaller MSS
    /// and resend what is in flight in smaller segments.
    pub fn set_path_mtu_mss(&mut self, mss: u16) {
        let mss = mss.max(88);
        if mss >= self.path_mss {
            return;
        }
        self.path_mss = mss;
        self.update_effective_mss();
        if self.state.is_synchronized() && self.snd_max != self.snd_una {
            self.snd_nxt = self.snd_una;
            self.fl.rtt_probe = None;
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Bytes the application queued and never sent yet.
    pub(super) fn unsent_bytes(&self) -> u64 {
        self.fl
            .sendbuf
            .end_offset()
            .saturating_sub(self.seq_to_send_off(self.snd_nxt))
    }

    /// Stream offset of a send sequence number at or above SND.UNA.
    pub(super) fn seq_to_send_off(&self, seq: SeqNum) -> u64 {
        self.snd_una_off.wrapping_add(u64::from(seq - self.snd_una))
    }

    /// Sequence number of our FIN (valid once `fin_queued`).
    pub(super) fn fin_seq(&self) -> SeqNum {
        let data = self.fl.send_end_offset().wrapping_sub(self.snd_una_off);
        self.snd_una + (data as u32)
    }

    pub fn info(&self) -> ConnInfo {
        let una_data = self.snd_una_off.min(self.fl.send_end_offset());
        let nxt_data = self
            .seq_to_send_off(self.snd_max)
            .min(self.fl.send_end_offset());
        ConnInfo {
            state: self.state,
            mss: u32::from(self.eff_mss),
            srtt_us: self.rtt.srtt().map_or(0, |d| d.as_micros()),
            rttvar_us: self.rtt.rttvar().as_micros(),
            rto_us: self.rto().as_micros(),
            cwnd: u64::from(self.cc.cwnd()),
            ssthresh: u64::from(self.cc.ssthresh()),
            snd_wnd: u64::from(self.snd_wnd),
            rcv_wnd: self.fl.recv_window() as u64,
            bytes_sent: self.stats.bytes_sent,
            bytes_acked: if self.snd_una_off == u64::MAX {
                0
            } else {
                una_data
            },
            bytes_received: self.fl.recv_next_offset(),
            bytes_unsent: self.fl.send_end_offset().saturating_sub(nxt_data),
            bytes_unacked: if self.snd_una_off == u64::MAX {
                0
            } else {
                nxt_data.saturating_sub(una_data)
            },
            bytes_readable: self.fl.recvbuf.readable() as u64,
            segs_sent: self.stats.segs_sent,
            segs_received: self.stats.segs_received,
            segs_retransmitted: self.stats.segs_retransmitted,
            timeouts: u64::from(self.stats.timeouts),
            sack_recoveries: u64::from(self.stats.sack_recoveries),
            challenge_acks_sent: u64::from(self.stats.challenge_acks),
        }
    }

    /// Challenge ACKs this connection decided to send (RFC 5961), for the stack's counters.
    pub fn challenge_acks_sent(&self) -> u64 {
        u64::from(self.stats.challenge_acks)
    }

    /// Fast recoveries undone as spurious by Eifel detection (RFC 3522).
    pub fn spurious_recoveries(&self) -> u64 {
        u64::from(self.stats.spurious_recoveries)
    }

    /// Retransmission timeouts undone as spurious by Eifel detection (RFC 3522, RFC 4015).
    pub fn spurious_rtos(&self) -> u64 {
        u64::from(self.stats.spurious_rtos)
    }

    /// CLOSED and nothing left to send: the stack may free it.
    pub fn is_finished(&self) -> bool {
        self.state == State::Closed && self.fl.pending_rst.is_none()
    }

    // ------------------------------------------------------------------
    // Per-connection options
    // ------------------------------------------------------------------

    /// TCP_NODELAY: turn Nagle's algorithm (RFC 896) off or on.
    pub fn set_nodelay(&mut self, on: bool) {
        self.opts.nodelay = on;
    }
    pub fn nodelay(&self) -> bool {
        self.opts.nodelay
    }
    /// Keep-alive parameters; a count of 0 turns keep-alive off (RFC 9293 §3.8.4).
    pub fn set_keepalive(&mut self, now: Instant, idle: Duration, interval: Duration, count: u32) {
        self.opts.keepalive_idle = DurMs32::new(idle);
        self.opts.keepalive_interval = DurMs32::new(interval);
        self.opts.keepalive_count = count;
        self.arm_keepalive(now);
    }
    /// (idle, interval, count).
    pub fn keepalive(&self) -> (Duration, Duration, u32) {
        (
            self.opts.keepalive_idle.get(),
            self.opts.keepalive_interval.get(),
            self.opts.keepalive_count,
        )
    }
    /// RFC 5482 user timeout; ZERO = none.
    pub fn set_user_timeout(&mut self, timeout: Duration) {
        self.opts.user_timeout = DurMs32::new(timeout);
    }
    pub fn user_timeout(&self) -> Duration {
        self.opts.user_timeout.get()
    }
    /// Send buffer limit in bytes (never below what is already queued).
    pub fn set_send_buffer(&mut self, limit: u32) {
        self.fl.set_send_limit(limit);
    }
    pub fn send_buffer(&self) -> u32 {
        u32::try_from(self.fl.send_limit()).unwrap_or(u32::MAX)
    }
    /// Receive buffer limit in bytes; the advertised window never shrinks because of it.
    pub fn set_recv_buffer(&mut self, limit: u32) {
        self.fl.set_recv_limit(limit);
    }
    pub fn recv_buffer(&self) -> u32 {
        u32::try_from(self.fl.recv_limit()).unwrap_or(u32::MAX)
    }
    /// Switch the congestion controller, keeping the current window.
    pub fn set_congestion(&mut self, kind: Congestion) {
        if kind == self.opts.congestion {
            return;
        }
        let cwnd = self.cc.cwnd();
        self.cc = Controller::with_hystart(
            kind,
            u32::from(self.eff_mss),
            u32::from(self.opts.initial_cwnd_segments),
            self.opts.hystart,
        );
        self.cc.set_cwnd(cwnd);
        self.opts.congestion = kind;
    }
    pub fn congestion(&self) -> Congestion {
        self.opts.congestion
    }

    // ------------------------------------------------------------------
    // Timers
    // ------------------------------------------------------------------

    /// The current RTO: the estimator's value doubled per timeout, capped at
    /// max_rto (RFC 6298 §5.5). The doubling is kept here, on the clamped
    /// value, so it also works while SRTT + 4·RTTVAR is below min_rto.
    pub(super) fn rto(&self) -> Duration {
        let base = self.rtt.rto();
        base.saturating_mul(1u64 << self.rto_backoff.min(16))
            .min(self.rtt.max_rto().max(base))
    }

    /// A valid RTT measurement updates the estimator and ends the backoff (RFC 6298 §5.7).
    pub(super) fn take_rtt_sample(&mut self, rtt: Duration) {
        self.rtt.on_sample(rtt);
        self.cc.on_rtt_sample(rtt);
        if self.fl.is_allocated() {
            self.fl.rack.on_rtt_sample(rtt);
        }
        self.rto_backoff = 0;
    }

    /// Deadline of the RFC 5482 user timeout, if data is waiting for an ACK.
    pub(super) fn user_timeout_deadline(&self) -> Instant {
        // Off unless configured: decided before reading the box (asked per packet).
        if self.opts.user_timeout == DurMs32::ZERO {
            return Instant::MAX;
        }
        self.configured_user_timeout_deadline()
    }

    /// [`Connection::user_timeout_deadline`] once configured (out of line:
    /// the per-packet timer re-arm inlines only the test above).
    #[inline(never)]
    fn configured_user_timeout_deadline(&self) -> Instant {
        let waiting = self.snd_max != self.snd_una || self.fl.persist != Instant::MAX;
        if !waiting || !self.state.is_synchronized() {
            return Instant::MAX;
        }
        self.unacked_since + self.opts.user_timeout
    }

    /// The earliest deadline of all timers, or None.
    #[inline]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let t = self.earliest_deadline();
        (t != Instant::MAX).then_some(t)
    }

    /// [`Connection::poll_timeout`] with `Instant::MAX` for none: the
    /// stack's bookkeeping compares it with the slot's armed deadline
    /// without building an `Option` (asked after every segment).
    #[inline(always)]
    pub(crate) fn earliest_deadline(&self) -> Instant {
        self.timers
            .earliest()
            .min(self.fl.earliest_timer())
            .min(self.user_timeout_deadline())
    }

    /// Run every timer that is due; harmless when none is.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.clock = self.clock.max(now);
        if self.state == State::Closed {
            return;
        }
        if self.state != State::TimeWait {
            self.fl.ensure();
        }
        self.run_due_timers(now);
        self.arm_persist_if_window_stalled(now);
    }

    /// Each due timer in turn; stops once the connection closes.
    #[inline(never)]
    fn run_due_timers(&mut self, now: Instant) {
        if timers::due(self.user_timeout_deadline(), now) {
            self.on_user_timeout();
            return;
        }
        if timers::due(self.timers.close, now) {
            self.timers.close = Instant::MAX;
            self.on_close_timer();
            return;
        }
        if timers::due(self.fl.rexmit, now) {
            self.fl.rexmit = Instant::MAX;
            self.on_retransmission_timeout(now);
            if self.state == State::Closed {
                return;
            }
        }
        if timers::due(self.fl.rack.reo_timer, now) {
            self.fl.rack.reo_timer = Instant::MAX;
            self.on_rack_timeout(now);
        }
        if timers::due(self.fl.rack.pto, now) {
            self.fl.rack.pto = Instant::MAX;
            self.on_probe_timeout(now);
        }
        if timers::due(self.fl.persist, now) {
            self.fl.persist = Instant::MAX;
            self.on_persist_timeout(now);
            if self.state == State::Closed {
                return;
            }
        }
        if timers::due(self.timers.keepalive, now) {
            self.timers.keepalive = Instant::MAX;
            self.on_keepalive_timeout(now);
            if self.state == State::Closed {
                return;
            }
        }
        if timers::due(self.fl.delack, now) {
            self.fl.delack = Instant::MAX;
            self.on_delayed_ack_timeout();
        }
    }

    /// Data unacknowledged for longer than the user timeout aborts (RFC 5482 §2, RFC 9293 §3.8.3).
    fn on_user_timeout(&mut self) {
        self.enter_closed(self.timeout_reason());
    }

    /// TIME-WAIT 2×MSL expiry or the orphan FIN-WAIT-2 timeout (RFC 9293 §3.10.8).
    fn on_close_timer(&mut self) {
        match self.state {
            State::TimeWait => {
                self.state = State::Closed;
                self.timers.clear();
                self.fl.clear_timers();
            }
            State::FinWait2 => self.enter_closed(CloseReason::TimedOut),
            _ => {}
        }
    }

    /// Retransmissions allowed before the connection times out. A passive
    /// half-open connection gives up after [`SYNACK_RETRIES`] SYN-ACKs, as
    /// Linux does (tcp_synack_retries), so half-open entries cannot pile up
    /// for the 15 minutes that `max_retries` backed-off RTOs would take.
    fn retry_limit(&self) -> u32 {
        if self.state == State::SynReceived && self.passive {
            u32::from(self.opts.max_retries).min(SYNACK_RETRIES)
        } else {
            u32::from(self.opts.max_retries)
        }
    }

    /// Retransmission timeout: back off, collapse cwnd, go back to SND.UNA (RFC 6298 §5.4-5.7, RFC 5681 §3.1).
    fn on_retransmission_timeout(&mut self, now: Instant) {
        let nothing_outstanding = self.snd_max == self.snd_una;
        if nothing_outstanding {
            return;
        }
        self.stats.timeouts = self.stats.timeouts.saturating_add(1);
        // A peer that shrank its window to zero but still answers is probed,
        // not timed out (RFC 9293 §3.8.6.1; Linux does the same).
        let zero_window_peer_alive = self.snd_wnd == 0
            && self.state.is_synchronized()
            && self.last_recv.elapsed(now) <= self.rtt.max_rto();
        if !zero_window_peer_alive {
            self.retries = self.retries.saturating_add(1);
        }
        if u32::from(self.retries) > self.retry_limit() {
            self.enter_closed(self.timeout_reason());
            return;
        }
        // Before the congestion state changes (RFC 4015 §3 step 0).
        self.arm_spurious_rto_detection(now);
        if self.state.is_synchronized() {
            let flight = self.snd_max - self.snd_una;
            self.cc.on_retransmission_timeout(now, flight);
        }
        self.rto_backoff = (self.rto_backoff + 1).min(16);
        self.in_recovery = false;
        self.dupacks = 0;
        // RFC 6582 §3.2 step 4: after an RTO, recovery may not start until SND.MAX is acked.
        self.recover = self.snd_max;
        self.fl.rexmit_seq = None;
        self.snd_nxt = self.snd_una;
        // Karn's rule (RFC 6298 §3): no sample from a retransmitted segment.
        self.fl.rtt_probe = None;
        if self.neg.timestamps {
            self.fl.ts_rto_floor = Some(self.ts_val(now));
        }
        self.on_rto_scoreboard();
        self.fl.rexmit = now + self.rto();
    }

    /// Persist timer: probe a zero window, or override SWS avoidance (RFC 9293 §3.8.6.1, §3.8.6.2.1).
    fn on_persist_timeout(&mut self, _now: Instant) {
        if !self.state.is_synchronized() || self.unsent_bytes() == 0 && !self.fin_pending() {
            self.persist_backoff = 0;
            return;
        }
        self.probes = self.probes.saturating_add(1);
        if self.probes > self.opts.max_retries {
            self.enter_closed(CloseReason::TimedOut);
            return;
        }
        self.persist_backoff = self.persist_backoff.saturating_add(1);
        if self.snd_wnd == 0 {
            self.probe_pending = true;
        } else {
            self.force_send = true;
        }
    }

    /// Keep-alive: probe an idle connection, give up after `count` silent probes (RFC 9293 §3.8.4).
    fn on_keepalive_timeout(&mut self, now: Instant) {
        if !self.keepalive_enabled() || !self.state.is_synchronized() {
            return;
        }
        let busy = self.snd_max != self.snd_una || self.unsent_bytes() > 0;
        if busy {
            self.probes = 0;
            self.timers.keepalive = now + self.opts.keepalive_idle;
            return;
        }
        if u32::from(self.probes) >= self.opts.keepalive_count {
            self.enter_closed(CloseReason::TimedOut);
            return;
        }
        self.probes = self.probes.saturating_add(1);
        self.probe_pending = true;
        self.timers.keepalive = now + self.opts.keepalive_interval;
    }

    /// The delayed ACK is due (RFC 9293 §3.8.6.3).
    fn on_delayed_ack_timeout(&mut self) {
        if self.state.is_synchronized() || self.state == State::SynReceived {
            self.ack_now = true;
        }
    }

    pub(super) fn keepalive_enabled(&self) -> bool {
        self.opts.keepalive_count > 0 && self.opts.keepalive_idle != DurMs32::ZERO
    }

    /// (Re)start the keep-alive idle period after traffic from the peer (RFC 9293 §3.8.4).
    pub(super) fn arm_keepalive(&mut self, now: Instant) {
        self.timers.keepalive = if self.keepalive_enabled()
            && matches!(self.state, State::Established | State::CloseWait)
        {
            now + self.opts.keepalive_idle
        } else {
            Instant::MAX
        };
    }

    /// The FIN is queued and has not been sent (or must be sent again).
    pub(super) fn fin_pending(&self) -> bool {
        self.fin_queued && self.state.fin_queued() && self.snd_nxt == self.fin_seq()
    }

    /// Per-connection challenge ACK limit: at most 10 per second (RFC 5961 §7).
    #[cold]
    #[inline(never)]
    pub(super) fn send_challenge_ack(&mut self, now: Instant) {
        if self.challenge_window.elapsed(now) >= Duration::from_secs(1) {
            self.challenge_window = Ms32::at(now);
            self.challenge_count = 0;
        }
        if self.challenge_count < 10 {
            self.challenge_count += 1;
            self.stats.challenge_acks = self.stats.challenge_acks.saturating_add(1);
            self.ack_now = true;
        }
    }
}

impl Connection {
    /// One word from each of the struct's six 64-byte blocks (the fields are
    /// picked by offset; `line_words_cover_every_line` checks them). The
    /// stack loads them together when it first reaches a connection, so
    /// with slots in DRAM the misses overlap instead of each stalling the
    /// code that first needs its line.
    #[inline]
    pub(crate) fn line_words(&self) -> u64 {
        u64::from(self.fl.is_allocated())
            ^ self.rtt.max_rto().as_micros()
            ^ self.snd_una_off
            ^ u64::from(self.snd_nxt.0)
            ^ u64::from(self.recover.0)
            ^ u64::from(self.iss.0)
    }

    /// Heap bytes held beyond the struct itself: the in-flight box and its
    /// buffers (for memory accounting; 0 when idle).
    pub fn heap_bytes(&self) -> usize {
        self.fl.heap_bytes()
    }
}

#[cfg(test)]
mod layout_tests {
    use super::*;
    use crate::tcp::inflight::InFlight;
    use crate::tcp::recv::RecvBuffer;
    use crate::tcp::send::{Scoreboard, SendBuffer};
    use core::mem::size_of;

    /// Prints the size of every part of a connection (run with
    /// `--nocapture`), and holds the always-present part to its budget.
    #[test]
    fn connection_parts_sizes() {
        extern crate std;
        let parts = [
            ("Connection", size_of::<Connection>()),
            ("InFlight (boxed)", size_of::<InFlight>()),
            ("InFlightBox", size_of::<InFlightBox>()),
            ("SendBuffer", size_of::<SendBuffer>()),
            ("RecvBuffer", size_of::<RecvBuffer>()),
            ("Scoreboard", size_of::<Scoreboard>()),
            ("RttEstimator", size_of::<RttEstimator>()),
            ("Controller", size_of::<Controller>()),
            ("Timers", size_of::<Timers>()),
            ("UserOptions", size_of::<UserOptions>()),
            ("Stats", size_of::<Stats>()),
            ("Offer", size_of::<Offer>()),
            ("Negotiated", size_of::<Negotiated>()),
        ];
        for (name, size) in parts {
            std::println!("size_of {name}: {size}");
        }
        assert!(size_of::<InFlightBox>() <= 32);
    }

    /// The fields `line_words` loads lie one in each 64-byte block.
    #[test]
    fn line_words_cover_every_line() {
        use core::mem::offset_of;
        let rtt = offset_of!(Connection, rtt);
        let spans = [
            (offset_of!(Connection, fl), size_of::<InFlightBox>()),
            (rtt, size_of::<RttEstimator>()),
            (offset_of!(Connection, snd_una_off), 8),
            (offset_of!(Connection, snd_nxt), 4),
            (offset_of!(Connection, recover), 4),
            (offset_of!(Connection, iss), 4),
        ];
        assert_eq!(spans.len(), size_of::<Connection>().div_ceil(64));
        for (k, (at, len)) in spans.into_iter().enumerate() {
            let (first, last) = (at / 64, (at + len - 1) / 64);
            assert_eq!((first, last), (k, k), "field {k} is not in block {k}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn drain(c: &mut Connection) -> Vec<ConnEvent> {
        core::iter::from_fn(|| c.poll_event()).collect()
    }

    #[test]
    fn events_come_out_in_reporting_order_once_each() {
        let mut c = Connection::connect(&ConnConfig::default(), SeqNum(1), Instant::from_millis(0));
        assert!(c.poll_event().is_none());
        // Raised in reverse, reported in the fixed order.
        for ev in [
            EV_CLOSED,
            EV_PEER_CLOSED,
            EV_WRITABLE,
            EV_READABLE,
            EV_CONNECTED,
        ] {
            c.raise(ev);
        }
        assert_eq!(
            drain(&mut c),
            [
                ConnEvent::Connected,
                ConnEvent::Readable,
                ConnEvent::Writable,
                ConnEvent::PeerClosed,
                ConnEvent::Closed(CloseReason::Orderly),
            ]
        );
        assert!(!c.has_events());
        // Readable and Writable may come again; the others only once.
        for ev in [EV_WRITABLE, EV_CONNECTED, EV_READABLE, EV_CLOSED] {
            c.raise(ev);
        }
        assert_eq!(drain(&mut c), [ConnEvent::Readable, ConnEvent::Writable]);
        // Two kinds pending, one polled: the other stays.
        c.raise(EV_WRITABLE);
        c.raise(EV_READABLE);
        assert_eq!(c.poll_event(), Some(ConnEvent::Readable));
        assert!(c.has_events());
        assert_eq!(drain(&mut c), [ConnEvent::Writable]);
    }

    /// One template serves every connection of its configuration: a
    /// connection built from it equals one built from the configuration, and
    /// changing a connection's options leaves the template (and the next
    /// connection) as configured.
    #[test]
    fn a_template_builds_what_its_configuration_does() {
        use crate::tcp::Congestion;
        use crate::time::Duration;
        use alloc::format;
        let t0 = Instant::from_millis(5);
        let configs = [
            ConnConfig::default(),
            ConnConfig {
                nodelay: true,
                keepalive_idle: Duration::from_secs(30),
                keepalive_interval: Duration::from_millis(1500),
                keepalive_count: 4,
                user_timeout: Duration::from_millis(12_345),
                congestion: Congestion::NewReno,
                enable_window_scale: false,
                send_buffer: 3000,
                recv_buffer: 70_000,
                ..ConnConfig::default()
            },
        ];
        for cfg in &configs {
            let t = ConnTemplate::new(cfg);
            let mut first = Connection::connect_with(&t, SeqNum(7), t0);
            assert_eq!(
                format!("{first:?}"),
                format!("{:?}", Connection::new(cfg, SeqNum(7), t0, State::SynSent))
            );
            first.set_nodelay(!cfg.nodelay);
            first.set_user_timeout(Duration::from_secs(99));
            first.set_congestion(Congestion::Cubic);
            first.set_keepalive(t0, Duration::from_secs(1), Duration::from_secs(1), 1);
            let syn = Segment {
                seq: SeqNum(1000),
                ack: SeqNum(0),
                flags: crate::wire::tcp::TcpFlags::SYN,
                window: 5000,
                options: crate::wire::tcp::TcpOptions {
                    mss: Some(1400),
                    timestamps: Some((77, 0)),
                    ..Default::default()
                },
                payload: &[],
            };
            let next = Connection::accept_with(&t, SeqNum(9), &syn, t0);
            assert_eq!(
                format!("{next:?}"),
                format!("{:?}", Connection::accept(cfg, SeqNum(9), &syn, t0))
            );
            assert_eq!(next.nodelay(), cfg.nodelay);
            assert_eq!(next.congestion(), cfg.congestion);
            assert_eq!(next.keepalive().2, cfg.keepalive_count);
            assert_eq!(next.send_buffer(), cfg.send_buffer);
        }
    }

    /// `take_event_bits` hands over what `poll_event` would report, all at once.
    #[test]
    fn event_bits_are_what_poll_event_reports() {
        let cfg = ConnConfig::default();
        let t0 = Instant::from_millis(0);
        let all = [
            EV_CONNECTED,
            EV_READABLE,
            EV_WRITABLE,
            EV_PEER_CLOSED,
            EV_CLOSED,
        ];
        for mask in 0u8..32 {
            let mut a = Connection::connect(&cfg, SeqNum(1), t0);
            let mut b = Connection::connect(&cfg, SeqNum(1), t0);
            for (i, ev) in all.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    a.raise(*ev);
                    b.raise(*ev);
                }
            }
            let polled = drain(&mut a);
            let mut bits = b.take_event_bits();
            assert!(!b.has_events());
            let mut taken = Vec::new();
            while bits != 0 {
                let bit = bits & bits.wrapping_neg();
                bits &= !bit;
                taken.push(match bit {
                    EV_CONNECTED => ConnEvent::Connected,
                    EV_READABLE => ConnEvent::Readable,
                    EV_WRITABLE => ConnEvent::Writable,
                    EV_PEER_CLOSED => ConnEvent::PeerClosed,
                    EV_CLOSED => ConnEvent::Closed(b.closed_event_reason()),
                    other => panic!("unknown event bit {other}"),
                });
            }
            assert_eq!(taken, polled, "mask {mask:#b}");
        }
    }
}

#[cfg(test)]
mod hot_cold_layout_tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    /// The fields an established connection's segments never touch
    /// (handshake, challenge ACK, close reason) are the tail, after the
    /// per-segment counters, except the offer, which fills the bytes just
    /// before the counters (padding otherwise); the size stays that of the
    /// packed layout, with no padding inside.
    #[test]
    fn cold_fields_are_the_tail() {
        let tail = offset_of!(Connection, stats) + size_of::<Stats>();
        assert_eq!(
            offset_of!(Connection, offer) + size_of::<Offer>(),
            offset_of!(Connection, stats)
        );
        for cold in [
            offset_of!(Connection, iss),
            offset_of!(Connection, irs),
            offset_of!(Connection, challenge_window),
            offset_of!(Connection, soft_error),
            offset_of!(Connection, close_reason),
            offset_of!(Connection, challenge_count),
        ] {
            assert!(cold >= tail, "{cold} < {tail}");
        }
        for hot in [
            offset_of!(Connection, fl),
            offset_of!(Connection, cc),
            offset_of!(Connection, snd_una),
            offset_of!(Connection, rcv_nxt),
            offset_of!(Connection, state),
            offset_of!(Connection, events),
        ] {
            assert!(hot < offset_of!(Connection, stats), "{hot}");
        }
        assert!(offset_of!(Connection, persist_backoff) < offset_of!(Connection, offer));
        // 376 + the stack's 64 bytes + the slab generation = 7 cache lines.
        assert!(size_of::<Connection>() <= 376);
    }
}
