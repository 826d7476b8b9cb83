//! Property tests: `parse(emit(x)) == x` for random reprs, the fast checksum
//! equals the RFC 1071 reference, and random or mutated bytes never panic
//! any parser.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use tcpkit::wire::icmpv4::parse_quoted;
use tcpkit::wire::*;

/// RFC 1071 §4.1 reference: one big-endian 16-bit word at a time.
fn naive(data: &[u8], initial: u32) -> u16 {
    let mut acc = u64::from(initial);
    for w in data.chunks(2) {
        let hi = u64::from(w[0]) << 8;
        acc += hi | w.get(1).map_or(0, |b| u64::from(*b));
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

// Fixed addresses from the documentation ranges (RFC 5737, RFC 3849); the
// second of each pair has many one bits so the checksum carries.
const DOC4_A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const DOC4_B: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 255);
const DOC6_A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const DOC6_B: Ipv6Addr = Ipv6Addr::new(
    0x2001, 0xdb8, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff,
);

fn v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}
fn v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>().prop_map(Ipv6Addr::from)
}

fn tcp_options() -> impl Strategy<Value = TcpOptions> {
    (
        proptest::option::of(any::<u16>()),
        proptest::option::of(0u8..=14),
        any::<bool>(),
        proptest::option::of(any::<(u32, u32)>()),
        proptest::collection::vec(any::<(u32, u32)>(), 0..=4),
    )
        .prop_map(|(mss, window_scale, sack_permitted, timestamps, blocks)| {
            let mut o = TcpOptions {
                mss,
                window_scale,
                sack_permitted,
                timestamps,
                ..TcpOptions::default()
            };
            // Only as many blocks as fit in 40 bytes after the other options.
            let fixed = o.encoded_len();
            let room = (40usize.saturating_sub(fixed + 4)) / 8;
            for (l, r) in blocks.into_iter().take(room) {
                o.push_sack_block(l, r);
            }
            o
        })
}

/// Every parser on arbitrary bytes; returns nothing, must not panic.
fn parse_everything(b: &[u8]) {
    let p4 = Ipv4Packet::new_unchecked(b);
    let _ = (
        p4.version(),
        p4.header_len(),
        p4.total_len(),
        p4.ident(),
        p4.frag_offset(),
    );
    let _ = (
        p4.src_addr(),
        p4.dst_addr(),
        p4.payload(),
        p4.options(),
        p4.verify_checksum(),
    );
    let _ = Ipv4Repr::parse(&p4);
    let p6 = Ipv6Packet::new_unchecked(b);
    let _ = (
        p6.flow_label(),
        p6.traffic_class(),
        p6.payload(),
        p6.src_addr(),
        p6.dst_addr(),
    );
    let _ = Ipv6Repr::parse(&p6);
    let _ = p6.walk_extensions();
    let t = TcpPacket::new_unchecked(b);
    let _ = (t.header_len(), t.options(), t.payload(), t.options_bytes());
    let _ = t.verify_checksum_v4(DOC4_A, DOC4_B);
    let _ = t.verify_checksum_v6(&DOC6_A, &DOC6_B);
    let _ = TcpRepr::parse_bytes(b);
    let _ = TcpOptions::parse(b);
    let u = UdpPacket::new_unchecked(b);
    let (a, z) = (IpAddr::V4(DOC4_A), IpAddr::V4(DOC4_B));
    let (a6, z6) = (IpAddr::V6(DOC6_A), IpAddr::V6(DOC6_B));
    let _ = (
        u.payload(),
        u.is_empty(),
        u.verify_checksum(&a, &z),
        u.verify_checksum(&a, &z6),
    );
    let _ = UdpRepr::parse(&u, &a, &z);
    let _ = UdpRepr::parse(&u, &a6, &z6);
    let i4 = Icmpv4Packet::new_unchecked(b);
    let _ = (
        i4.data(),
        i4.next_hop_mtu(),
        i4.verify_checksum(),
        Icmpv4Repr::parse(&i4),
    );
    let _ = parse_quoted(b);
    let _ = tcpkit::wire::icmpv6::parse_quoted(b);
    let i6 = Icmpv6Packet::new_unchecked(b);
    let _ = (
        i6.data(),
        i6.mtu(),
        Icmpv6Repr::parse(&i6, &DOC6_A, &DOC6_A),
    );
}

/// The stack's receive path on arbitrary bytes: IP, then the transport.
fn receive_path(b: &[u8]) {
    match b.first().map(|v| v >> 4) {
        Some(4) => {
            let Ok(p) = Ipv4Packet::new_checked(b) else {
                return;
            };
            let Ok(r) = Ipv4Repr::parse(&p) else { return };
            let pl = p.payload();
            let (s, d) = (IpAddr::V4(r.src), IpAddr::V4(r.dst));
            match r.protocol {
                IpProtocol::Tcp => {
                    if let Ok(t) = TcpPacket::new_checked(pl) {
                        let _ = t.verify_checksum_v4(r.src, r.dst);
                        let _ = TcpRepr::parse(&t);
                    }
                }
                IpProtocol::Udp => {
                    if let Ok(u) = UdpPacket::new_checked(pl) {
                        let _ = UdpRepr::parse(&u, &s, &d);
                    }
                }
                IpProtocol::Icmp => {
                    if let Ok(i) = Icmpv4Packet::new_checked(pl) {
                        if let Ok(Icmpv4Repr::DstUnreachable { data, .. }) = Icmpv4Repr::parse(&i) {
                            let _ = parse_quoted(data).map(|q| TcpRepr::parse_bytes(q.transport));
                        }
                    }
                }
                _ => {}
            }
        }
        Some(6) => {
            let Ok(p) = Ipv6Packet::new_checked(b) else {
                return;
            };
            let Ok(r) = Ipv6Repr::parse(&p) else { return };
            let Ok(w) = p.walk_extensions() else { return };
            let end = 40 + r.payload_len;
            let pl = b.get(w.offset..end).unwrap_or(&[]);
            match w.upper {
                IpProtocol::Tcp => {
                    let _ = TcpPacket::new_checked(pl)
                        .map(|t| (t.verify_checksum_v6(&r.src, &r.dst), TcpRepr::parse(&t)));
                }
                IpProtocol::Udp => {
                    let (s, d) = (IpAddr::V6(r.src), IpAddr::V6(r.dst));
                    let _ = UdpPacket::new_checked(pl).map(|u| UdpRepr::parse(&u, &s, &d).is_ok());
                }
                IpProtocol::Icmpv6 => {
                    let _ = Icmpv6Packet::new_checked(pl)
                        .map(|i| Icmpv6Repr::parse(&i, &r.src, &r.dst).is_ok());
                }
                _ => {}
            }
        }
        _ => {}
    }
}

fn fixtures() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("fixtures dir") {
        let path = e.expect("entry").path();
        if path.extension().is_some_and(|x| x == "hex") {
            let s = std::fs::read_to_string(&path).expect("read");
            let s = s.trim();
            out.push(
                (0..s.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
                    .collect(),
            );
        }
    }
    assert!(out.len() >= 20, "fixtures present");
    out.sort();
    out
}

proptest! {
    #[test]
    fn checksum_matches_reference(data in proptest::collection::vec(any::<u8>(), 0..3000), init in any::<u32>(), split in any::<usize>()) {
        prop_assert_eq!(checksum::fold(checksum::ones_complement_sum(&data, init)), naive(&data, init));
        let mut dst = vec![0u8; data.len()];
        let s = checksum::copy_with_checksum(&mut dst, &data, init);
        prop_assert_eq!(&dst, &data);
        prop_assert_eq!(checksum::fold(s), naive(&data, init));
        // Chaining an even-length prefix with the rest equals the whole.
        let cut = if data.is_empty() { 0 } else { (split % data.len()) & !1 };
        let a = checksum::ones_complement_sum(&data[..cut], init);
        prop_assert_eq!(checksum::fold(checksum::ones_complement_sum(&data[cut..], a)), naive(&data, init));
    }

    #[test]
    fn incremental_update_verifies(mut data in proptest::collection::vec(any::<u8>(), 2..64), at in any::<usize>(), new in any::<u16>()) {
        // Whole 16-bit words only, so the appended checksum is word aligned.
        data.truncate(data.len() & !1);
        let i = (at % (data.len() / 2)) * 2;
        // Append room for a checksum so the whole verifies.
        data.extend_from_slice(&[0, 0]);
        let n = data.len();
        let c = checksum::checksum(&data);
        data[n - 2..].copy_from_slice(&c.to_be_bytes());
        let old = u16::from_be_bytes([data[i], data[i + 1]]);
        data[i..i + 2].copy_from_slice(&new.to_be_bytes());
        let c2 = checksum::update_u16(c, old, new);
        data[n - 2..].copy_from_slice(&c2.to_be_bytes());
        prop_assert_eq!(checksum::fold(checksum::ones_complement_sum(&data, 0)), 0xffff);
    }

    #[test]
    fn ipv4_round_trip(src in v4(), dst in v4(), proto in any::<u8>(), ttl in any::<u8>(), payload_len in 0usize..1500,
                       dont_frag in any::<bool>(), more_frags in any::<bool>(), off in 0u16..0x2000, ident in any::<u16>(), dscp_ecn in any::<u8>()) {
        let r = Ipv4Repr { src, dst, protocol: IpProtocol::from(proto), ttl, payload_len, dont_frag, more_frags,
                           frag_offset: off << 3, ident, dscp_ecn };
        let mut buf = vec![0u8; r.buffer_len() + payload_len];
        r.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..])).expect("emit");
        let p = Ipv4Packet::new_checked(&buf[..]).expect("valid");
        prop_assert_eq!(Ipv4Repr::parse(&p), Ok(r));
        prop_assert_eq!(p.is_fragment(), more_frags || off != 0);
    }

    #[test]
    fn ipv6_round_trip(src in v6(), dst in v6(), nh in any::<u8>(), hop_limit in any::<u8>(), payload_len in 0usize..1500,
                       traffic_class in any::<u8>(), flow_label in 0u32..(1 << 20)) {
        let r = Ipv6Repr { src, dst, next_header: IpProtocol::from(nh), payload_len, hop_limit, traffic_class, flow_label };
        let mut buf = vec![0u8; r.buffer_len() + payload_len];
        r.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..])).expect("emit");
        prop_assert_eq!(Ipv6Repr::parse(&Ipv6Packet::new_checked(&buf[..]).expect("valid")), Ok(r));
    }

    #[test]
    fn tcp_round_trip(src in v4(), dst in v4(), s6 in v6(), d6 in v6(), ports in any::<(u16, u16)>(), seq in any::<u32>(), ack in any::<u32>(),
                      flags in any::<u8>(), window in any::<u16>(), urgent in any::<u16>(), options in tcp_options(),
                      payload in proptest::collection::vec(any::<u8>(), 0..200)) {
        let r = TcpRepr { src_port: ports.0, dst_port: ports.1, seq, ack, flags: TcpFlags(flags), window, urgent, options, payload: &payload };
        prop_assert!(r.header_len() <= 60 && r.header_len() % 4 == 0);
        for (s, d) in [(IpAddr::V4(src), IpAddr::V4(dst)), (IpAddr::V6(s6), IpAddr::V6(d6))] {
            let mut buf = vec![0u8; r.buffer_len()];
            prop_assert_eq!(r.emit(&mut buf, &s, &d), Ok(buf.len()));
            let p = TcpPacket::new_checked(&buf[..]).expect("valid");
            let ok = match (s, d) {
                (IpAddr::V4(a), IpAddr::V4(b)) => p.verify_checksum_v4(a, b),
                (IpAddr::V6(a), IpAddr::V6(b)) => p.verify_checksum_v6(&a, &b),
                _ => false,
            };
            prop_assert!(ok);
            prop_assert_eq!(TcpRepr::parse(&p), Ok(r));
        }
    }

    #[test]
    fn udp_round_trip(src in v4(), dst in v4(), s6 in v6(), d6 in v6(), ports in any::<(u16, u16)>(),
                      payload in proptest::collection::vec(any::<u8>(), 0..300)) {
        let r = UdpRepr { src_port: ports.0, dst_port: ports.1, payload: &payload };
        for (s, d) in [(IpAddr::V4(src), IpAddr::V4(dst)), (IpAddr::V6(s6), IpAddr::V6(d6))] {
            let mut buf = vec![0u8; r.buffer_len()];
            prop_assert_eq!(r.emit(&mut buf, &s, &d), Ok(buf.len()));
            prop_assert_eq!(UdpRepr::parse(&UdpPacket::new_checked(&buf[..]).expect("valid"), &s, &d), Ok(r));
        }
    }

    #[test]
    fn icmp_round_trip(which in 0u8..5, a in any::<u16>(), b in any::<u16>(), code in any::<u8>(), mtu in any::<u32>(),
                       data in proptest::collection::vec(any::<u8>(), 0..200), s6 in v6(), d6 in v6()) {
        let r4 = match which {
            0 => Icmpv4Repr::EchoRequest { ident: a, seq_no: b, data: &data },
            1 => Icmpv4Repr::EchoReply { ident: a, seq_no: b, data: &data },
            2 => Icmpv4Repr::DstUnreachable { code: 4, next_hop_mtu: b, data: &data },
            3 => Icmpv4Repr::DstUnreachable { code, next_hop_mtu: 0, data: &data },
            _ => Icmpv4Repr::TimeExceeded { code, data: &data },
        };
        let mut buf = vec![0u8; r4.buffer_len()];
        prop_assert_eq!(r4.emit(&mut buf), Ok(buf.len()));
        prop_assert_eq!(Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&buf[..]).expect("valid")), Ok(r4));
        let r6 = match which {
            0 => Icmpv6Repr::EchoRequest { ident: a, seq_no: b, data: &data },
            1 => Icmpv6Repr::EchoReply { ident: a, seq_no: b, data: &data },
            2 => Icmpv6Repr::PacketTooBig { mtu, data: &data },
            3 => Icmpv6Repr::DstUnreachable { code, data: &data },
            _ => Icmpv6Repr::TimeExceeded { code, data: &data },
        };
        let mut buf = vec![0u8; r6.buffer_len()];
        prop_assert_eq!(r6.emit(&mut buf, &s6, &d6), Ok(buf.len()));
        prop_assert_eq!(Icmpv6Repr::parse(&Icmpv6Packet::new_checked(&buf[..]).expect("valid"), &s6, &d6), Ok(r6));
    }

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        parse_everything(&b);
        receive_path(&b);
    }

    #[test]
    fn random_ip_like_bytes_never_panic(version in prop_oneof![Just(0x45u8), Just(0x4fu8), Just(0x60u8)], proto in prop_oneof![Just(0u8), Just(1), Just(6), Just(17), Just(43), Just(44), Just(58), Just(60)],
                                        mut b in proptest::collection::vec(any::<u8>(), 40..300)) {
        // Bias towards headers that pass the first checks so deeper code runs.
        b[0] = version;
        let n = b.len() as u16;
        if version >> 4 == 4 {
            b[2..4].copy_from_slice(&n.to_be_bytes());
            b[9] = proto;
            let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
            p.fill_checksum();
        } else {
            b[4..6].copy_from_slice(&(n - 40).to_be_bytes());
            b[6] = proto;
        }
        parse_everything(&b);
        receive_path(&b);
        let off = usize::from(b[0] & 0x0f) * 4;
        if let Some(t) = b.get(off..) {
            parse_everything(t);
        }
    }

    #[test]
    fn mutated_fixtures_never_panic(idx in any::<usize>(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let all = fixtures();
        let mut b = all[idx % all.len()].clone();
        for (at, v) in flips {
            let n = b.len();
            b[at % n] ^= v | 1;
        }
        parse_everything(&b);
        receive_path(&b);
        let c = cut % (b.len() + 1);
        receive_path(&b[..c]);
        parse_everything(&b[..c]);
    }

    #[test]
    fn setters_and_emitters_on_short_buffers_never_panic(len in 0usize..80, options in tcp_options()) {
        let mut b = vec![0u8; len];
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        p.set_src_addr(DOC4_A); p.set_total_len(60); p.fill_checksum(); p.set_frag(true, true, 8);
        let _ = p.payload_mut();
        let mut p = Ipv6Packet::new_unchecked(&mut b[..]);
        p.set_dst_addr(&DOC6_A); p.set_payload_len(100);
        let _ = p.payload_mut();
        let mut p = TcpPacket::new_unchecked(&mut b[..]);
        p.set_header_len(60); p.set_urgent_at(1); p.fill_checksum(0);
        let _ = p.payload_mut();
        let r = TcpRepr { src_port: 1, dst_port: 2, seq: 3, ack: 4, flags: TcpFlags::SYN, window: 5, urgent: 0, options, payload: b"abc" };
        let h = r.emit_header(&mut b);
        prop_assert!(h == 0 || h == r.header_len());
        prop_assert_eq!(h == 0, len < r.header_len());
        let e = r.emit(&mut b, &IpAddr::V4(DOC4_A), &IpAddr::V4(DOC4_A));
        prop_assert_eq!(e.is_ok(), len >= r.buffer_len());
        let _ = options.emit(&mut b);
        let ir = Ipv4Repr { src: DOC4_A, dst: DOC4_A, protocol: IpProtocol::Tcp, ttl: 1, payload_len: 70_000,
                            dont_frag: false, more_frags: false, frag_offset: 0, ident: 0, dscp_ecn: 0 };
        prop_assert!(ir.emit(&mut Ipv4Packet::new_unchecked(&mut b[..])).is_err());
    }
}
