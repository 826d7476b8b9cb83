//! Hostile and random input: no panic, invariants hold, memory stays bounded
//! (TESTING.md level 7, for one connection).
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod tcp_support;
use tcp_support::*;
use tcpkit::tcp::{ConnConfig, Segment, SeqNum, State};
use tcpkit::time::Duration;
use tcpkit::wire::{TcpFlags, TcpOptions};

fn random_segment<'a>(rng: &mut Rng, h: &Harness, payload: &'a [u8]) -> Segment<'a> {
    // Mostly near the live sequence space, sometimes anywhere.
    let near = |rng: &mut Rng, base: u32| -> u32 {
        if rng.chance(1, 8) {
            rng.next_u64() as u32
        } else {
            base.wrapping_add((rng.below(200_000) as u32).wrapping_sub(100_000))
        }
    };
    let mut options = TcpOptions::default();
    if rng.chance(1, 3) {
        options.timestamps = Some((rng.next_u64() as u32, rng.next_u64() as u32));
    }
    if rng.chance(1, 3) {
        let n = rng.below(5) as u8;
        for i in 0..usize::from(n) {
            let l = near(rng, h.iss);
            options.sack_blocks[i] = (l, l.wrapping_add(rng.below(10_000) as u32));
        }
        options.sack_block_count = n;
    }
    if rng.chance(1, 10) {
        options.mss = Some(rng.next_u64() as u16);
        options.window_scale = Some(rng.below(40) as u8);
    }
    let len = rng.below(payload.len() as u64 + 1) as usize;
    Segment {
        seq: SeqNum(near(rng, h.irs)),
        ack: SeqNum(near(rng, h.iss)),
        flags: TcpFlags(rng.next_u64() as u8),
        window: rng.next_u64() as u16,
        options,
        payload: &payload[..len],
    }
}

fn hammer(seed: u64, mut h: Harness, rounds: usize) {
    let mut rng = Rng(seed);
    let payload = vec![0x5au8; 3000];
    let mut buf = [0u8; 2048];
    for _ in 0..rounds {
        match rng.below(10) {
            0 => {
                h.advance(Duration::from_millis(rng.below(3000)));
            }
            1 => {
                let _ = h.conn.send(&payload[..rng.below(3000) as usize]);
            }
            2 => {
                let _ = h.conn.recv(&mut buf);
            }
            _ => {
                let seg = random_segment(&mut rng, &h, &payload);
                h.conn.handle_segment(h.now, &seg);
            }
        }
        for _ in 0..64 {
            let wants = h.conn.wants_transmit();
            let Some(s) = h.conn.poll_transmit(h.now, 1500) else {
                assert!(!wants, "wants_transmit() disagrees with poll_transmit()");
                break;
            };
            assert!(s.payload_len() <= 1500);
        }
        while h.conn.poll_event().is_some() {}
        let info = h.conn.info();
        assert!(
            info.bytes_readable <= 256 * 1024 && h.conn.heap_bytes() <= 1 << 20,
            "{info:?}"
        );
        if let Some(t) = h.conn.poll_timeout() {
            assert!(t >= h.now || h.conn.state() != State::Closed);
        }
    }
}

#[test]
fn random_segments_never_panic_in_any_state() {
    for seed in 1..=12u64 {
        let cfg = if seed % 2 == 0 {
            ConnConfig::default()
        } else {
            plain_cfg()
        };
        let h = match seed % 3 {
            0 => Harness::client(&cfg, seed as u32 * 7919, 0xffff_fff0),
            1 => Harness::established_client(&cfg, u32::MAX - 10, seed as u32, 65535),
            _ => Harness::established_server(&cfg, 5, u32::MAX - 3, 65535),
        };
        hammer(seed, h, 3000);
    }
}

#[test]
fn blind_in_window_injection_is_challenged_not_obeyed() {
    // RFC 5961: an attacker who guesses a sequence number inside the window
    // (but not exactly RCV.NXT) gets challenge ACKs, and the connection lives.
    let mut h = Harness::established_client(&plain_cfg(), 100, 200, 65535);
    let mut rng = Rng(99);
    for _ in 0..1000 {
        let off = 1 + rng.below(60_000) as u32;
        if rng.chance(1, 2) {
            h.feed(R, off, 0, 0, &[]);
        } else {
            h.feed(S, off, 0, 1000, &[]);
        }
    }
    assert_eq!(h.conn.state(), State::Established);
    let acks = h.out();
    assert!(
        acks.len() <= 10,
        "challenge ACKs rate limited: {}",
        acks.len()
    );
}

#[test]
fn out_of_order_flood_stays_within_the_window() {
    let cfg = ConnConfig {
        recv_buffer: 64 * 1024,
        ..ConnConfig::default()
    };
    let mut h = Harness::established_client(&cfg, 1, 2, 65535);
    let chunk = [1u8; 100];
    let mut rng = Rng(5);
    let mut sacks = 0;
    for _ in 0..20_000 {
        // Everywhere from just past RCV.NXT to well beyond the window.
        let off = 2 + rng.below(200_000) as u32;
        h.feed(A, off, 1, 65535, &chunk);
        sacks += h
            .out()
            .iter()
            .filter(|s| s.options.sack_block_count > 0)
            .count();
    }
    assert!(sacks == 0, "SACK was not negotiated");
    assert!(
        h.conn.heap_bytes() <= 64 * 1024 + 4096,
        "heap {}",
        h.conn.heap_bytes()
    );
    assert_eq!(h.conn.info().bytes_received, 0);
}
