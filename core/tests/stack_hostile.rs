//! Hostile input: random TCP segments with valid checksums (so they reach the
//! state machines, not just the parsers), SYN floods, and the connection limit.

#[path = "stack_util.rs"]
mod util;

use tcpkit::stack::{Config, Error, ListenAddr, State};
use tcpkit::Duration;
use util::*;

/// A TCP segment with arbitrary options bytes and a correct checksum.
fn tcp_with_options(
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    opts: &[u8],
    data: &[u8],
) -> Vec<u8> {
    let olen = opts.len().min(40) / 4 * 4;
    let len = 20 + olen + data.len();
    let mut t = vec![0u8; len];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[12] = (((20 + olen) / 4) as u8) << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&[0x20, 0x00]);
    t[20..20 + olen].copy_from_slice(&opts[..olen]);
    t[20 + olen..].copy_from_slice(data);
    let c = csum(&t, pseudo4(A4, B4, 6, len));
    t[16..18].copy_from_slice(&c.to_be_bytes());
    t
}

#[test]
fn random_valid_checksum_segments_never_panic_and_keep_state_bounded() {
    let cb = Config {
        syn_backlog: 16,
        max_connections: 200,
        ..config(2)
    };
    let mut p = Pair::with(config(1), cb);
    let l = p.b.listen(ListenAddr::Any, 80, 32).expect("listen");
    let mut conns = Vec::new();
    for _ in 0..8 {
        conns.push(p.a.connect(p.now, sa(B4, 80), 0).expect("connect"));
    }
    p.settle();
    let ports: Vec<u16> = conns
        .iter()
        .map(|c| p.a.local_endpoint(*c).expect("local").port())
        .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = vec![0u8; 70_000];
    for i in 0..30_000u32 {
        let sport = if rng.below(2) == 0 {
            ports[rng.below(ports.len() as u64) as usize]
        } else {
            1000 + rng.below(64) as u16
        };
        let dport = if rng.below(8) == 0 {
            rng.below(65536) as u16
        } else {
            80
        };
        let info = p.a.info(conns[(i as usize) % conns.len()]).ok();
        // Sequence numbers near the live ones half the time.
        let seq = if rng.below(2) == 0 {
            rng.next_u64() as u32
        } else {
            info.map_or(0, |x| x.tcp.bytes_sent as u32)
                .wrapping_add(rng.below(3000) as u32)
        };
        let ack = rng.next_u64() as u32;
        let flags = rng.next_u64() as u8;
        let mut opts = [0u8; 40];
        for b in opts.iter_mut() {
            *b = match rng.below(6) {
                0 => 1,
                1 => 2,
                2 => 4,
                3 => 8,
                4 => 10,
                _ => rng.next_u64() as u8,
            };
        }
        let olen = rng.below(41) as usize;
        let data = pattern(rng.below(1500) as usize, i);
        let seg = tcp_with_options(sport, dport, seq, ack, flags, &opts[..olen], &data);
        let pkt = ipv4_packet(A4, B4, 6, &seg, None);
        let _ = p.b.feed(p.now, &pkt);
        while p.b.poll_transmit(p.now, &mut out).is_ok() {}
        while p.b.poll_event().is_some() {}
        while p.b.accept(l).is_ok() {}
        if i % 1000 == 0 {
            p.now += Duration::from_millis(700);
            p.b.handle_timeout(p.now);
        }
        assert!(
            p.b.counters().connections_active <= 200,
            "max_connections holds"
        );
    }
    // The stack still works: a fresh connection transfers data.
    let c = p.a.connect(p.now, sa(B4, 80), 0).expect("connect");
    p.settle();
    while p.b.accept(l).is_ok() {}
    assert!(
        matches!(p.a.state(c), Ok(State::Established)),
        "{:?}",
        p.a.state(c)
    );
}

#[test]
fn syn_flood_gets_cookies_and_holds_no_state() {
    let cb = Config {
        syn_backlog: 64,
        ..config(2)
    };
    let mut s = stack_with(cb, &[B4]);
    let _l = s.listen(ListenAddr::Any, 80, 128).expect("listen");
    let mut out = vec![0u8; 2000];
    for i in 0..20_000u32 {
        let src = format!("198.51.100.{}", i % 250 + 1);
        let syn = ipv4_packet(
            &src,
            B4,
            6,
            &tcp4(&src, 1024 + (i % 60000) as u16, B4, 80, i * 7, 0, 0x02, b""),
            None,
        );
        s.feed(tcpkit::Instant::from_millis(u64::from(i)), &syn)
            .expect("ok");
        while s
            .poll_transmit(tcpkit::Instant::from_millis(u64::from(i)), &mut out)
            .is_ok()
        {}
    }
    let c = s.counters();
    assert_eq!(c.connections_active, 64, "only the SYN backlog holds state");
    assert_eq!(c.syn_cookies_sent, 20_000 - 64);
}

#[test]
fn connection_limit_is_limit() {
    let ca = Config {
        max_connections: 3,
        ..config(1)
    };
    let mut p = Pair::with(ca, config(2));
    let _l = p.b.listen(ListenAddr::Any, 80, 8).expect("listen");
    for _ in 0..3 {
        p.a.connect(p.now, sa(B4, 80), 0).expect("connect");
    }
    assert_eq!(p.a.connect(p.now, sa(B4, 80), 0), Err(Error::Limit));
    p.settle();
}

#[test]
fn in_window_random_segments_on_live_connections_never_panic() {
    let mut p = Pair::new();
    let l = p.b.listen(ListenAddr::Any, 80, 32).expect("listen");
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut out = vec![0u8; 70_000];
    for round in 0..40u32 {
        let c = p.a.connect(p.now, sa(B4, 80), 0).expect("connect");
        p.settle();
        let s = p.b.accept(l).expect("accept");
        // Capture one real segment a -> b to learn the live sequence numbers.
        p.a.send(c, b"probe").expect("send");
        let n = p.a.poll_transmit(p.now, &mut out).expect("data segment");
        let pkt = out[..n].to_vec();
        p.b.feed(p.now, &pkt).expect("deliver");
        let sport = u16::from_be_bytes([pkt[20], pkt[21]]);
        let seq = u32::from_be_bytes([pkt[24], pkt[25], pkt[26], pkt[27]]).wrapping_add(5);
        let ack = u32::from_be_bytes([pkt[28], pkt[29], pkt[30], pkt[31]]);
        for i in 0..500u32 {
            let flags = match rng.below(8) {
                0 => rng.next_u64() as u8,
                1 => 0x11,
                2 => 0x14,
                3 => 0x02,
                4 => 0x12,
                _ => 0x18,
            };
            let dseq = (rng.below(200_000) as u32).wrapping_sub(50_000);
            let dack = (rng.below(4000) as u32).wrapping_sub(2000);
            let mut opts = [1u8; 40];
            if rng.below(2) == 0 {
                // SACK blocks around the live window.
                opts[0] = 5;
                opts[1] = 2 + 8 * (1 + rng.below(4) as u8);
                for k in 0..8 {
                    let v = ack.wrapping_add((rng.below(6000) as u32).wrapping_sub(3000));
                    opts[2 + 4 * k..6 + 4 * k].copy_from_slice(&v.to_be_bytes());
                }
            }
            let olen = (rng.below(41) as usize).min(usize::from(opts[1]).max(4));
            let data = pattern(rng.below(2000) as usize, i + round);
            let seg = tcp_with_options(
                sport,
                80,
                seq.wrapping_add(dseq),
                ack.wrapping_add(dack),
                flags,
                &opts[..olen],
                &data,
            );
            let _ = p.b.feed(p.now, &ipv4_packet(A4, B4, 6, &seg, None));
            while let Ok(n) = p.b.poll_transmit(p.now, &mut out) {
                let _ = p.a.feed(p.now, &out[..n]);
            }
            while let Ok(n) = p.a.poll_transmit(p.now, &mut out) {
                let _ = p.b.feed(p.now, &out[..n]);
            }
            let mut sink = [0u8; 4096];
            while p.b.recv(s, &mut sink).is_ok_and(|n| n > 0) {}
            if i % 50 == 0 {
                p.now += Duration::from_millis(300);
                p.a.handle_timeout(p.now);
                p.b.handle_timeout(p.now);
            }
        }
        drain(&mut p.a);
        drain(&mut p.b);
        let _ = p.a.abort(c);
        let _ = p.b.abort(s);
        p.settle();
    }
    p.run_until(Duration::from_secs(300), |p| {
        p.b.counters().connections_active == 0
    });
    assert_eq!(p.b.counters().connections_active, 0, "everything finished");
}
