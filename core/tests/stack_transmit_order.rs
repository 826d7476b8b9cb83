//! The order in which one stack's connections get to send: round robin over
//! the ready list, one segment per turn, whatever the list's length.

#[path = "stack_util.rs"]
mod util;

use std::collections::VecDeque;

use tcpkit::stack::{ConnHandle, ListenAddr};
use util::*;

/// TCP source port of an IPv4 packet.
fn source_port(pkt: &[u8]) -> u16 {
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    u16::from_be_bytes([pkt[ihl], pkt[ihl + 1]])
}

/// Round robin as a model: each turn the front sends one segment and goes
/// to the back while it has more.
fn round_robin(mut queue: VecDeque<(u16, usize)>) -> Vec<u16> {
    let mut order = Vec::new();
    while let Some((port, left)) = queue.pop_front() {
        order.push(port);
        if left > 1 {
            queue.push_back((port, left - 1));
        }
    }
    order
}

/// Three connections with different amounts queued (each within the initial
/// window): their segments leave in round-robin order, and the one left last
/// sends the rest of its data alone.
#[test]
fn connections_take_turns_one_segment_each() {
    let mut p = Pair::new();
    let l = p.b.listen(ListenAddr::Any, 80, 16).expect("listen");
    let conns: Vec<ConnHandle> = (0..3).map(|_| open_pair(&mut p, l).0).collect();
    p.settle();
    drain(&mut p.a);
    let ports: Vec<u16> = conns
        .iter()
        .map(|&c| p.a.local_endpoint(c).expect("local").port())
        .collect();
    for (i, &c) in conns.iter().enumerate() {
        let data = pattern([5_000, 3_000, 11_000][i], i as u32);
        assert_eq!(p.a.send(c, &data), Ok(data.len()));
    }
    let mut buf = vec![0u8; 2048];
    let mut seen = Vec::new();
    while let Ok(n) = p.a.poll_transmit(p.now, &mut buf) {
        seen.push(source_port(&buf[..n]));
    }
    let counts: Vec<(u16, usize)> = ports
        .iter()
        .map(|&port| (port, seen.iter().filter(|&&s| s == port).count()))
        .collect();
    assert!(counts.iter().all(|&(_, n)| n >= 2), "{counts:?}");
    assert!(
        counts[2].1 > counts[0].1 + 2,
        "the last one sends alone at the end: {counts:?}"
    );
    assert_eq!(seen, round_robin(counts.into_iter().collect()));
}
