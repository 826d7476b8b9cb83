//! The tcpkit side: two `Stack`s in one thread, packets handed over directly
//! through one reused buffer, virtual time.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tcpkit::stack::{Config, ConnHandle, ListenAddr, ListenerHandle, Stack};
use tcpkit::{Duration, Instant};

use super::{live_heap, median, pattern, rss_bytes, Clock};

pub const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
pub const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
pub const PORT: u16 = 80;

pub fn config(seed: u8, mtu: usize, buffer: usize) -> Config {
    Config {
        mtu: mtu as u32,
        isn_secret: [seed; 32],
        send_buffer: buffer as u32,
        recv_buffer: buffer as u32,
        ..Config::default()
    }
}

pub struct Pair {
    pub a: Stack,
    pub b: Stack,
    pub now: Instant,
    pkt: Vec<u8>,
}

impl Pair {
    pub fn new(mtu: usize, buffer: usize) -> Pair {
        let mut a = Stack::new(config(1, mtu, buffer)).expect("config");
        let mut b = Stack::new(config(2, mtu, buffer)).expect("config");
        a.add_address(A).expect("address");
        b.add_address(B).expect("address");
        Pair {
            a,
            b,
            now: Instant::from_millis(1000),
            pkt: vec![0u8; 65536],
        }
    }

    /// Moves every ready packet a->b, then b->a; returns how many moved.
    pub fn exchange(&mut self) -> usize {
        let mut n = 0;
        while let Ok(len) = self.a.poll_transmit(self.now, &mut self.pkt) {
            let _ = self.b.feed(self.now, &self.pkt[..len]);
            n += 1;
        }
        while let Ok(len) = self.b.poll_transmit(self.now, &mut self.pkt) {
            let _ = self.a.feed(self.now, &self.pkt[..len]);
            n += 1;
        }
        n
    }

    pub fn settle(&mut self) {
        while self.exchange() != 0 {}
    }

    pub fn drain_events(&mut self) {
        while self.a.poll_event().is_some() {}
        while self.b.poll_event().is_some() {}
    }

    /// Jumps virtual time to the next deadline of either stack and runs it;
    /// false if neither has one.
    pub fn jump(&mut self) -> bool {
        let next = match (self.a.poll_timeout(), self.b.poll_timeout()) {
            (Some(x), Some(y)) => x.min(y),
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => return false,
        };
        self.now = self.now.max(next);
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
        true
    }

    /// Advances virtual time by `d` and runs the timers.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
        self.settle();
    }

    /// Settles, jumping time while `done` does not hold.
    pub fn run_until(&mut self, mut done: impl FnMut(&mut Pair) -> bool) {
        for _ in 0..10_000 {
            self.settle();
            if done(self) {
                return;
            }
            assert!(self.jump(), "tcpkit pair stalled with no deadline");
        }
        panic!("tcpkit pair: condition never held");
    }

    pub fn connect_one(
        &mut self,
        l: ListenerHandle,
        local: SocketAddr,
    ) -> (ConnHandle, ConnHandle) {
        let c = self
            .a
            .connect_from(self.now, local, SocketAddr::new(B, PORT))
            .expect("connect");
        let mut s = None;
        self.run_until(|p| {
            if s.is_none() {
                s = p.b.accept(l).ok();
            }
            s.is_some()
        });
        (c, s.expect("accepted"))
    }
}

/// Bulk transfer a -> b of `bytes`; Gbit/s of payload.
pub fn bulk(mtu: usize, bytes: usize) -> f64 {
    let mut p = Pair::new(mtu, 256 * 1024);
    let l = p.b.listen(ListenAddr::Any, PORT, 16).expect("listen");
    let (c, s) = p.connect_one(l, SocketAddr::new(A, 0));
    let app = pattern(64 * 1024);
    let mut rbuf = vec![0u8; 64 * 1024];
    let (mut sent, mut recvd) = (0usize, 0usize);
    let mut stalls = 0u32;
    let t0 = Clock::start();
    while recvd < bytes {
        let mut progress = p.exchange() != 0;
        while sent < bytes {
            let off = sent % app.len();
            let end = app.len().min(off + bytes - sent);
            match p.a.send(c, &app[off..end]) {
                Ok(n) if n > 0 => {
                    sent += n;
                    progress = true;
                }
                _ => break,
            }
        }
        progress |= p.exchange() != 0;
        while let Ok(n) = p.b.recv(s, &mut rbuf) {
            if n == 0 {
                break;
            }
            // Spot check: the bytes are the pattern at this stream offset.
            let want = app[(recvd + n - 1) % app.len()];
            assert_eq!(rbuf[n - 1], want, "tcpkit delivered wrong data");
            recvd += n;
            progress = true;
        }
        p.drain_events();
        if !progress {
            stalls += 1;
            assert!(p.jump(), "tcpkit bulk stalled");
        }
    }
    let secs = t0.secs();
    if std::env::var("TCPKIT_BENCH_DEBUG").is_ok() {
        let k = p.a.counters();
        eprintln!(
            "tcpkit bulk mtu {mtu}: stalls {stalls} pkts a->b {} b->a {} virtual {:?}",
            k.packets_out,
            p.b.counters().packets_out,
            p.now
        );
    }
    bytes as f64 * 8.0 / secs / 1e9
}

/// connect + 1 KB + close, TIME-WAIT included; cycles per second.
pub fn cycles(n: usize) -> f64 {
    let mut p = Pair::new(1500, 256 * 1024);
    let l = p.b.listen(ListenAddr::Any, PORT, 128).expect("listen");
    let kb = pattern(1024);
    let mut rbuf = vec![0u8; 4096];
    let t0 = Clock::start();
    for _ in 0..n {
        let (c, s) = p.connect_one(l, SocketAddr::new(A, 0));
        assert_eq!(p.a.send(c, &kb), Ok(kb.len()));
        p.a.shutdown(c).expect("shutdown");
        let mut got = 0;
        p.run_until(|p| {
            while let Ok(k) = p.b.recv(s, &mut rbuf) {
                if k == 0 {
                    break;
                }
                got += k;
            }
            got == kb.len() && p.b.recv(s, &mut rbuf) == Ok(0)
        });
        p.b.close(s).expect("close server");
        p.settle();
        p.a.close(c).expect("close client");
        // TIME-WAIT (60 s) runs out, so every cycle ends with no connection.
        p.advance(Duration::from_secs(61));
        p.drain_events();
    }
    let secs = t0.secs();
    assert_eq!(p.a.counters().connections_active, 0, "client reaped");
    assert_eq!(p.b.counters().connections_active, 0, "server reaped");
    n as f64 / secs
}

/// Client addresses: 16000 connections each (the ephemeral range is 16384).
fn client_addr(i: usize) -> IpAddr {
    let k = i / 16_000;
    IpAddr::V4(Ipv4Addr::new(10, 1, (k / 250) as u8, (k % 250 + 1) as u8))
}

/// `n` established idle connections a -> b; returns them and the heap bytes
/// per connection end (each connection has one end in each stack).
fn setup(n: usize, buffer: usize) -> (Pair, Vec<(ConnHandle, ConnHandle)>, f64) {
    let mut conns = Vec::with_capacity(n);
    let before = live_heap();
    let mut p = Pair::new(1500, buffer);
    for k in 0..n.div_ceil(16_000) {
        p.a.add_address(client_addr(k * 16_000)).expect("address");
    }
    let l = p.b.listen(ListenAddr::Any, PORT, 65535).expect("listen");
    let mut pending = Vec::with_capacity(1000);
    let mut by_peer = std::collections::HashMap::with_capacity(1000);
    for i in 0..n {
        let c =
            p.a.connect_from(
                p.now,
                SocketAddr::new(client_addr(i), 0),
                SocketAddr::new(B, PORT),
            )
            .expect("connect");
        pending.push(c);
        if pending.len() == 1000 || i + 1 == n {
            p.settle();
            while let Ok(s) = p.b.accept(l) {
                by_peer.insert(p.b.remote_endpoint(s).expect("remote"), s);
            }
            for c in pending.drain(..) {
                let local = p.a.local_endpoint(c).expect("local");
                conns.push((c, by_peer.remove(&local).expect("accepted")));
            }
            p.drain_events();
        }
    }
    drop(by_peer);
    drop(pending);
    let after = live_heap();
    let per_end = (after - before) as f64 / (2 * n) as f64;
    (p, conns, per_end)
}

/// One 100-byte request and 100-byte response on `(c, s)`, delayed ACKs run.
fn exchange(p: &mut Pair, (c, s): (ConnHandle, ConnHandle), msg: &[u8], buf: &mut [u8]) {
    assert_eq!(p.a.send(c, msg), Ok(msg.len()));
    p.settle();
    assert_eq!(p.b.recv(s, buf), Ok(msg.len()), "request arrives");
    assert_eq!(p.b.send(s, msg), Ok(msg.len()));
    p.settle();
    assert_eq!(p.a.recv(c, buf), Ok(msg.len()), "response arrives");
    // Delayed ACKs go out, so every exchange ends in the same state.
    p.advance(Duration::from_millis(50));
    p.drain_events();
}

/// Timer-queue operations and connection visits both stacks counted so far.
fn work(p: &Pair) -> (u64, u64) {
    let (a, b) = (p.a.counters(), p.b.counters());
    (
        a.work_timer_ops + b.work_timer_ops,
        a.work_conn_visits + b.work_conn_visits,
    )
}

/// Median ns per exchange over `runs`, heap bytes per connection end, and
/// the stacks' work per timed exchange (timer-queue operations, connection
/// visits): constant in N when the cost difference is the caches'.
pub fn scale(n: usize, runs: usize) -> (f64, f64, (f64, f64)) {
    let (mut p, conns, per_end) = setup(n, 2048);
    let msg = pattern(100);
    let mut buf = vec![0u8; 2048];
    for &pair in conns.iter().take(100) {
        exchange(&mut p, pair, &msg, &mut buf);
    }
    let rounds = 1000;
    let mut t = Vec::with_capacity(runs);
    let before = work(&p);
    for run in 0..runs {
        let t0 = Clock::start();
        for r in 0..rounds {
            let k = (run * rounds + r) * 7919 % conns.len();
            exchange(&mut p, conns[k], &msg, &mut buf);
        }
        t.push(t0.secs() * 1e9 / rounds as f64);
    }
    let after = work(&p);
    let exchanges = (runs * rounds) as f64;
    let per_exchange = (
        (after.0 - before.0) as f64 / exchanges,
        (after.1 - before.1) as f64 / exchanges,
    );
    (median(t), per_end, per_exchange)
}

/// `n` idle established connections: heap bytes per end, VmRSS, setup seconds.
pub fn idle(n: usize) -> (f64, u64, f64) {
    let t0 = Clock::start();
    let (p, conns, per_end) = setup(n, 256 * 1024);
    let secs = t0.secs();
    let rss = rss_bytes();
    std::hint::black_box((&p, &conns));
    (per_end, rss, secs)
}
