//! The in-flight pool also keeps the buffers (rings, RACK log) of boxes
//! released by IDLE connections, for the next connection that wakes up.
//! Those buffers held another connection's bytes: none of them may reach
//! a woken connection's application or the wire, and loss state (SACK
//! scoreboard, RACK log, recovery) must start empty. Dirty connections
//! move a marker pattern through a lossy start (one segment lost each way:
//! SACK, RACK and recovery all ran), are read out completely and go idle;
//! meanwhile a round-robin of exchanges keeps idle releases coming, so the
//! pool keeps the marker-holding memory and hands it to connections that
//! wake up (other ones, and the dirty ones themselves). Counted with the
//! counting allocator (this thread only).

#[path = "stack_util.rs"]
mod util;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::thread_live_bytes;

use tcpkit::stack::{Config, ConnHandle, ListenAddr, Stack};
use tcpkit::Duration;
use util::*;

const MARK: &[u8] = b"#IDLE-STALE-9#";

fn marker(len: usize) -> Vec<u8> {
    marker_of(MARK, len)
}

/// Whether `hay` holds a 10-byte piece of the marker at any phase.
fn has_marker(hay: &[u8]) -> bool {
    holds_marker(MARK, hay)
}

/// (header offset, TCP segment) of an emitted IPv4 packet.
fn tcp_of(pkt: &[u8]) -> &[u8] {
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
    &pkt[ihl..total]
}

fn payload_len(pkt: &[u8]) -> usize {
    let tcp = tcp_of(pkt);
    tcp.len() - usize::from(tcp[12] >> 4) * 4
}

/// The TCP checksum of an IPv4 packet verifies (RFC 9293 §3.1).
fn checksum_ok(pkt: &[u8]) -> bool {
    let tcp = tcp_of(pkt);
    let mut sum = 0u32;
    for w in pkt[12..20].chunks(2) {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    sum += 6 + tcp.len() as u32;
    csum(tcp, sum) == 0
}

/// A link recording every packet; `drop_next` loses the next data segment
/// (either direction) once each.
struct Wire {
    pkts: Vec<Vec<u8>>,
    drop_next: [bool; 2],
    buf: Vec<u8>,
}

impl Wire {
    fn new() -> Wire {
        Wire {
            pkts: Vec::new(),
            drop_next: [false; 2],
            buf: vec![0u8; 65536],
        }
    }
}

impl HandLink for Wire {
    fn step(&mut self, p: &mut Pair) -> usize {
        let mut n = 0;
        for dir in 0..2 {
            loop {
                let (from, to) = if dir == 0 {
                    (&mut p.a, &mut p.b)
                } else {
                    (&mut p.b, &mut p.a)
                };
                let Ok(len) = from.poll_transmit(p.now, &mut self.buf) else {
                    break;
                };
                n += 1;
                let pkt = self.buf[..len].to_vec();
                if self.drop_next[dir] && payload_len(&pkt) > 0 {
                    self.drop_next[dir] = false;
                    continue;
                }
                assert_eq!(to.feed(p.now, &pkt), Ok(()), "peer takes the packet");
                self.pkts.push(pkt);
            }
        }
        n
    }
}

fn read_into(s: &mut Stack, c: ConnHandle, out: &mut Vec<u8>) {
    let mut buf = [0u8; 1500];
    while let Ok(n @ 1..) = s.recv(c, &mut buf) {
        out.extend_from_slice(&buf[..n]);
    }
}

/// One request/response of `len` bytes each way on `(c, s)`; both arrive
/// intact and free of the marker; then `gap` of virtual time passes.
fn exchange(
    p: &mut Pair,
    w: &mut Wire,
    (c, s): (ConnHandle, ConnHandle),
    len: usize,
    seed: u32,
    gap: Duration,
    pre: bool,
) {
    let mut req = pattern(len, seed);
    // The byte the caller may have sent first (see the caller).
    if pre {
        req.insert(0, b'w');
    }
    let resp = pattern(len, seed + 1);
    let len = req.len();
    let mut at_a = usize::from(pre);
    let (mut at_b, mut got_a, mut got_b) = (0, Vec::new(), Vec::new());
    let ok = w.run(p, Duration::from_secs(30), |p| {
        if let Ok(n) = p.a.send(c, &req[at_a..]) {
            at_a += n;
        }
        if let Ok(n) = p.b.send(s, &resp[at_b..]) {
            at_b += n;
        }
        read_into(&mut p.b, s, &mut got_b);
        read_into(&mut p.a, c, &mut got_a);
        got_a.len() >= resp.len() && got_b.len() >= len
    });
    assert!(ok, "exchange completes");
    assert!(
        !has_marker(&got_a) && !has_marker(&got_b),
        "marker reached the application"
    );
    assert!(got_b == req && got_a == resp, "streams intact");
    let end = p.now + gap;
    w.run(p, gap, |p| p.now >= end);
    while p.a.poll_event().is_some() || p.b.poll_event().is_some() {}
}

/// Loss state of a connection end: (retransmitted segments, RTOs, SACK recoveries).
fn loss(s: &Stack, h: ConnHandle) -> (u64, u64, u64) {
    let i = s.info(h).expect("info").tcp;
    (i.segs_retransmitted, i.timeouts, i.sack_recoveries)
}

fn cfg(seed: u8) -> Config {
    Config {
        send_buffer: 16 * 1024,
        recv_buffer: 16 * 1024,
        ..config(seed)
    }
}

#[test]
fn idle_released_marker_memory_never_reaches_a_woken_connection() {
    let mut p = Pair::with(cfg(1), cfg(2));
    let mut w = Wire::new();
    let l = p.b.listen(ListenAddr::Any, 80, 128).expect("listen");
    let conns: Vec<_> = (0..40).map(|_| open_pair(&mut p, l)).collect();
    drain(&mut p.a);
    drain(&mut p.b);
    // Everything idle-released and trimmed: the pool holds no rings.
    w.run(&mut p, Duration::from_secs(5), |_| false);

    // Dirty connections: a lossy start each way, all read out.
    let dirty = &conns[..10];
    let data = marker(3000);
    for &(c, s) in dirty {
        w.drop_next = [true, true];
        let (mut at_a, mut at_b, mut got_a, mut got_b) = (0, 0, Vec::new(), Vec::new());
        let ok = w.run(&mut p, Duration::from_secs(30), |p| {
            if let Ok(n) = p.a.send(c, &data[at_a..]) {
                at_a += n;
            }
            if let Ok(n) = p.b.send(s, &data[at_b..]) {
                at_b += n;
            }
            read_into(&mut p.a, c, &mut got_a);
            read_into(&mut p.b, s, &mut got_b);
            got_a.len() == data.len() && got_b.len() == data.len()
        });
        assert!(
            ok && got_a == data && got_b == data,
            "dirty connection delivers: {ok} {} {} {at_a} {at_b} {:?} {:?}",
            got_a.len(),
            got_b.len(),
            p.a.info(c),
            p.a.state(c)
        );
        assert!(
            loss(&p.a, c).0 > 0 && loss(&p.b, s).0 > 0,
            "the loss was repaired"
        );
        // 300 ms apart: the first dirty boxes are idle-released while later
        // ones still wait for their release, so the pool keeps their memory
        // (and only theirs) for the first connections that wake below.
        let end = p.now + Duration::from_millis(300);
        w.run(&mut p, Duration::from_millis(300), |p| p.now >= end);
    }
    let base: Vec<_> = conns
        .iter()
        .map(|&(c, s)| (loss(&p.a, c), loss(&p.b, s)))
        .collect();
    w.pkts.clear();

    // Round-robin exchanges, 80 ms apart: each connection is 3.2 s idle
    // between its turns, so its box was idle-released (1-2 s) each time and
    // releases keep coming (the pool keeps idle memory meanwhile). Order:
    // clean and dirty connections interleaved, so both kinds wake up.
    let order: Vec<usize> = (0..40).map(|k| (k * 7) % 40).collect();
    let mut handed = 0;
    for round in 0..4 {
        for (k, &i) in order.iter().enumerate() {
            let len = 100 + (k * 37 + round * 11) % 900;
            // A woken end takes a pooled box with its first send: the pool's
            // buffer memory (in the table bytes) shrinks by what it hands over.
            let before = p.a.table_heap_bytes();
            let (c, _) = conns[i];
            assert_eq!(p.a.send(c, b"w"), Ok(1));
            if before >= p.a.table_heap_bytes() + 1024 {
                handed += 1;
            }
            exchange(
                &mut p,
                &mut w,
                conns[i],
                len,
                (round * 100 + k) as u32,
                Duration::from_millis(80),
                true,
            );
        }
    }
    // Woken connections did take pooled buffer memory (the test means
    // something only then).
    println!("pooled buffers handed over {handed} times in 160 exchanges");
    assert!(handed >= 20, "pooled buffers handed over {handed} times");
    let leaked = w.pkts.iter().filter(|pkt| has_marker(pkt)).count();
    assert_eq!(leaked, 0, "packets carrying marker bytes");
    assert!(
        w.pkts.iter().all(|pkt| checksum_ok(pkt)),
        "a bad checksum on the wire"
    );
    // Lossless since: any retransmission, RTO or recovery would come from
    // loss state left in reused memory.
    for (i, &(c, s)) in conns.iter().enumerate() {
        assert_eq!(
            (loss(&p.a, c), loss(&p.b, s)),
            base[i],
            "connection {i} saw loss state"
        );
    }
}

/// Alternating bursts and idle periods over many connections: after each
/// idle period the memory is back at its level, the pool's accounting in
/// the table bytes matches the heap, and nothing grows from cycle to cycle.
#[test]
fn idle_wake_cycles_do_not_grow_memory() {
    let mut p = Pair::with(cfg(3), cfg(4));
    let mut w = Wire::new();
    let l = p.b.listen(ListenAddr::Any, 80, 128).expect("listen");
    let conns: Vec<_> = (0..48).map(|_| open_pair(&mut p, l)).collect();
    drain(&mut p.a);
    drain(&mut p.b);
    w.run(&mut p, Duration::from_secs(5), |_| false);
    let mut levels = Vec::with_capacity(8);
    // The level before any burst: every box released, the pool trimmed.
    drain(&mut p.a);
    drain(&mut p.b);
    levels.push((
        thread_live_bytes(),
        p.a.table_heap_bytes() + p.b.table_heap_bytes(),
    ));
    for cycle in 0..6usize {
        // A burst of varying width and spacing, some connections larger.
        let width = 8 + (cycle * 13) % 40;
        for k in 0..3 * width {
            let i = (k * 5 + cycle) % conns.len();
            let len = if k % 7 == 0 { 6000 } else { 200 };
            let gap = Duration::from_millis(20 + (cycle as u64 * 30) % 120);
            exchange(
                &mut p,
                &mut w,
                conns[i],
                len,
                (cycle * 1000 + k) as u32,
                gap,
                false,
            );
        }
        w.pkts = Vec::new();
        w.run(&mut p, Duration::from_secs(5), |_| false);
        drain(&mut p.a);
        drain(&mut p.b);
        levels.push((
            thread_live_bytes(),
            p.a.table_heap_bytes() + p.b.table_heap_bytes(),
        ));
    }
    println!("idle levels (heap, table bytes) per cycle: {levels:?}");
    let (heap0, table0) = levels[0];
    for (cycle, &(heap, table)) in levels.iter().enumerate() {
        // The heap moves with the stacks' own accounting (the test's own
        // vectors are the same size at each measurement).
        let heap_delta = heap - heap0;
        let table_delta = table as isize - table0 as isize;
        assert!(
            (heap_delta - table_delta).abs() <= 4096,
            "cycle {cycle}: heap {heap_delta:+} vs accounted {table_delta:+}"
        );
        // Idle again, the pool may keep bare boxes (at most CAP = 8 per
        // stack, a few KiB), not the buffers of woken connections (up to
        // 64 KiB per stack); later cycles keep the first one's level.
        assert!(
            table <= table0 + 16 * 1024,
            "cycle {cycle}: idle memory grew {table0} -> {table}"
        );
        assert!(
            cycle < 2 || table <= levels[1].1 + 4096,
            "cycle {cycle}: idle memory grew from cycle to cycle: {levels:?}"
        );
    }
}
