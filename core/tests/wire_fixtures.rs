//! Golden packets captured from the Linux kernel (see fixtures/README.md):
//! parse, check the fields that follow from how they were made, re-emit from
//! the parsed repr and compare bytes where the layout is the kernel's.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tcpkit::wire::icmpv4::{self, parse_quoted};
use tcpkit::wire::*;

fn hex(s: &str) -> Vec<u8> {
    let s = s.trim();
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

macro_rules! fixture {
    ($name:literal) => {
        hex(include_str!(concat!("fixtures/", $name, ".hex")))
    };
}

const A4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const R4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const B4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

fn a6() -> Ipv6Addr {
    "2001:db8::1".parse().expect("addr")
}
fn r6() -> Ipv6Addr {
    "2001:db8::2".parse().expect("addr")
}

/// Parses the IPv4 header, re-emits it and checks it is byte-identical.
fn ipv4(bytes: &[u8]) -> (Ipv4Repr, &[u8]) {
    let p = Ipv4Packet::new_checked(bytes).expect("valid IPv4");
    let r = Ipv4Repr::parse(&p).expect("IPv4 repr");
    assert_eq!(p.header_len(), 20, "kernel sends no IP options here");
    let mut out = [0u8; 20];
    r.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]))
        .expect("emit");
    assert_eq!(out[..], bytes[..20], "IPv4 header re-emitted identically");
    let payload = &bytes[20..usize::from(p.total_len())];
    (r, payload)
}

/// Parses the fixed IPv6 header, re-emits it and checks it is byte-identical.
fn ipv6(bytes: &[u8]) -> (Ipv6Repr, Ipv6ExtWalk) {
    let p = Ipv6Packet::new_checked(bytes).expect("valid IPv6");
    let r = Ipv6Repr::parse(&p).expect("IPv6 repr");
    let mut out = [0u8; 40];
    r.emit(&mut Ipv6Packet::new_unchecked(&mut out[..]))
        .expect("emit");
    assert_eq!(out[..], bytes[..40], "IPv6 header re-emitted identically");
    assert_eq!(r.payload_len + 40, bytes.len());
    (r, p.walk_extensions().expect("extension walk"))
}

/// Parses a TCP segment, verifies its checksum, re-emits it (kernel option
/// layout) and checks the bytes, checksum included.
fn tcp_round_trip<'a>(seg: &'a [u8], src: IpAddr, dst: IpAddr) -> TcpRepr<'a> {
    let p = TcpPacket::new_checked(seg).expect("valid TCP");
    let ok = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => p.verify_checksum_v4(s, d),
        (IpAddr::V6(s), IpAddr::V6(d)) => p.verify_checksum_v6(&s, &d),
        _ => false,
    };
    assert!(ok, "kernel checksum verifies");
    let r = TcpRepr::parse(&p).expect("TCP repr");
    assert_eq!(
        r.header_len(),
        usize::from(p.header_len()),
        "same option layout length"
    );
    let mut out = vec![0u8; r.buffer_len()];
    assert_eq!(r.emit(&mut out, &src, &dst), Ok(seg.len()));
    assert_eq!(out, seg, "TCP segment re-emitted identically");
    // The header-only path with a later fused payload checksum agrees too.
    let mut out2 = vec![0u8; r.buffer_len()];
    let h = r.emit_header(&mut out2);
    assert_eq!(h, r.header_len());
    assert_eq!(out2[16..18], [0, 0], "emit_header leaves the checksum zero");
    r
}

#[test]
fn ipv4_tcp_syn() {
    let b = fixture!("ipv4_tcp_syn");
    let (ip, seg) = ipv4(&b);
    assert_eq!((ip.src, ip.dst, ip.protocol), (A4, R4, IpProtocol::Tcp));
    assert!(ip.dont_frag);
    let t = tcp_round_trip(seg, A4.into(), R4.into());
    assert_eq!(t.flags, TcpFlags::SYN);
    assert_eq!(t.dst_port, 8000);
    assert_eq!(t.ack, 0);
    // MTU 1500 - 40; Linux SYN carries MSS, SACK-permitted, TS, WS (20 bytes).
    assert_eq!(t.options.mss, Some(1460));
    assert!(t.options.sack_permitted);
    let (tsval, tsecr) = t.options.timestamps.expect("timestamps");
    assert_ne!(tsval, 0);
    assert_eq!(tsecr, 0);
    assert!(t.options.window_scale.is_some());
    assert_eq!(t.header_len(), 40);
    assert!(t.payload.is_empty());
    assert_eq!(t.segment_len(), 1);
}

#[test]
fn ipv4_tcp_synack_answers_syn() {
    let syn_b = fixture!("ipv4_tcp_syn");
    let b = fixture!("ipv4_tcp_synack");
    let syn = TcpRepr::parse_bytes(&syn_b[20..]).expect("syn");
    let (ip, seg) = ipv4(&b);
    assert_eq!((ip.src, ip.dst), (R4, A4));
    let t = tcp_round_trip(seg, R4.into(), A4.into());
    assert_eq!(t.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(t.ack, syn.seq.wrapping_add(1));
    assert_eq!((t.src_port, t.dst_port), (syn.dst_port, syn.src_port));
    let (_, tsecr) = t.options.timestamps.expect("timestamps");
    assert_eq!(Some(tsecr), syn.options.timestamps.map(|t| t.0));
    assert_eq!(t.options.mss, Some(1460));
}

#[test]
fn ipv4_tcp_ack_data_fin_rst() {
    for (name, b) in [
        ("ack", fixture!("ipv4_tcp_ack")),
        ("data", fixture!("ipv4_tcp_data")),
        ("fin", fixture!("ipv4_tcp_fin")),
    ] {
        let (ip, seg) = ipv4(&b);
        let t = tcp_round_trip(seg, ip.src.into(), ip.dst.into());
        assert!(t.flags.ack(), "{name}");
        assert!(t.options.timestamps.is_some(), "{name}: NOP NOP TS layout");
        assert_eq!(t.header_len(), 32, "{name}");
        assert_eq!(t.options.mss, None);
        match name {
            "data" => {
                assert!(t.flags.psh());
                assert!(t.payload.starts_with(b"HTTP/1."), "HTTP response");
                assert_eq!(t.src_port, 8000);
            }
            "fin" => assert!(t.flags.fin()),
            _ => assert!(t.payload.is_empty()),
        }
    }
    let b = fixture!("ipv4_tcp_rst");
    let (ip, seg) = ipv4(&b);
    assert_eq!(ip.src, R4);
    let t = tcp_round_trip(seg, ip.src.into(), ip.dst.into());
    assert!(t.flags.rst());
    assert_eq!(t.src_port, 8001, "closed port answers RST");
    assert_eq!(t.window, 0);
    assert_eq!(t.header_len(), 20);
}

#[test]
fn ipv4_tcp_sack_blocks() {
    let b = fixture!("ipv4_tcp_sack");
    let (ip, seg) = ipv4(&b);
    assert_eq!(ip.src, A4, "the client reports SACK");
    let t = tcp_round_trip(seg, A4.into(), R4.into());
    assert!(t.options.sack_block_count >= 1);
    assert!(t.options.timestamps.is_some());
    for &(l, r) in t.options.sack_blocks() {
        assert!(
            r.wrapping_sub(l) > 0 && r.wrapping_sub(l) < 1 << 30,
            "sane block"
        );
        assert!(
            l.wrapping_sub(t.ack) < 1 << 30,
            "block above the cumulative ACK"
        );
    }
}

#[test]
fn ipv6_tcp_syn_and_synack() {
    let b = fixture!("ipv6_tcp_syn");
    let (ip, walk) = ipv6(&b);
    assert_eq!((ip.src, ip.dst), (a6(), r6()));
    assert_eq!(
        (walk.upper, walk.offset, walk.fragment),
        (IpProtocol::Tcp, 40, None)
    );
    let syn = tcp_round_trip(&b[40..], a6().into(), r6().into());
    assert_eq!(syn.flags, TcpFlags::SYN);
    assert_eq!(syn.options.mss, Some(1440), "MTU 1500 - 60");
    let b = fixture!("ipv6_tcp_synack");
    let (ip, _) = ipv6(&b);
    assert_eq!(ip.src, r6());
    let sa = tcp_round_trip(&b[40..], r6().into(), a6().into());
    assert_eq!(sa.ack, syn.seq.wrapping_add(1));
}

#[test]
fn ipv4_icmp_echo_request_reply() {
    let q = fixture!("ipv4_icmp_echo_request");
    let r = fixture!("ipv4_icmp_echo_reply");
    let (_, qp) = ipv4(&q);
    let (rip, rp) = ipv4(&r);
    assert_eq!(rip.protocol, IpProtocol::Icmp);
    let qr = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(qp).expect("icmp")).expect("repr");
    let rr = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(rp).expect("icmp")).expect("repr");
    match (qr, rr) {
        (
            Icmpv4Repr::EchoRequest {
                ident: i1,
                seq_no: s1,
                data: d1,
            },
            Icmpv4Repr::EchoReply {
                ident: i2,
                seq_no: s2,
                data: d2,
            },
        ) => {
            assert_eq!((i1, s1, d1), (i2, s2, d2), "reply echoes the request");
            assert_eq!(d1.len(), 56);
        }
        other => panic!("unexpected {other:?}"),
    }
    for (repr, bytes) in [(qr, qp), (rr, rp)] {
        let mut out = vec![0u8; repr.buffer_len()];
        assert_eq!(repr.emit(&mut out), Ok(bytes.len()));
        assert_eq!(out, bytes);
    }
}

#[test]
fn ipv4_fragments() {
    let f = fixture!("ipv4_frag_first");
    let l = fixture!("ipv4_frag_last");
    let (fr, fp) = ipv4(&f);
    let (lr, lp) = ipv4(&l);
    assert!(fr.more_frags && fr.frag_offset == 0);
    assert!(!lr.more_frags && lr.frag_offset > 0);
    assert_eq!(fr.ident, lr.ident, "same datagram");
    assert_eq!(fr.frag_offset % 8, 0);
    assert_eq!(usize::from(lr.frag_offset) % 8, 0);
    assert_eq!(fr.payload_len, fp.len());
    assert_eq!(fr.payload_len % 8, 0);
    assert!(Ipv4Packet::new_unchecked(&f[..]).is_fragment());
    assert!(Ipv4Packet::new_unchecked(&l[..]).is_fragment());
    // 3000 bytes of echo data + 8 of ICMP header, split at 1480-byte boundaries.
    assert_eq!(usize::from(lr.frag_offset) + lp.len(), 3008);
    assert_eq!(fp[0], 8, "first fragment starts with the ICMP echo header");
}

#[test]
fn ipv4_icmp_frag_needed() {
    let b = fixture!("ipv4_icmp_frag_needed");
    let (ip, p) = ipv4(&b);
    assert_eq!(ip.src, R4, "the router reports");
    let repr = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(p).expect("icmp")).expect("repr");
    let Icmpv4Repr::DstUnreachable {
        code,
        next_hop_mtu,
        data,
    } = repr
    else {
        panic!("unexpected {repr:?}")
    };
    assert_eq!(code, icmpv4::unreach::FRAG_NEEDED);
    assert_eq!(next_hop_mtu, 1280);
    let q = parse_quoted(data).expect("quoted datagram");
    assert_eq!((q.src, q.dst, q.protocol), (A4, B4, IpProtocol::Icmp));
    assert_eq!(q.transport.first(), Some(&8), "the quoted echo request");
    let mut out = vec![0u8; repr.buffer_len()];
    assert_eq!(repr.emit(&mut out), Ok(p.len()));
    assert_eq!(out, p);
}

#[test]
fn ipv4_udp_and_port_unreachable() {
    let b = fixture!("ipv4_udp");
    let (ip, seg) = ipv4(&b);
    let (s, d) = (IpAddr::V4(ip.src), IpAddr::V4(ip.dst));
    let u = UdpRepr::parse(&UdpPacket::new_checked(seg).expect("udp"), &s, &d).expect("repr");
    assert_eq!(u.payload, b"tcpkit udp v4");
    assert_eq!(u.dst_port, 9999);
    let mut out = vec![0u8; u.buffer_len()];
    assert_eq!(u.emit(&mut out, &s, &d), Ok(seg.len()));
    assert_eq!(out, seg);

    let b = fixture!("ipv4_icmp_port_unreachable");
    let (ip, p) = ipv4(&b);
    assert_eq!(ip.src, R4);
    let repr = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(p).expect("icmp")).expect("repr");
    let Icmpv4Repr::DstUnreachable { code, data, .. } = repr else {
        panic!("unexpected {repr:?}")
    };
    assert_eq!(code, icmpv4::unreach::PORT);
    let q = parse_quoted(data).expect("quoted");
    assert_eq!((q.src, q.dst, q.protocol), (A4, R4, IpProtocol::Udp));
    let qu = UdpPacket::new_unchecked(q.transport);
    assert_eq!((qu.src_port(), qu.dst_port()), (u.src_port, 9999));
    let mut out = vec![0u8; repr.buffer_len()];
    assert_eq!(repr.emit(&mut out), Ok(p.len()));
    assert_eq!(out, p);
}

#[test]
fn ipv6_icmp_echo_and_packet_too_big() {
    for (name, src, dst) in [
        ("ipv6_icmp_echo_request", a6(), r6()),
        ("ipv6_icmp_echo_reply", r6(), a6()),
        ("ipv6_icmp_packet_too_big", r6(), a6()),
    ] {
        let b = match name {
            "ipv6_icmp_echo_request" => fixture!("ipv6_icmp_echo_request"),
            "ipv6_icmp_echo_reply" => fixture!("ipv6_icmp_echo_reply"),
            _ => fixture!("ipv6_icmp_packet_too_big"),
        };
        let (ip, walk) = ipv6(&b);
        assert_eq!((ip.src, ip.dst), (src, dst), "{name}");
        assert_eq!(walk.upper, IpProtocol::Icmpv6);
        let p = &b[walk.offset..];
        let repr = Icmpv6Repr::parse(&Icmpv6Packet::new_checked(p).expect("icmp"), &src, &dst)
            .expect("repr");
        match repr {
            Icmpv6Repr::EchoRequest { data, .. } | Icmpv6Repr::EchoReply { data, .. } => {
                assert_eq!(data.len(), 56)
            }
            Icmpv6Repr::PacketTooBig { mtu, data } => {
                assert_eq!(mtu, 1280);
                assert_eq!(
                    b.len(),
                    1280,
                    "RFC 4443 §2.4(c): error fills the minimum MTU"
                );
                let inner = Ipv6Packet::new_unchecked(data);
                assert_eq!(inner.src_addr(), a6());
                assert_eq!(
                    inner.dst_addr(),
                    "2001:db8:1::2".parse::<Ipv6Addr>().expect("addr")
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        let mut out = vec![0u8; repr.buffer_len()];
        assert_eq!(repr.emit(&mut out, &src, &dst), Ok(p.len()));
        assert_eq!(out, p, "{name}");
    }
}

#[test]
fn ipv6_fragments() {
    let f = fixture!("ipv6_frag_first");
    let l = fixture!("ipv6_frag_last");
    let (_, fw) = ipv6(&f);
    let (_, lw) = ipv6(&l);
    let ff = fw.fragment.expect("fragment header");
    let lf = lw.fragment.expect("fragment header");
    assert_eq!((ff.offset, ff.more_frags), (0, true));
    assert!(!lf.more_frags && lf.offset > 0);
    assert_eq!(ff.ident, lf.ident);
    assert_eq!(
        (ff.next_header, fw.upper),
        (IpProtocol::Icmpv6, IpProtocol::Icmpv6)
    );
    assert_eq!((ff.header_offset, fw.offset), (40, 48));
    // 3000 bytes of echo data + 8 of ICMPv6 header.
    assert_eq!(usize::from(lf.offset) + l.len() - lw.offset, 3008);
    assert_eq!(
        f[fw.offset], 128,
        "first fragment holds the echo request header"
    );
}

#[test]
fn ipv6_udp_with_and_without_extension_headers() {
    for (name, b, ext, payload) in [
        ("plain", fixture!("ipv6_udp"), None, &b"tcpkit udp v6"[..]),
        (
            "dstopts",
            fixture!("ipv6_dstopts_udp"),
            Some(IpProtocol::Ipv6Opts),
            &b"dstopts"[..],
        ),
        (
            "hopopts",
            fixture!("ipv6_hopopts_udp"),
            Some(IpProtocol::HopByHop),
            &b"hopopts"[..],
        ),
    ] {
        let (ip, walk) = ipv6(&b);
        assert_eq!(ip.next_header, ext.unwrap_or(IpProtocol::Udp), "{name}");
        assert_eq!(walk.upper, IpProtocol::Udp, "{name}");
        assert_eq!(walk.offset, if ext.is_some() { 48 } else { 40 }, "{name}");
        assert_eq!(walk.fragment, None);
        let seg = &b[walk.offset..];
        let (s, d) = (IpAddr::V6(ip.src), IpAddr::V6(ip.dst));
        let u = UdpRepr::parse(&UdpPacket::new_checked(seg).expect("udp"), &s, &d).expect("repr");
        assert_eq!(u.payload, payload, "{name}");
        let mut out = vec![0u8; u.buffer_len()];
        assert_eq!(u.emit(&mut out, &s, &d), Ok(seg.len()));
        assert_eq!(out, seg, "{name}");
    }
}

#[test]
fn corrupted_fixture_checksums_are_caught() {
    let mut b = fixture!("ipv4_tcp_data");
    let last = b.len() - 1;
    b[last] ^= 0x01;
    let p = TcpPacket::new_checked(&b[20..]).expect("tcp");
    assert!(!p.verify_checksum_v4(A4, R4) && !p.verify_checksum_v4(R4, A4));
    let mut b = fixture!("ipv4_icmp_echo_request");
    b[30] ^= 0x80;
    let r = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&b[20..]).expect("icmp"));
    assert_eq!(r, Err(WireError::BadChecksum));
    let mut b = fixture!("ipv6_udp");
    let last = b.len() - 1;
    b[last] ^= 0x10;
    let (s, d) = (IpAddr::V6(a6()), IpAddr::V6(r6()));
    let r = UdpRepr::parse(&UdpPacket::new_checked(&b[40..]).expect("udp"), &s, &d);
    assert_eq!(r, Err(WireError::BadChecksum));
}

#[test]
fn ipv4_options_skipped() {
    let b = fixture!("ipv4_options_udp");
    let p = Ipv4Packet::new_checked(&b[..]).expect("valid");
    assert_eq!(p.header_len(), 24, "IHL 6");
    assert_eq!(
        p.options(),
        &[1, 1, 1, 0],
        "NOP NOP NOP EOL as set with IP_OPTIONS"
    );
    let r = Ipv4Repr::parse(&p).expect("repr");
    assert_eq!((r.src, r.dst, r.protocol), (A4, R4, IpProtocol::Udp));
    assert_eq!(r.payload_len, b.len() - 24);
    let (s, d) = (IpAddr::V4(A4), IpAddr::V4(R4));
    let u =
        UdpRepr::parse(&UdpPacket::new_checked(p.payload()).expect("udp"), &s, &d).expect("udp");
    assert_eq!(u.payload, b"ip options");
    // Re-emitted without options: the same fields, a 20-byte header.
    let mut out = vec![0u8; 20 + r.payload_len];
    r.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]))
        .expect("emit");
    out[20..].copy_from_slice(p.payload());
    let back = Ipv4Packet::new_checked(&out[..]).expect("valid");
    assert_eq!(back.header_len(), 20);
    assert_eq!(Ipv4Repr::parse(&back), Ok(r));
}

#[test]
fn ipv6_routing_header_udp() {
    let b = fixture!("ipv6_routing_udp");
    let (ip, walk) = ipv6(&b);
    assert_eq!(ip.next_header, IpProtocol::Ipv6Route);
    assert_eq!(
        ip.dst,
        r6(),
        "SRv6 inline: the active segment is the destination"
    );
    assert_eq!(walk.upper, IpProtocol::Udp);
    let srh_len = (usize::from(b[41]) + 1) * 8;
    assert_eq!(b[42], 4, "routing type 4 (SRH)");
    assert_eq!(walk.offset, 40 + srh_len);
    // RFC 8200 §8.1: with a routing header the pseudo-header uses the final
    // destination (here the original destination, 2001:db8:9::1).
    let fin: Ipv6Addr = "2001:db8:9::1".parse().expect("addr");
    let seg = &b[walk.offset..];
    let (s, d) = (IpAddr::V6(a6()), IpAddr::V6(fin));
    let u = UdpRepr::parse(&UdpPacket::new_checked(seg).expect("udp"), &s, &d).expect("udp");
    assert_eq!(u.payload, b"routing");
    let wrong = UdpRepr::parse(
        &UdpPacket::new_checked(seg).expect("udp"),
        &s,
        &IpAddr::V6(r6()),
    );
    assert_eq!(wrong, Err(WireError::BadChecksum));
    let mut out = vec![0u8; u.buffer_len()];
    assert_eq!(u.emit(&mut out, &s, &d), Ok(seg.len()));
    assert_eq!(out, seg);
}

/// RFC 5737 §3 / RFC 3849 §2: the documentation ranges, the only addresses
/// the project's tests may use (TESTING.md).
fn is_documentation(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => matches!(
            v4.octets(),
            [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _]
        ),
        IpAddr::V6(v6) => v6.segments()[..2] == [0x2001, 0x0db8],
    }
}

#[test]
fn every_fixture_uses_documentation_addresses() {
    assert!(!is_documentation(IpAddr::V4(Ipv4Addr::new(10, 9, 1, 1))));
    assert!(!is_documentation(IpAddr::V6(Ipv6Addr::new(
        0xfd00, 1, 0, 0, 0, 0, 0, 1
    ))));
    for (name, b) in [
        ("ipv4_frag_first", fixture!("ipv4_frag_first")),
        ("ipv4_frag_last", fixture!("ipv4_frag_last")),
        ("ipv4_icmp_echo_reply", fixture!("ipv4_icmp_echo_reply")),
        ("ipv4_icmp_echo_request", fixture!("ipv4_icmp_echo_request")),
        ("ipv4_icmp_frag_needed", fixture!("ipv4_icmp_frag_needed")),
        (
            "ipv4_icmp_port_unreachable",
            fixture!("ipv4_icmp_port_unreachable"),
        ),
        ("ipv4_options_udp", fixture!("ipv4_options_udp")),
        ("ipv4_tcp_ack", fixture!("ipv4_tcp_ack")),
        ("ipv4_tcp_data", fixture!("ipv4_tcp_data")),
        ("ipv4_tcp_fin", fixture!("ipv4_tcp_fin")),
        ("ipv4_tcp_rst", fixture!("ipv4_tcp_rst")),
        ("ipv4_tcp_sack", fixture!("ipv4_tcp_sack")),
        ("ipv4_tcp_syn", fixture!("ipv4_tcp_syn")),
        ("ipv4_tcp_synack", fixture!("ipv4_tcp_synack")),
        ("ipv4_udp", fixture!("ipv4_udp")),
        ("ipv6_dstopts_udp", fixture!("ipv6_dstopts_udp")),
        ("ipv6_frag_first", fixture!("ipv6_frag_first")),
        ("ipv6_frag_last", fixture!("ipv6_frag_last")),
        ("ipv6_hopopts_udp", fixture!("ipv6_hopopts_udp")),
        ("ipv6_icmp_echo_reply", fixture!("ipv6_icmp_echo_reply")),
        ("ipv6_icmp_echo_request", fixture!("ipv6_icmp_echo_request")),
        (
            "ipv6_icmp_packet_too_big",
            fixture!("ipv6_icmp_packet_too_big"),
        ),
        ("ipv6_routing_udp", fixture!("ipv6_routing_udp")),
        ("ipv6_tcp_syn", fixture!("ipv6_tcp_syn")),
        ("ipv6_tcp_synack", fixture!("ipv6_tcp_synack")),
        ("ipv6_udp", fixture!("ipv6_udp")),
    ] {
        let (src, dst): (IpAddr, IpAddr) = if name.starts_with("ipv4") {
            let p = Ipv4Packet::new_checked(&b[..]).expect("valid IPv4");
            (p.src_addr().into(), p.dst_addr().into())
        } else {
            let p = Ipv6Packet::new_checked(&b[..]).expect("valid IPv6");
            (p.src_addr().into(), p.dst_addr().into())
        };
        assert!(is_documentation(src), "{name}: source {src}");
        assert!(is_documentation(dst), "{name}: destination {dst}");
    }
}
