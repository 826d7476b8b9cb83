//! Two connections over a seeded lossy, reordering in-memory link with virtual
//! time: ~1 MB must arrive byte-exact, and both ends must close cleanly.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod tcp_support;
use tcp_support::*;
use tcpkit::tcp::{ConnConfig, ConnEvent, Connection, Segment, SeqNum, State};
use tcpkit::time::{Duration, Instant};
use tcpkit::wire::{TcpFlags, TcpOptions};

#[derive(Clone)]
struct Pkt {
    seq: SeqNum,
    ack: SeqNum,
    flags: TcpFlags,
    window: u16,
    options: TcpOptions,
    payload: Vec<u8>,
}

struct LinkParams {
    loss_per_mille: u64,
    delay: Duration,
    jitter_us: u64,
    /// Bytes the server sends back while receiving.
    reverse: usize,
}

struct Outcome {
    received: Vec<u8>,
    received_back: Vec<u8>,
    client_state: State,
    server_state: State,
    retransmits: u64,
    sack_recoveries: u64,
    virtual_time: Duration,
}

fn run(seed: u64, size: usize, params: &LinkParams, cfg: &ConnConfig) -> Outcome {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let data: Vec<u8> = (0..size)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect();
    let start = Instant::from_millis(10);
    let mut now = start;
    let mut client = Connection::connect(cfg, SeqNum(seed as u32 ^ 0xdead_beef), now);
    let mut server: Option<Connection> = None;
    // (deliver_at, order, to_server, packet)
    let mut queue: Vec<(Instant, u64, bool, Pkt)> = Vec::new();
    let mut order = 0u64;
    let mut written = 0usize;
    let mut received = Vec::with_capacity(size);
    let mut client_shut = false;
    let mut server_closed = false;
    let mut buf = vec![0u8; 16 * 1024];
    let back: Vec<u8> = (0..params.reverse).map(|i| (i % 253) as u8).collect();
    let mut written_back = 0usize;
    let trace = std::env::var("LINK_TRACE").is_ok();
    let mut received_back = Vec::with_capacity(params.reverse);
    for _ in 0..2_000_000 {
        // Applications.
        while written < size {
            match client.send(&data[written..]) {
                Ok(n) => written += n,
                Err(_) => break,
            }
        }
        if written == size && !client_shut {
            client.shutdown(now).unwrap();
            client_shut = true;
        }
        loop {
            match client.recv(&mut buf) {
                Ok(n) if n > 0 => received_back.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        if let Some(s) = server.as_mut() {
            while written_back < back.len() {
                match s.send(&back[written_back..]) {
                    Ok(n) => written_back += n,
                    Err(_) => break,
                }
            }
            loop {
                match s.recv(&mut buf) {
                    Ok(0) => {
                        if !server_closed && written_back == back.len() {
                            s.close(now);
                            server_closed = true;
                        }
                        break;
                    }
                    Ok(n) => received.extend_from_slice(&buf[..n]),
                    Err(_) => break,
                }
            }
            while s.poll_event().is_some() {}
        }
        while let Some(ev) = client.poll_event() {
            assert!(
                !matches!(ev, ConnEvent::Closed(r) if r != tcpkit::tcp::CloseReason::Orderly),
                "client closed: {ev:?}"
            );
        }
        // Transmit.
        for to_server in [true, false] {
            let conn = if to_server {
                Some(&mut client)
            } else {
                server.as_mut()
            };
            let Some(conn) = conn else { continue };
            loop {
                let wants = conn.wants_transmit();
                let Some(seg) = conn.poll_transmit(now, 1460) else {
                    assert!(
                        !wants,
                        "wants_transmit() promised a segment poll_transmit did not give"
                    );
                    break;
                };
                let mut payload = seg.payload.0.to_vec();
                payload.extend_from_slice(seg.payload.1);
                let pkt = Pkt {
                    seq: seg.seq,
                    ack: seg.ack,
                    flags: seg.flags,
                    window: seg.window,
                    options: seg.options,
                    payload,
                };
                let lost = rng.chance(params.loss_per_mille, 1000);
                if trace {
                    eprintln!(
                        "{:>10} {} seq={} ack={} fl={:02x} len={} win={} sack={:?}{}",
                        (now - start).as_micros(),
                        if to_server { "C->S" } else { "S->C" },
                        pkt.seq.0,
                        pkt.ack.0,
                        pkt.flags.0,
                        pkt.payload.len(),
                        pkt.window,
                        pkt.options.sack_blocks(),
                        if lost { " LOST" } else { "" }
                    );
                }
                if lost {
                    continue;
                }
                let at =
                    now + params.delay + Duration::from_micros(rng.below(params.jitter_us + 1));
                order += 1;
                queue.push((at, order, to_server, pkt));
            }
        }
        let server_done = server.as_ref().is_some_and(|s| s.state() == State::Closed);
        let client_done = matches!(client.state(), State::TimeWait | State::Closed);
        if server_done && client_done && queue.is_empty() {
            break;
        }
        // Next event in virtual time.
        let mut next = Instant::MAX;
        for (at, _, _, _) in &queue {
            next = next.min(*at);
        }
        if let Some(t) = client.poll_timeout() {
            next = next.min(t);
        }
        if let Some(t) = server.as_ref().and_then(|s| s.poll_timeout()) {
            next = next.min(t);
        }
        assert!(
            next != Instant::MAX,
            "stalled: nothing scheduled (client {:?}, server {:?})",
            client.state(),
            server.as_ref().map(|s| s.state())
        );
        now = now.max(next);
        assert!(
            now - start < Duration::from_secs(3600),
            "took too long in virtual time"
        );
        // Deliver due packets in arrival order.
        let mut due: Vec<(Instant, u64, bool, Pkt)> = Vec::new();
        queue.retain(|e| {
            if e.0 <= now {
                due.push(e.clone());
                false
            } else {
                true
            }
        });
        due.sort_by_key(|e| (e.0, e.1));
        for (_, _, to_server, p) in due {
            let seg = Segment {
                seq: p.seq,
                ack: p.ack,
                flags: p.flags,
                window: p.window,
                options: p.options,
                payload: &p.payload,
            };
            if to_server {
                match server.as_mut() {
                    Some(s) => {
                        s.handle_segment(now, &seg);
                    }
                    None if p.flags == TcpFlags::SYN => {
                        server = Some(Connection::accept(
                            cfg,
                            SeqNum((seed as u32).wrapping_mul(7) ^ 0x0bad_f00d),
                            &seg,
                            now,
                        ));
                    }
                    None => {}
                }
            } else {
                client.handle_segment(now, &seg);
            }
        }
        client.handle_timeout(now);
        if let Some(s) = server.as_mut() {
            s.handle_timeout(now);
        }
    }
    Outcome {
        received,
        received_back,
        client_state: client.state(),
        server_state: server.as_ref().map_or(State::Closed, |s| s.state()),
        retransmits: client.info().segs_retransmitted,
        sack_recoveries: client.info().sack_recoveries,
        virtual_time: now - start,
    }
}

fn check(seed: u64, size: usize, loss: u64, jitter_us: u64, cfg: &ConnConfig) -> Outcome {
    check_both(seed, size, 0, loss, jitter_us, cfg)
}

fn check_both(
    seed: u64,
    size: usize,
    reverse: usize,
    loss: u64,
    jitter_us: u64,
    cfg: &ConnConfig,
) -> Outcome {
    let params = LinkParams {
        loss_per_mille: loss,
        delay: Duration::from_millis(10),
        jitter_us,
        reverse,
    };
    let out = run(seed, size, &params, cfg);
    let expect: Vec<u8> = (0..size)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect();
    assert_eq!(
        out.received.len(),
        size,
        "seed {seed} loss {loss}‰: byte count"
    );
    assert!(
        out.received == expect,
        "seed {seed} loss {loss}‰: bytes differ"
    );
    assert!(
        matches!(out.client_state, State::TimeWait | State::Closed),
        "seed {seed}: client {:?}",
        out.client_state
    );
    assert_eq!(out.server_state, State::Closed, "seed {seed}: server");
    let back: Vec<u8> = (0..reverse).map(|i| (i % 253) as u8).collect();
    assert!(
        out.received_back == back,
        "seed {seed}: reverse direction differs ({} of {reverse} bytes)",
        out.received_back.len()
    );
    out
}

fn seeds(default: u64) -> u64 {
    std::env::var("TCPKIT_SOAK_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[test]
fn transfer_1mb_without_loss_plain_and_full_options() {
    for (i, cfg) in [plain_cfg(), ConnConfig::default()].iter().enumerate() {
        let out = check(i as u64 + 1, 1 << 20, 0, 0, cfg);
        assert_eq!(
            out.retransmits, 0,
            "no loss, no reordering: no retransmission"
        );
    }
}

#[test]
fn transfer_1mb_with_reordering_only() {
    for seed in 0..seeds(4) {
        let cfg = if seed % 2 == 0 {
            ConnConfig::default()
        } else {
            plain_cfg()
        };
        check(50 + seed, 1 << 20, 0, 4_000, &cfg);
    }
}

#[test]
fn transfer_1mb_with_2_percent_loss_many_seeds() {
    let mut recoveries = 0;
    for seed in 0..seeds(8) {
        let cfg = if seed % 2 == 0 {
            ConnConfig::default()
        } else {
            plain_cfg()
        };
        let out = check(100 + seed, 1 << 20, 20, 4_000, &cfg);
        assert!(out.retransmits > 0, "loss forces retransmissions");
        recoveries += out.sack_recoveries;
    }
    assert!(recoveries > 0, "SACK recovery was used with SACK on");
}

#[test]
fn transfer_1mb_with_10_percent_loss_many_seeds() {
    for seed in 0..seeds(6) {
        let cfg = if seed % 2 == 0 {
            ConnConfig::default()
        } else {
            plain_cfg()
        };
        let out = check(200 + seed, 1 << 20, 100, 4_000, &cfg);
        assert!(out.virtual_time > Duration::ZERO);
    }
}

#[test]
fn small_transfers_with_heavy_loss_finish() {
    for seed in 0..seeds(20) {
        let size = 3000 + (seed as usize * 977) % 20000;
        check(300 + seed, size, 200, 4_000, &ConnConfig::default());
    }
}

#[test]
fn sequence_wrap_during_transfer() {
    // The client's ISS is seed ^ 0xdeadbeef: put it 64 KiB below 2^32 so the
    // 1 MiB transfer crosses the wrap.
    let seed = u64::from(0xffff_0000u32 ^ 0xdead_beef);
    check(seed, 1 << 20, 20, 4_000, &ConnConfig::default());
}

#[test]
fn bidirectional_transfer_with_loss() {
    for seed in 0..seeds(4) {
        let cfg = if seed % 2 == 0 {
            ConnConfig::default()
        } else {
            plain_cfg()
        };
        check_both(
            400 + seed,
            512 * 1024,
            512 * 1024,
            20 + (seed % 5) * 20,
            4_000,
            &cfg,
        );
    }
}

#[test]
fn small_buffers_force_zero_windows_and_persist() {
    let cfg = ConnConfig {
        recv_buffer: 4096,
        send_buffer: 8192,
        ..ConnConfig::default()
    };
    for seed in 0..seeds(3) {
        eprintln!("small buffers seed {}", 500 + seed);
        check_both(500 + seed, 200 * 1024, 100 * 1024, 20, 2_000, &cfg);
    }
}
