//! Shared helpers for the `stack_*` integration tests (included with
//! `#[path]`); compiled alone it is an empty test crate.
#![allow(dead_code, clippy::too_many_arguments, clippy::new_without_default)]

use std::net::{IpAddr, SocketAddr};

use tcpkit::stack::{Config, ConnHandle, Event, EventKind, ListenerHandle, Stack};
use tcpkit::{Duration, Instant};

pub const A4: &str = "192.0.2.1";
pub const B4: &str = "192.0.2.2";
pub const A6: &str = "2001:db8::1";
pub const B6: &str = "2001:db8::2";

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

pub fn sa(s: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip(s), port)
}

pub fn config(seed: u8) -> Config {
    Config {
        isn_secret: [seed; 32],
        ..Config::default()
    }
}

pub fn stack_with(cfg: Config, addrs: &[&str]) -> Stack {
    let mut s = Stack::new(cfg).expect("valid config");
    for a in addrs {
        s.add_address(ip(a)).expect("address");
    }
    s
}

/// Two stacks joined by a lossless in-memory link, on virtual time.
#[derive(Debug)]
pub struct Pair {
    pub a: Stack,
    pub b: Stack,
    pub now: Instant,
    buf: Vec<u8>,
    /// Packets moved so far (a->b, b->a).
    pub moved: (u64, u64),
}

impl Pair {
    pub fn new() -> Pair {
        Self::with(config(1), config(2))
    }

    pub fn with(ca: Config, cb: Config) -> Pair {
        Pair {
            a: stack_with(ca, &[A4, A6]),
            b: stack_with(cb, &[B4, B6]),
            now: Instant::from_millis(1000),
            buf: vec![0u8; 65536],
            moved: (0, 0),
        }
    }

    /// Moves every packet each side has ready to the other; returns how many.
    pub fn exchange(&mut self) -> usize {
        let mut n = 0;
        while let Ok(len) = self.a.poll_transmit(self.now, &mut self.buf) {
            self.b
                .feed(self.now, &self.buf[..len])
                .expect("b accepts a's packet");
            n += 1;
            self.moved.0 += 1;
        }
        while let Ok(len) = self.b.poll_transmit(self.now, &mut self.buf) {
            self.a
                .feed(self.now, &self.buf[..len])
                .expect("a accepts b's packet");
            n += 1;
            self.moved.1 += 1;
        }
        n
    }

    /// Exchanges until quiet (no time passes).
    pub fn settle(&mut self) {
        for _ in 0..100_000 {
            if self.exchange() == 0 {
                return;
            }
        }
        panic!("link never went quiet");
    }

    /// Settles, then advances virtual time to the next timer (at most `max`) and runs it.
    pub fn advance(&mut self, max: Duration) {
        self.settle();
        self.run_next_timer(self.now + max);
        self.settle();
    }

    /// Advances virtual time to the earlier of either stack's next deadline
    /// and `limit`, and runs both stacks' timers there.
    pub fn run_next_timer(&mut self, limit: Instant) {
        let next = [self.a.poll_timeout(), self.b.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(limit)
            .min(limit);
        self.now = self.now.max(next);
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
    }

    /// Runs until `done` holds, for at most `max` of virtual time.
    pub fn run_until(&mut self, max: Duration, mut done: impl FnMut(&mut Pair) -> bool) -> bool {
        let end = self.now + max;
        loop {
            self.settle();
            if done(self) {
                return true;
            }
            if self.now >= end {
                return false;
            }
            self.advance(end - self.now);
        }
    }
}

/// `mark` repeated to `len` bytes: data recognisable anywhere it lands.
pub fn marker_of(mark: &[u8], len: usize) -> Vec<u8> {
    mark.iter().copied().cycle().take(len).collect()
}

/// Whether `hay` holds a 10-byte piece of the repeated `mark` at any phase
/// (long enough not to be chance).
pub fn holds_marker(mark: &[u8], hay: &[u8]) -> bool {
    let pieces: Vec<Vec<u8>> = (0..mark.len())
        .map(|phase| mark.iter().copied().cycle().skip(phase).take(10).collect())
        .collect();
    hay.windows(10).any(|w| pieces.iter().any(|m| m == w))
}

/// A hand-driven link between a [`Pair`]'s stacks with rules of its own
/// (losing, duplicating or recording packets): only `step` differs.
pub trait HandLink {
    /// Moves what each side has ready once; returns how many packets moved.
    fn step(&mut self, p: &mut Pair) -> usize;

    /// Steps until no packet moves (no time passes).
    fn settle(&mut self, p: &mut Pair) {
        for _ in 0..100_000 {
            if self.step(p) == 0 {
                return;
            }
        }
        panic!("link never went quiet");
    }

    /// Runs (timers included) until `done`, for at most `max` of virtual time.
    fn run(&mut self, p: &mut Pair, max: Duration, mut done: impl FnMut(&mut Pair) -> bool) -> bool
    where
        Self: Sized,
    {
        let end = p.now + max;
        loop {
            self.settle(p);
            if done(p) {
                return true;
            }
            // What `done` queued goes out before time moves (its timers are armed then).
            self.settle(p);
            if p.now >= end {
                return false;
            }
            p.run_next_timer(end);
        }
    }
}

/// Connects a -> b:80 and accepts on `l`; (client, server).
pub fn open_pair(p: &mut Pair, l: ListenerHandle) -> (ConnHandle, ConnHandle) {
    let c = p.a.connect(p.now, sa(B4, 80), 0).expect("connect");
    let mut s = None;
    assert!(
        p.run_until(Duration::from_secs(5), |p| {
            s = s.or_else(|| p.b.accept(l).ok());
            s.is_some()
        }),
        "handshake completes"
    );
    (c, s.expect("accepted"))
}

pub fn drain(s: &mut Stack) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

pub fn has(events: &[Event], kind: EventKind, handle: u64) -> bool {
    events.iter().any(|e| e.kind == kind && e.handle == handle)
}

/// Reads everything available from `c` into `out`; returns true at end of stream.
pub fn read_all(s: &mut Stack, c: ConnHandle, out: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 16384];
    loop {
        match s.recv(c, &mut buf) {
            Ok(0) => return true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => return false,
        }
    }
}

/// A deterministic byte pattern.
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// `sum` plus the 16-bit big-endian words of `data` (an odd last byte
/// padded with zero), unfolded (RFC 1071).
pub fn sum16(data: &[u8], mut sum: u32) -> u32 {
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from(c[0]) << 8
        };
        sum += u32::from(w);
    }
    sum
}

/// End-around carry: a 32-bit sum folded to 16 bits (RFC 1071).
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Internet checksum (RFC 1071), for hand-built test packets.
pub fn csum(data: &[u8], sum: u32) -> u16 {
    !fold(sum16(data, sum))
}

/// An IPv4 header + payload, with checksum; `frag` = (id, offset bytes, more).
pub fn ipv4_packet(
    src: &str,
    dst: &str,
    proto: u8,
    payload: &[u8],
    frag: Option<(u16, u16, bool)>,
) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (ip(src), ip(dst)) else {
        panic!("v4 only")
    };
    let total = 20 + payload.len();
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    let (id, off, more) = frag.unwrap_or((0x1234, 0, false));
    p[4..6].copy_from_slice(&id.to_be_bytes());
    let ff = (off / 8) | if more { 0x2000 } else { 0 } | if frag.is_none() { 0x4000 } else { 0 };
    p[6..8].copy_from_slice(&ff.to_be_bytes());
    p[8] = 64;
    p[9] = proto;
    p[12..16].copy_from_slice(&s.octets());
    p[16..20].copy_from_slice(&d.octets());
    let c = csum(&p[..20], 0);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p[20..].copy_from_slice(payload);
    p
}

/// An IPv6 packet (hop limit 64) around `payload`, whose checksum field at
/// `csum_at` (if any) is filled in with the pseudo-header of RFC 8200 §8.1.
pub fn ipv6_packet(
    src: &str,
    dst: &str,
    next: u8,
    payload: &[u8],
    csum_at: Option<usize>,
) -> Vec<u8> {
    let (IpAddr::V6(s), IpAddr::V6(d)) = (ip(src), ip(dst)) else {
        panic!("v6 only")
    };
    let mut body = payload.to_vec();
    if let Some(at) = csum_at {
        body[at..at + 2].copy_from_slice(&[0, 0]);
        let c = csum(&body, pseudo6(src, dst, next, body.len()));
        body[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
    let mut pkt = vec![0x60, 0, 0, 0];
    pkt.extend_from_slice(&(body.len() as u16).to_be_bytes());
    pkt.extend_from_slice(&[next, 64]);
    pkt.extend_from_slice(&s.octets());
    pkt.extend_from_slice(&d.octets());
    pkt.extend_from_slice(&body);
    pkt
}

/// IPv6 pseudo-header sum (RFC 8200 §8.1).
pub fn pseudo6(src: &str, dst: &str, next: u8, len: usize) -> u32 {
    let (IpAddr::V6(s), IpAddr::V6(d)) = (ip(src), ip(dst)) else {
        panic!("v6 only")
    };
    let mut sum = 0u32;
    for c in s.octets().chunks(2).chain(d.octets().chunks(2)) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    sum + u32::from(next) + len as u32
}

/// IPv4 pseudo-header sum (RFC 9293 §3.1).
pub fn pseudo4(src: &str, dst: &str, proto: u8, len: usize) -> u32 {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (ip(src), ip(dst)) else {
        panic!("v4 only")
    };
    let mut sum = 0u32;
    for c in s.octets().chunks(2).chain(d.octets().chunks(2)) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    sum + u32::from(proto) + len as u32
}

/// A UDP datagram (header + data) with checksum over IPv4.
pub fn udp4(src: &str, sport: u16, dst: &str, dport: u16, data: &[u8]) -> Vec<u8> {
    let len = 8 + data.len();
    let mut u = vec![0u8; len];
    u[0..2].copy_from_slice(&sport.to_be_bytes());
    u[2..4].copy_from_slice(&dport.to_be_bytes());
    u[4..6].copy_from_slice(&(len as u16).to_be_bytes());
    u[8..].copy_from_slice(data);
    let c = csum(&u, pseudo4(src, dst, 17, len));
    u[6..8].copy_from_slice(&c.to_be_bytes());
    u
}

/// A bare TCP segment (20-byte header, optional MSS option) with checksum over IPv4.
pub fn tcp4(
    src: &str,
    sport: u16,
    dst: &str,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    data: &[u8],
) -> Vec<u8> {
    let len = 20 + data.len();
    let mut t = vec![0u8; len];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&65535u16.to_be_bytes());
    t[20..].copy_from_slice(data);
    let c = csum(&t, pseudo4(src, dst, 6, len));
    t[16..18].copy_from_slice(&c.to_be_bytes());
    t
}

/// xorshift64: a seeded, repeatable source for randomised tests.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform enough below `n` for test inputs.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
