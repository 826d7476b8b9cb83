//! Packetdrill-style helpers for one `Connection`: feed segments with sequence
//! numbers relative to the ISNs, collect what it sends, advance virtual time.
#![allow(dead_code)]

use tcpkit::tcp::{
    ConnConfig, ConnEvent, Connection, OutSegment, Segment, SegmentOutcome, SeqNum, State,
};
use tcpkit::time::{Duration, Instant};
use tcpkit::wire::{TcpFlags, TcpOptions};

pub const F: TcpFlags = TcpFlags::FIN;
pub const S: TcpFlags = TcpFlags::SYN;
pub const R: TcpFlags = TcpFlags::RST;
pub const P: TcpFlags = TcpFlags::PSH;
pub const A: TcpFlags = TcpFlags::ACK;

/// A segment the connection sent, relative to the ISNs and with owned payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// Relative to our ISS.
    pub seq: u32,
    /// Relative to the peer's ISN (raw when ACK is off).
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub options: TcpOptions,
    pub payload: Vec<u8>,
}

impl Sent {
    pub fn has(&self, f: TcpFlags) -> bool {
        self.flags.contains(f)
    }
    pub fn is_pure_ack(&self) -> bool {
        self.flags == A && self.payload.is_empty()
    }
    /// SACK blocks relative to the peer's ISN.
    pub fn sack(&self, irs: u32) -> Vec<(u32, u32)> {
        self.options
            .sack_blocks()
            .iter()
            .map(|&(l, r)| (l.wrapping_sub(irs), r.wrapping_sub(irs)))
            .collect()
    }
}

/// Options to put in a segment we feed.
pub fn opts() -> TcpOptions {
    TcpOptions::default()
}

pub fn syn_opts(mss: u16, ws: Option<u8>, sack: bool, ts: Option<(u32, u32)>) -> TcpOptions {
    TcpOptions {
        mss: Some(mss),
        window_scale: ws,
        sack_permitted: sack,
        timestamps: ts,
        ..TcpOptions::default()
    }
}

pub fn ts(val: u32, ecr: u32) -> TcpOptions {
    TcpOptions {
        timestamps: Some((val, ecr)),
        ..TcpOptions::default()
    }
}

/// A config with nothing optional, so traces stay short.
pub fn plain_cfg() -> ConnConfig {
    ConnConfig {
        enable_sack: false,
        enable_timestamps: false,
        enable_window_scale: false,
        recv_buffer: 65535,
        send_buffer: 65536,
        ..ConnConfig::default()
    }
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One connection under test with a scripted peer.
pub struct Harness {
    pub conn: Connection,
    pub now: Instant,
    /// Our ISS.
    pub iss: u32,
    /// The peer's ISN.
    pub irs: u32,
}

pub const T0: Instant = Instant::from_millis(1_000);

impl Harness {
    /// Active open; the SYN is waiting in poll_transmit.
    pub fn client(cfg: &ConnConfig, iss: u32, irs: u32) -> Harness {
        Harness {
            conn: Connection::connect(cfg, SeqNum(iss), T0),
            now: T0,
            iss,
            irs,
        }
    }

    /// Active open completed after `rtt` with a SACK peer: its SYN-ACK
    /// offers MSS 1460, SACK, and timestamps (TSval 777) when `cfg` asks for
    /// them; the client's ACK and events are consumed.
    pub fn established_sack_client(cfg: &ConnConfig, iss: u32, irs: u32, rtt: Duration) -> Harness {
        let mut h = Harness::client(cfg, iss, irs);
        let syn = h.out();
        let ts = syn[0].options.timestamps.map(|(val, _)| (777, val));
        h.now += rtt;
        h.feed_syn(S | A, 0, 1, 65535, syn_opts(1460, None, true, ts));
        h.out();
        h.events();
        h
    }

    /// Passive open from a SYN with `syn_options` and window `window`.
    pub fn server(
        cfg: &ConnConfig,
        iss: u32,
        irs: u32,
        syn_options: TcpOptions,
        window: u16,
    ) -> Harness {
        let syn = Segment {
            seq: SeqNum(irs),
            ack: SeqNum(0),
            flags: S,
            window,
            options: syn_options,
            payload: &[],
        };
        Harness {
            conn: Connection::accept(cfg, SeqNum(iss), &syn, T0),
            now: T0,
            iss,
            irs,
        }
    }

    /// Client that completed the handshake with a plain peer (window `window`).
    pub fn established_client(cfg: &ConnConfig, iss: u32, irs: u32, window: u16) -> Harness {
        let mut h = Harness::client(cfg, iss, irs);
        let syn = h.out();
        assert_eq!(syn.len(), 1);
        h.feed_syn(S | A, 0, 1, window, syn_opts(1460, None, false, None));
        let ack = h.out();
        assert_eq!(ack.len(), 1, "one ACK for the SYN-ACK: {ack:?}");
        assert_eq!(h.conn.state(), State::Established);
        assert_eq!(h.events(), vec![ConnEvent::Connected]);
        h
    }

    /// Server that completed the handshake with a plain peer.
    pub fn established_server(cfg: &ConnConfig, iss: u32, irs: u32, window: u16) -> Harness {
        let mut h = Harness::server(cfg, iss, irs, syn_opts(1460, None, false, None), window);
        let synack = h.out();
        assert_eq!(synack.len(), 1);
        h.feed(A, 1, 1, window, &[]);
        assert_eq!(h.conn.state(), State::Established);
        assert_eq!(h.events(), vec![ConnEvent::Connected]);
        h
    }

    /// Feed a segment: `seq` relative to the peer's ISN, `ack` relative to ours.
    pub fn feed(
        &mut self,
        flags: TcpFlags,
        seq: u32,
        ack: u32,
        window: u16,
        payload: &[u8],
    ) -> SegmentOutcome {
        self.feed_opts(flags, seq, ack, window, opts(), payload)
    }

    pub fn feed_opts(
        &mut self,
        flags: TcpFlags,
        seq: u32,
        ack: u32,
        window: u16,
        options: TcpOptions,
        payload: &[u8],
    ) -> SegmentOutcome {
        let seg = Segment {
            seq: SeqNum(self.irs.wrapping_add(seq)),
            ack: SeqNum(if flags.ack() {
                self.iss.wrapping_add(ack)
            } else {
                ack
            }),
            flags,
            window,
            options,
            payload,
        };
        self.conn.handle_segment(self.now, &seg)
    }

    pub fn feed_syn(
        &mut self,
        flags: TcpFlags,
        seq: u32,
        ack: u32,
        window: u16,
        options: TcpOptions,
    ) -> SegmentOutcome {
        self.feed_opts(flags, seq, ack, window, options, &[])
    }

    /// Drain poll_transmit (bounded).
    pub fn out(&mut self) -> Vec<Sent> {
        self.out_max(usize::MAX)
    }

    pub fn out_max(&mut self, max_payload: usize) -> Vec<Sent> {
        let mut v = Vec::new();
        let (iss, irs) = (self.iss, self.irs);
        for _ in 0..10_000 {
            let Some(s) = self.conn.poll_transmit(self.now, max_payload) else {
                break;
            };
            v.push(to_sent(&s, iss, irs));
        }
        v
    }

    pub fn events(&mut self) -> Vec<ConnEvent> {
        let mut v = Vec::new();
        while let Some(e) = self.conn.poll_event() {
            v.push(e);
            assert!(v.len() < 100);
        }
        v
    }

    /// Advance virtual time and run timers.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.conn.handle_timeout(self.now);
    }

    /// Jump to the next deadline (panics if none).
    pub fn fire_next_timer(&mut self) -> Duration {
        let t = self.conn.poll_timeout().expect("a timer is armed");
        let waited = t - self.now;
        self.now = self.now.max(t);
        self.conn.handle_timeout(self.now);
        waited
    }

    pub fn read_all(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.conn.recv(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    }
}

pub fn to_sent(s: &OutSegment<'_>, iss: u32, irs: u32) -> Sent {
    let mut payload = s.payload.0.to_vec();
    payload.extend_from_slice(s.payload.1);
    Sent {
        seq: s.seq.0.wrapping_sub(iss),
        ack: if s.flags.ack() {
            s.ack.0.wrapping_sub(irs)
        } else {
            s.ack.0
        },
        flags: s.flags,
        window: s.window,
        options: s.options,
        payload,
    }
}

/// Deterministic xorshift64* PRNG for tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next_u64() % den < num
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
