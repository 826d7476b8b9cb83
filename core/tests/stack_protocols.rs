//! ICMP echo, UDP echo and port unreachable, fragment reassembly, PMTU
//! lowering by ICMP, and SYN cookies, with hand-built packets.

#[path = "stack_util.rs"]
mod util;

use tcpkit::stack::{Config, Error, EventKind, ListenAddr, State};
use tcpkit::{Duration, Instant};
use util::*;

/// A Linux `ping` request: 56 data bytes (timestamp + 0x10.. pattern), id 0x4d2, seq 1.
fn ping_request() -> Vec<u8> {
    let mut icmp = vec![8u8, 0, 0, 0, 0x04, 0xd2, 0x00, 0x01];
    icmp.extend_from_slice(&[
        0x5e, 0x6f, 0x8a, 0x65, 0, 0, 0, 0, 0x3c, 0x5d, 0x0e, 0, 0, 0, 0, 0,
    ]);
    icmp.extend((0x10u8..0x38).collect::<Vec<_>>());
    let c = csum(&icmp, 0);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    ipv4_packet(A4, B4, 1, &icmp, None)
}

#[test]
fn icmp_echo_round_trip_bytes() {
    let mut s = stack_with(config(1), &[B4]);
    let req = ping_request();
    assert_eq!(req.len(), 84);
    s.feed(Instant::ZERO, &req).expect("echo request is for us");
    let mut buf = [0u8; 200];
    let n = s
        .poll_transmit(Instant::ZERO, &mut buf)
        .expect("echo reply");
    let rep = &buf[..n];
    assert_eq!(n, 84);
    assert_eq!(rep[0], 0x45);
    assert_eq!(&rep[2..4], &84u16.to_be_bytes());
    assert_eq!(rep[6] & 0x40, 0x40, "DF");
    assert_eq!(rep[9], 1);
    assert_eq!(csum(&rep[..20], 0), 0, "IP header checksum");
    assert_eq!(&rep[12..16], &req[16..20], "source = request destination");
    assert_eq!(&rep[16..20], &req[12..16]);
    assert_eq!(rep[20], 0, "echo reply");
    assert_eq!(
        &rep[24..],
        &req[24..],
        "identifier, sequence and data echoed"
    );
    assert_eq!(csum(&rep[20..], 0), 0, "ICMP checksum");
    assert_eq!(s.counters().icmp_echo_replies, 1);
}

#[test]
fn icmpv6_echo_between_stacks_is_answered() {
    // A v6 echo request: header + ICMPv6 with pseudo-header checksum.
    let mut s = stack_with(config(1), &[B6]);
    let icmp = [128u8, 0, 0, 0, 0, 7, 0, 9, 1, 2, 3, 4, 5];
    let pkt = ipv6_packet(A6, B6, 58, &icmp, Some(2));
    s.feed(Instant::ZERO, &pkt).expect("for us");
    let mut buf = [0u8; 200];
    let n = s.poll_transmit(Instant::ZERO, &mut buf).expect("reply");
    assert_eq!(n, pkt.len());
    assert_eq!(buf[40], 129, "echo reply");
    assert_eq!(&buf[44..n], &pkt[44..], "id, seq, data");
    assert_eq!(&buf[8..24], &pkt[24..40], "swapped addresses");
    // Verify the reply's checksum with the swapped pseudo-header.
    assert_eq!(csum(&buf[40..n], pseudo6(B6, A6, 58, n - 40)), 0);
}

#[test]
fn udp_echo_and_port_unreachable() {
    let mut p = Pair::new();
    let server = p.b.udp_bind(sa(B4, 7)).expect("bind");
    let client = p.a.udp_bind(sa("0.0.0.0", 0)).expect("bind any, ephemeral");
    let cport = p.a.udp_local_endpoint(client).expect("local").port();
    assert!(cport >= 49152);
    assert_eq!(p.b.udp_bind(sa(B4, 7)), Err(Error::AddrInUse));
    for i in 0..5u32 {
        let msg = pattern(100 + i as usize * 100, i);
        p.a.udp_send_to(p.now, client, sa(B4, 7), &msg)
            .expect("send");
        p.settle();
        assert!(has(&drain(&mut p.b), EventKind::Readable, server.raw()));
        let mut buf = [0u8; 2000];
        let (n, from) = p.b.udp_recv_from(server, &mut buf).expect("datagram");
        assert_eq!(&buf[..n], &msg[..]);
        assert_eq!(from, sa(A4, cport));
        p.b.udp_send_to(p.now, server, from, &buf[..n])
            .expect("echo");
        p.settle();
        let (n2, from2) = p.a.udp_recv_from(client, &mut buf).expect("echoed");
        assert_eq!(&buf[..n2], &msg[..]);
        assert_eq!(from2, sa(B4, 7));
        assert_eq!(p.a.udp_recv_from(client, &mut buf), Err(Error::WouldBlock));
    }
    // A datagram to a closed port gets ICMP port unreachable quoting it.
    let dgram = ipv4_packet(A4, B4, 17, &udp4(A4, 999, B4, 9, b"anyone?"), None);
    p.b.feed(p.now, &dgram).expect("for us");
    let mut buf = [0u8; 600];
    let n = p.b.poll_transmit(p.now, &mut buf).expect("ICMP error");
    assert_eq!(buf[9], 1);
    assert_eq!((buf[20], buf[21]), (3, 3), "destination unreachable / port");
    assert_eq!(&buf[28..n], &dgram[..], "quotes the datagram");
    assert_eq!(csum(&buf[20..n], 0), 0);
    // Oversized datagrams are refused, not fragmented.
    let big = vec![0u8; 1500];
    assert_eq!(
        p.a.udp_send_to(p.now, client, sa(B4, 7), &big),
        Err(Error::InvalidArgument)
    );
    p.b.udp_close(server).expect("close");
    assert_eq!(p.b.udp_close(server), Err(Error::InvalidHandle));
}

#[test]
fn fragments_reassemble_out_of_order_and_overlaps_are_dropped() {
    let mut s = stack_with(config(1), &[B4]);
    let u = s.udp_bind(sa(B4, 5000)).expect("bind");
    let data = pattern(3000, 7);
    let dgram = udp4(A4, 1234, B4, 5000, &data);
    let pieces = [(0usize, 1200usize), (1200, 2400), (2400, dgram.len())];
    let frag = |id: u16, (a, b): (usize, usize)| {
        ipv4_packet(
            A4,
            B4,
            17,
            &dgram[a..b],
            Some((id, a as u16, b < dgram.len())),
        )
    };
    let t = Instant::ZERO;
    for i in [2, 0, 1] {
        s.feed(t, &frag(1, pieces[i])).expect("fragment ok");
    }
    let mut buf = vec![0u8; 4000];
    let (n, from) = s.udp_recv_from(u, &mut buf).expect("reassembled");
    assert_eq!(&buf[..n], &data[..]);
    assert_eq!(from, sa(A4, 1234));
    assert_eq!(s.counters().fragments_reassembled, 1);

    // Overlap (RFC 5722): the datagram is abandoned even when the rest arrives.
    s.feed(t, &frag(2, pieces[0])).expect("ok");
    s.feed(
        t,
        &ipv4_packet(A4, B4, 17, &dgram[1192..2400], Some((2, 1192, true))),
    )
    .expect("ok");
    s.feed(t, &frag(2, pieces[2])).expect("ok");
    assert_eq!(s.udp_recv_from(u, &mut buf), Err(Error::WouldBlock));
    assert!(s.counters().fragments_dropped >= 1);

    // Timeout: an incomplete datagram is dropped after the reassembly timer.
    s.feed(t, &frag(3, pieces[0])).expect("ok");
    let deadline = s.poll_timeout().expect("reassembly timer");
    assert!(deadline > t);
    s.handle_timeout(deadline);
    assert!(s.counters().fragments_timed_out >= 1);
    s.feed(deadline, &frag(3, pieces[1])).expect("ok");
    s.feed(deadline, &frag(3, pieces[2])).expect("ok");
    assert_eq!(
        s.udp_recv_from(u, &mut buf),
        Err(Error::WouldBlock),
        "first piece expired"
    );
}

#[test]
fn icmp_frag_needed_lowers_the_path_mss() {
    let mut p = Pair::new();
    let l = p.b.listen(ListenAddr::Any, 80, 8).expect("listen");
    let c = p.a.connect(p.now, sa(B4, 80), 0).expect("connect");
    p.settle();
    let _s = p.b.accept(l).expect("accept");
    let mss_before = p.a.info(c).expect("info").tcp.mss;
    // Put data in flight and capture the first data packet instead of delivering it.
    p.a.send(c, &pattern(20_000, 3)).expect("send");
    let mut pkt = vec![0u8; 2000];
    let n = p.a.poll_transmit(p.now, &mut pkt).expect("data segment");
    pkt.truncate(n);
    assert!(n > 1400);
    // A router says: fragmentation needed, next-hop MTU 1280. Quote header + 8 bytes.
    let mut icmp = vec![3u8, 4, 0, 0, 0, 0, 0x05, 0x00];
    icmp.extend_from_slice(&pkt[..28]);
    let ck = csum(&icmp, 0);
    icmp[2..4].copy_from_slice(&ck.to_be_bytes());
    let err = ipv4_packet("198.51.100.1", A4, 1, &icmp, None);
    p.a.feed(p.now, &err).expect("ICMP for us");
    assert_eq!(p.a.counters().icmp_errors_delivered, 1);
    let mss_after = p.a.info(c).expect("info").tcp.mss;
    assert!(mss_after < mss_before, "{mss_after} < {mss_before}");
    assert!(mss_after <= 1280 - 40, "{mss_after}");
    // The next segments fit the new path MTU.
    let mut buf = vec![0u8; 2000];
    while let Ok(n) = p.a.poll_transmit(p.now, &mut buf) {
        assert!(n <= 1280, "packet of {n} bytes over the path MTU");
    }
    // A forged error quoting a sequence number not in flight is ignored (RFC 5927).
    let mut forged = pkt[..28].to_vec();
    forged[24..28].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    let mut icmp = vec![3u8, 4, 0, 0, 0, 0, 0x02, 0x40];
    icmp.extend_from_slice(&forged);
    let ck = csum(&icmp, 0);
    icmp[2..4].copy_from_slice(&ck.to_be_bytes());
    p.a.feed(p.now, &ipv4_packet("198.51.100.1", A4, 1, &icmp, None))
        .expect("ok");
    assert_eq!(p.a.counters().icmp_errors_ignored, 1);
    assert_eq!(
        p.a.info(c).expect("info").tcp.mss,
        mss_after,
        "forged error changed nothing"
    );
}

#[test]
fn syn_cookie_handshake_completes_while_the_syn_queue_is_full() {
    let cb = Config {
        syn_backlog: 2,
        ..config(2)
    };
    let mut p = Pair::with(config(1), cb);
    let l = p.b.listen(ListenAddr::Any, 80, 64).expect("listen");
    // Two half-open connections from a spoofed source that never answers.
    for port in [1000u16, 1001] {
        let syn = ipv4_packet(A4, B4, 6, &tcp4(A4, port, B4, 80, 42, 0, 0x02, b""), None);
        p.b.feed(p.now, &syn).expect("syn");
    }
    let mut sink = vec![0u8; 2000];
    while p.b.poll_transmit(p.now, &mut sink).is_ok() {} // SYN-ACKs lost
    assert_eq!(p.b.counters().syn_cookies_sent, 0);
    // The real client now gets a cookie and still completes the handshake.
    let c = p.a.connect(p.now, sa(B4, 80), 0).expect("connect");
    p.settle();
    assert_eq!(p.b.counters().syn_cookies_sent, 1);
    assert_eq!(p.b.counters().syn_cookies_accepted, 1);
    assert_eq!(p.a.state(c), Ok(State::Established));
    let s = p.b.accept(l).expect("cookie connection is acceptable");
    assert_eq!(p.b.state(s), Ok(State::Established));
    // Options survived the cookie (timestamps on: window scale and SACK ride in TSval).
    let data = pattern(200_000, 9);
    let mut sent = 0;
    let mut got = Vec::new();
    let done = p.run_until(Duration::from_secs(30), |p| {
        while sent < data.len() {
            match p.a.send(c, &data[sent..]) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        read_all(&mut p.b, s, &mut got);
        got.len() == data.len()
    });
    assert!(done);
    assert_eq!(got, data);
    // A forged cookie ACK is answered with a RST and creates nothing.
    let before = p.b.counters().connections_active;
    let forged = ipv4_packet(
        A4,
        B4,
        6,
        &tcp4(A4, 2000, B4, 80, 43, 0xdead_beef, 0x10, b""),
        None,
    );
    let rst_before = p.b.counters().rst_sent;
    p.b.feed(p.now, &forged).expect("ok");
    assert_eq!(p.b.counters().connections_active, before);
    assert_eq!(p.b.counters().rst_sent, rst_before + 1);
}

#[test]
fn segments_with_sack_blocks_stay_within_the_mtu() {
    // Both directions carry bulk data while every 7th packet is lost, so
    // both receivers hold out-of-order data and every segment carries SACK
    // blocks next to a full payload.
    let mut p = Pair::new();
    let l = p.b.listen(ListenAddr::Any, 80, 8).expect("listen");
    let c = p.a.connect(p.now, sa(B4, 80), 0).expect("connect");
    p.settle();
    let s = p.b.accept(l).expect("accept");
    let up = pattern(400_000, 1);
    let down = pattern(400_000, 2);
    let (mut us, mut ds) = (0, 0);
    let (mut got_up, mut got_down) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; 65536];
    let mut count = 0u64;
    let mut max_len = 0;
    let mut with_sack = 0;
    let end = p.now + Duration::from_secs(120);
    while (got_up.len() < up.len() || got_down.len() < down.len()) && p.now < end {
        while us < up.len() {
            match p.a.send(c, &up[us..]) {
                Ok(n) => us += n,
                Err(_) => break,
            }
        }
        while ds < down.len() {
            match p.b.send(s, &down[ds..]) {
                Ok(n) => ds += n,
                Err(_) => break,
            }
        }
        let mut moved = 0;
        for dir in 0..2 {
            loop {
                let (from, to) = if dir == 0 {
                    (&mut p.a, &mut p.b)
                } else {
                    (&mut p.b, &mut p.a)
                };
                let Ok(n) = from.poll_transmit(p.now, &mut buf) else {
                    break;
                };
                moved += 1;
                count += 1;
                max_len = max_len.max(n);
                assert!(n <= 1500, "packet of {n} bytes over the 1500-byte MTU");
                let doff = usize::from(buf[32] >> 4) * 4;
                if buf[40..20 + doff]
                    .windows(2)
                    .any(|w| w == [5, 10] || w == [5, 18] || w == [5, 26])
                {
                    with_sack += 1;
                }
                if count % 7 != 0 {
                    to.feed(p.now, &buf[..n]).expect("valid packet");
                }
            }
        }
        read_all(&mut p.b, s, &mut got_up);
        read_all(&mut p.a, c, &mut got_down);
        if moved == 0 {
            let next = [p.a.poll_timeout(), p.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            p.now = next.map_or(end, |t| t.min(end));
            p.a.handle_timeout(p.now);
            p.b.handle_timeout(p.now);
        }
    }
    assert_eq!(got_up, up);
    assert_eq!(got_down, down);
    assert!(
        with_sack > 10,
        "SACK blocks were in play ({with_sack} segments)"
    );
    assert!(max_len > 1400, "full-sized segments were sent ({max_len})");
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}.hex", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture file");
    let hex = text.trim();
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// The Linux kernel's own echo request (ping from 192.0.2.1 to 192.0.2.2),
/// answered by the stack, compared with the kernel's reply to the same request
/// (fixtures made by the wire engineer's capture.sh). The ICMP message must be
/// identical; in the IP header only the identification, the flags (the stack
/// sets DF on all IPv4, RFC 1191; Linux does not on echo replies) and hence
/// the header checksum may differ.
#[test]
fn icmp_echo_reply_matches_the_kernels_bytes() {
    let req = fixture("ipv4_icmp_echo_request");
    let kernel = fixture("ipv4_icmp_echo_reply");
    let mut s = stack_with(config(1), &[B4]);
    s.feed(Instant::ZERO, &req).expect("for us");
    let mut buf = [0u8; 200];
    let n = s.poll_transmit(Instant::ZERO, &mut buf).expect("reply");
    let ours = &buf[..n];
    assert_eq!(ours.len(), kernel.len());
    assert_eq!(
        &ours[20..],
        &kernel[20..],
        "ICMP message identical to the kernel's"
    );
    assert_eq!(&ours[..4], &kernel[..4], "version, IHL, TOS, length");
    assert_eq!(&ours[8..10], &kernel[8..10], "TTL 64, protocol ICMP");
    assert_eq!(&ours[12..20], &kernel[12..20], "addresses");
    assert_eq!(csum(&ours[..20], 0), 0);

    let req6 = fixture("ipv6_icmp_echo_request");
    let kernel6 = fixture("ipv6_icmp_echo_reply");
    let mut s6 = stack_with(config(1), &[B6]);
    s6.feed(Instant::ZERO, &req6).expect("for us");
    let n = s6.poll_transmit(Instant::ZERO, &mut buf).expect("reply");
    // Everything but the flow label (bytes 1..4) is the kernel's.
    assert_eq!(
        &buf[4..n],
        &kernel6[4..],
        "IPv6 echo reply identical to the kernel's"
    );
}

/// The kernel's UDP datagram to a closed port, and the kernel's port
/// unreachable for it: the stack's ICMP message is byte-identical (the IP
/// header differs in TOS, which Linux sets to 0xc0, identification and DF).
#[test]
fn port_unreachable_matches_the_kernels_bytes() {
    let dgram = fixture("ipv4_udp");
    let kernel = fixture("ipv4_icmp_port_unreachable");
    let mut s = stack_with(config(1), &[B4]);
    s.feed(Instant::ZERO, &dgram).expect("for us");
    let mut buf = [0u8; 700];
    let n = s
        .poll_transmit(Instant::ZERO, &mut buf)
        .expect("ICMP error");
    assert_eq!(n, kernel.len());
    assert_eq!(
        &buf[20..n],
        &kernel[20..],
        "ICMP message identical to the kernel's"
    );
    assert_eq!(&buf[12..20], &kernel[12..20], "addresses");
    assert_eq!(s.counters().icmp_out, 1);
}

/// The kernel's 3008-byte echo requests, fragmented by the kernel (first and
/// last fragment captured; the middle one rebuilt from ping's data pattern,
/// byte j of the data = 7j mod 256), reassembled by the stack: the ICMP
/// checksum over the whole message verifies only if every byte is in place.
/// (The 3028-byte reply exceeds the MTU and the stack does not fragment
/// output, so no reply is sent.)
#[test]
fn kernel_fragments_reassemble_into_a_valid_icmp_message() {
    // IPv4: fragments at 0..1480, 1480..2960 (rebuilt), 2960..3008.
    let first = fixture("ipv4_frag_first");
    let last = fixture("ipv4_frag_last");
    let mut mid = first[..20].to_vec();
    mid[2..4].copy_from_slice(&1500u16.to_be_bytes());
    mid[6..8].copy_from_slice(&(0x2000u16 | (1480 / 8)).to_be_bytes());
    mid[10..12].copy_from_slice(&[0, 0]);
    let c = csum(&mid[..20], 0);
    mid[10..12].copy_from_slice(&c.to_be_bytes());
    mid.extend((1480..2960).map(|k: usize| ((k - 8) * 7 % 256) as u8));
    let mut s = stack_with(config(1), &[B4]);
    for p in [&last, &mid, &first] {
        s.feed(Instant::ZERO, p).expect("fragment for us");
    }
    let c = s.counters();
    assert_eq!(c.fragments_reassembled, 1);
    assert_eq!(c.icmp_in, 1, "reassembled ICMP message passed its checksum");
    assert_eq!(c.dropped_checksum, 0);

    // IPv6: fragment header offsets 0, 1448 (rebuilt), 2896.
    let first6 = fixture("ipv6_frag_first");
    let last6 = fixture("ipv6_frag_last");
    let mut mid6 = first6[..48].to_vec();
    mid6[4..6].copy_from_slice(&(8u16 + 1448).to_be_bytes());
    mid6[42..44].copy_from_slice(&(1448u16 | 1).to_be_bytes());
    mid6.extend((1448..2896).map(|k: usize| ((k - 8) * 7 % 256) as u8));
    let mut s6 = stack_with(config(1), &[B6]);
    for p in [&first6, &last6, &mid6] {
        s6.feed(Instant::ZERO, p).expect("fragment for us");
    }
    let c = s6.counters();
    assert_eq!(c.fragments_reassembled, 1);
    assert_eq!(
        c.icmp_in, 1,
        "reassembled ICMPv6 message passed its checksum"
    );
}
