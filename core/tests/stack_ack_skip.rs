//! Release builds skip the SACK scoreboard and recovery steps for an ACK
//! that moves nothing while nothing is outstanding (no SACK blocks, empty
//! scoreboard, idle RACK, no recovery); debug builds run them and assert
//! nothing changed. These scenarios matter in `cargo test --release`,
//! where the skip is live: a network that duplicates every ACK (so many
//! ACKs arrive that move nothing, before, during and after loss), a lost
//! segment, and a receiver that closes its window. The loss must still be
//! repaired by SACK/RACK recovery (not by a retransmission timeout), and
//! both streams arrive intact.

#[path = "stack_util.rs"]
mod util;

use tcpkit::stack::{ConnHandle, ListenAddr};
use tcpkit::Duration;
use util::*;

/// Payload length of an emitted IPv4 TCP packet.
fn payload_len(pkt: &[u8]) -> usize {
    let ihl = usize::from(pkt[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
    total - ihl - usize::from(pkt[ihl + 12] >> 4) * 4
}

/// a->b loses the `lose`-th data segment (once); b->a delivers every
/// packet `dup` times.
struct Net {
    lose: usize,
    seen: usize,
    dup: usize,
    buf: Vec<u8>,
}

impl HandLink for Net {
    fn step(&mut self, p: &mut Pair) -> usize {
        let mut n = 0;
        while let Ok(len) = p.a.poll_transmit(p.now, &mut self.buf) {
            n += 1;
            if payload_len(&self.buf[..len]) > 0 {
                self.seen += 1;
                if self.seen == self.lose {
                    continue;
                }
            }
            assert_eq!(p.b.feed(p.now, &self.buf[..len]), Ok(()));
        }
        while let Ok(len) = p.b.poll_transmit(p.now, &mut self.buf) {
            n += 1;
            for _ in 0..self.dup {
                assert_eq!(p.a.feed(p.now, &self.buf[..len]), Ok(()));
            }
        }
        n
    }
}

/// Sends `data` a->b (and a short reply b->a first, so a has taken ACKs
/// that move nothing while idle); b reads only when `reading` says so.
/// Returns what b received.
fn transfer(
    p: &mut Pair,
    net: &mut Net,
    (c, s): (ConnHandle, ConnHandle),
    data: &[u8],
    mut reading: impl FnMut(&Pair) -> bool,
) -> Vec<u8> {
    // Idle ACK traffic first: a reply and its ACKs, all duplicated.
    assert_eq!(p.b.send(s, b"ready"), Ok(5));
    let mut got_a = Vec::new();
    assert!(net.run(p, Duration::from_secs(5), |p| {
        read_all(&mut p.a, c, &mut got_a);
        got_a == b"ready"
    }));
    let (mut at, mut got) = (0, Vec::new());
    let ok = net.run(p, Duration::from_secs(120), |p| {
        if let Ok(n) = p.a.send(c, &data[at..]) {
            at += n;
        }
        if reading(p) {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = p.b.recv(s, &mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        got.len() == data.len()
    });
    assert!(ok, "transfer completes ({} of {})", got.len(), data.len());
    got
}

#[test]
fn a_loss_under_duplicated_acks_is_repaired_by_sack_recovery() {
    // Segment 1: every ACK until the repair is a duplicate ACK (none
    // advances to carry the SACK blocks); later ones: after ACKs that do.
    for lose in [1, 3, 60] {
        let mut p = Pair::new();
        let l = p.b.listen(ListenAddr::Any, 80, 4).expect("listen");
        let pair = open_pair(&mut p, l);
        let mut net = Net {
            lose,
            seen: 0,
            dup: 3,
            buf: vec![0u8; 65536],
        };
        let data = pattern(200_000, lose as u32);
        let got = transfer(&mut p, &mut net, pair, &data, |_| true);
        assert!(got == data, "lose {lose}: stream intact");
        let i = p.a.info(pair.0).expect("info").tcp;
        // One segment lost: fast recovery repairs it (RFC 6675 / RFC 8985),
        // no RTO; at most the segment and a loss probe are resent.
        assert_eq!(i.timeouts, 0, "lose {lose}: {i:?}");
        assert_eq!(i.sack_recoveries, 1, "lose {lose}: {i:?}");
        assert!(
            (1..=2).contains(&i.segs_retransmitted),
            "lose {lose}: {i:?}"
        );
    }
}

#[test]
fn a_zero_window_under_duplicated_acks_loses_nothing() {
    let mut p = Pair::new();
    let l = p.b.listen(ListenAddr::Any, 80, 4).expect("listen");
    let pair = open_pair(&mut p, l);
    let mut net = Net {
        lose: 0,
        seen: 0,
        dup: 2,
        buf: vec![0u8; 65536],
    };
    let data = pattern(1_000_000, 9);
    let start = p.now;
    // The receiver reads nothing for 3 s (its window closes: persist
    // probes, window updates that move nothing), then reads on.
    let mut closed = false;
    let got = transfer(&mut p, &mut net, pair, &data, |p| {
        closed |= p.a.info(pair.0).is_ok_and(|i| i.tcp.snd_wnd == 0);
        p.now > start + Duration::from_secs(3)
    });
    assert!(closed, "the window closed");
    assert!(got == data, "stream intact");
    let i = p.a.info(pair.0).expect("info").tcp;
    assert_eq!((i.sack_recoveries, i.timeouts), (0, 0), "{i:?}");
}
