//! Byte-level construct / deconstruct / truncated / malformed tests for the
//! wire formats, and cross-checks against smoltcp's parser.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tcpkit::wire::icmpv4::parse_quoted;
use tcpkit::wire::tcp::header_len_for;
use tcpkit::wire::*;

const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const DST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

fn opts(bytes: &[u8]) -> Result<TcpOptions, WireError> {
    TcpOptions::parse(bytes)
}

fn syn_options() -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: Some((0x0102_0304, 0)),
        ..TcpOptions::default()
    }
}

#[test]
fn tcp_options_linux_syn_layout_parses() {
    let b = [
        2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7,
    ];
    assert_eq!(opts(&b), Ok(syn_options()));
}

#[test]
fn tcp_options_emit_linux_syn_layout() {
    let o = syn_options();
    let mut buf = [0xaau8; 40];
    assert_eq!(o.encoded_len(), 20);
    assert_eq!(o.emit(&mut buf), 20);
    assert_eq!(
        buf[..20],
        [2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7]
    );
    assert_eq!(buf[20..], [0xaa; 20], "nothing written past the options");
    // Without timestamps SACK-permitted goes into its own NOP NOP slot.
    let o = TcpOptions {
        timestamps: None,
        ..syn_options()
    };
    let mut buf = [0u8; 12];
    assert_eq!(o.emit(&mut buf), 12);
    assert_eq!(buf, [2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7]);
    // Timestamps without SACK-permitted: NOP NOP TS.
    let o = TcpOptions {
        sack_permitted: false,
        window_scale: None,
        mss: None,
        ..syn_options()
    };
    let mut buf = [0u8; 12];
    assert_eq!(o.emit(&mut buf), 12);
    assert_eq!(buf, [1, 1, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0]);
}

/// The NOP NOP TS layout of nearly every segment (read and written in one
/// step) gives what the general option walk gives for the same options laid
/// out otherwise; a short buffer gets nothing.
#[test]
fn tcp_options_aligned_timestamps_match_the_general_layouts() {
    let ts = [0x81, 2, 3, 4, 0xfe, 6, 7, 8];
    let mut aligned = vec![1, 1, 8, 10];
    aligned.extend_from_slice(&ts);
    let mut trailing_nops = vec![8, 10];
    trailing_nops.extend_from_slice(&ts);
    trailing_nops.extend_from_slice(&[1, 1]);
    let mut eol_padded = vec![8, 10];
    eol_padded.extend_from_slice(&ts);
    eol_padded.extend_from_slice(&[0, 0]);
    let want = TcpOptions {
        timestamps: Some((0x8102_0304, 0xfe06_0708)),
        ..TcpOptions::default()
    };
    assert_eq!(opts(&aligned), Ok(want));
    assert_eq!(opts(&trailing_nops), Ok(want));
    assert_eq!(opts(&eol_padded), Ok(want));
    // Same prefix, other lengths: the general walk decides.
    assert_eq!(opts(&aligned[..11]), Err(WireError::BadOption));
    let mut longer = aligned.clone();
    longer.extend_from_slice(&[1, 3, 3, 7]);
    assert_eq!(
        opts(&longer),
        Ok(TcpOptions {
            window_scale: Some(7),
            ..want
        })
    );
    let mut buf = [0xaau8; 16];
    assert_eq!(want.emit(&mut buf), 12);
    assert_eq!(buf[..12], aligned[..]);
    assert_eq!(buf[12..], [0xaa; 4]);
    let mut short = [0xaau8; 11];
    assert_eq!(want.emit(&mut short), 0);
    assert_eq!(short, [0xaa; 11], "nothing written when it does not fit");
}

#[test]
fn tcp_options_emit_sack_blocks_within_40_bytes() {
    let mut o = TcpOptions {
        timestamps: Some((7, 9)),
        ..TcpOptions::default()
    };
    for i in 0..4u32 {
        assert!(o.push_sack_block(1000 * i + 100, 1000 * i + 200));
    }
    assert!(!o.push_sack_block(1, 2), "at most four blocks held");
    // RFC 2018 §3: with timestamps only three blocks fit.
    assert_eq!(o.encoded_len(), 12 + 4 + 24);
    let mut buf = [0u8; 40];
    assert_eq!(o.emit(&mut buf), 40);
    assert_eq!(buf[..4], [1, 1, 8, 10]);
    assert_eq!(buf[12..16], [1, 1, 5, 26]);
    let back = opts(&buf).expect("parse");
    assert_eq!(back.sack_blocks(), &o.sack_blocks()[..3]);
    // Without timestamps all four fit.
    o.timestamps = None;
    assert_eq!(o.encoded_len(), 36);
    let mut buf = [0u8; 36];
    assert_eq!(o.emit(&mut buf), 36);
    assert_eq!(buf[..4], [1, 1, 5, 34]);
    assert_eq!(opts(&buf).expect("parse").sack_blocks(), o.sack_blocks());
    assert_eq!(header_len_for(&o), 56);
}

#[test]
fn tcp_options_emit_short_buffer_writes_nothing() {
    let mut buf = [0xeeu8; 19];
    assert_eq!(syn_options().emit(&mut buf), 0);
    assert_eq!(buf, [0xee; 19]);
}

#[test]
fn tcp_window_scale_clamped_to_14() {
    // RFC 7323 §2.3.
    for (shift, want) in [(0u8, 0u8), (14, 14), (15, 14), (255, 14)] {
        assert_eq!(
            opts(&[3, 3, shift, 0]).map(|o| o.window_scale),
            Ok(Some(want))
        );
    }
    let o = TcpOptions {
        window_scale: Some(20),
        ..TcpOptions::default()
    };
    let mut buf = [0u8; 4];
    o.emit(&mut buf);
    assert_eq!(buf, [1, 3, 3, 14]);
}

#[test]
fn tcp_options_unknown_skipped_eol_stops() {
    // Unknown kind 30 (MPTCP) length 4, TFO cookie kind 34 length 2, then MSS.
    assert_eq!(
        opts(&[30, 4, 9, 9, 34, 2, 2, 4, 1, 0]).map(|o| o.mss),
        Ok(Some(256))
    );
    // After EOL anything (even garbage) is ignored.
    assert_eq!(
        opts(&[2, 4, 0, 99, 0, 2, 0, 0]).map(|o| o.mss),
        Ok(Some(99))
    );
    assert_eq!(opts(&[1, 1, 1, 0, 2, 0]), Ok(TcpOptions::default()));
    assert_eq!(opts(&[]), Ok(TcpOptions::default()));
}

/// The 12-byte NOP NOP TS layout (read at once) gives what the general
/// walk gives; near misses of it take the walk (and its errors).
#[test]
fn tcp_options_timestamp_layout_matches_the_general_walk() {
    let ts = [1, 1, 8, 10, 0, 0, 1, 2, 0xff, 0, 0, 3];
    let o = opts(&ts).expect("valid");
    assert_eq!(o.timestamps, Some((0x0102, 0xff00_0003)));
    assert_eq!(
        o,
        TcpOptions {
            timestamps: Some((0x0102, 0xff00_0003)),
            ..TcpOptions::default()
        }
    );
    // Same option in another legal layout: TS first, then NOP padding.
    let moved = [8, 10, 0, 0, 1, 2, 0xff, 0, 0, 3, 1, 1];
    assert_eq!(opts(&moved), Ok(o));
    // Wrong timestamp length inside the same 12 bytes: an error, not a fast-path read.
    let bad = [1, 1, 8, 9, 0, 0, 1, 2, 0xff, 0, 0, 3];
    assert_eq!(opts(&bad), Err(WireError::BadOption));
}

#[test]
fn tcp_options_malformed_are_bad_option() {
    let cases: &[&[u8]] = &[
        &[2],                         // kind without length
        &[2, 0, 0, 0],                // length 0
        &[2, 1, 0, 0],                // length 1
        &[30, 1],                     // unknown kind, length 1
        &[2, 4, 5],                   // runs past the end
        &[30, 9, 0, 0],               // unknown kind running past the end
        &[2, 3, 5],                   // MSS of wrong length
        &[2, 5, 5, 5, 5],             // MSS of wrong length
        &[3, 4, 1, 1],                // window scale of wrong length
        &[4, 3, 0],                   // SACK-permitted of wrong length
        &[8, 6, 0, 0, 0, 0],          // timestamps of wrong length
        &[5, 2],                      // SACK with no block
        &[5, 9, 0, 0, 0, 0, 0, 0, 0], // SACK not a multiple of 8
    ];
    for c in cases {
        assert_eq!(opts(c), Err(WireError::BadOption), "{c:?}");
    }
}

fn data_repr<'a>(payload: &'a [u8]) -> TcpRepr<'a> {
    let mut options = TcpOptions {
        timestamps: Some((11, 22)),
        ..TcpOptions::default()
    };
    options.push_sack_block(5000, 6000);
    TcpRepr {
        src_port: 40000,
        dst_port: 80,
        seq: 0xfedc_ba98,
        ack: 0x0123_4567,
        flags: TcpFlags::ACK | TcpFlags::PSH,
        window: 512,
        urgent: 0,
        options,
        payload,
    }
}

#[test]
fn tcp_construct_deconstruct() {
    let payload = b"hello, world!";
    let r = data_repr(payload);
    assert_eq!(r.header_len(), 20 + 12 + 12);
    let mut buf = vec![0u8; r.buffer_len()];
    let n = r
        .emit(&mut buf, &IpAddr::V4(SRC), &IpAddr::V4(DST))
        .expect("emit");
    assert_eq!(n, buf.len());
    let p = TcpPacket::new_checked(&buf[..]).expect("valid");
    assert_eq!(p.src_port(), 40000);
    assert_eq!(p.dst_port(), 80);
    assert_eq!(p.seq_number(), 0xfedc_ba98);
    assert_eq!(p.ack_number(), 0x0123_4567);
    assert_eq!(usize::from(p.header_len()), r.header_len());
    assert_eq!(p.flags(), TcpFlags::ACK | TcpFlags::PSH);
    assert_eq!(p.window_len(), 512);
    assert_eq!(p.payload(), payload);
    assert!(p.verify_checksum_v4(SRC, DST));
    assert!(!p.verify_checksum_v4(DST, Ipv4Addr::new(203, 0, 113, 4)));
    assert_eq!(TcpRepr::parse(&p), Ok(r));
    // emit_header + fused payload copy gives the same bytes.
    let mut b2 = vec![0u8; r.buffer_len()];
    let h = r.emit_header(&mut b2);
    let pseudo = checksum::pseudo_header_v4(SRC, DST, 6, b2.len() as u32);
    let sum = checksum::ones_complement_sum(&b2[..h], pseudo);
    let sum = checksum::copy_with_checksum(&mut b2[h..], payload, sum);
    b2[16..18].copy_from_slice(&checksum::finish(sum).to_be_bytes());
    assert_eq!(b2, buf);
}

#[test]
fn tcp_truncated_and_bad_lengths() {
    let r = data_repr(b"xy");
    let mut buf = vec![0u8; r.buffer_len()];
    r.emit(&mut buf, &IpAddr::V4(SRC), &IpAddr::V4(DST))
        .expect("emit");
    assert_eq!(
        TcpPacket::new_checked(&buf[..19]).err(),
        Some(WireError::Truncated)
    );
    assert_eq!(
        TcpPacket::new_checked(&buf[..30]).err(),
        Some(WireError::Truncated)
    );
    let mut bad = buf.clone();
    bad[12] = 4 << 4;
    assert_eq!(
        TcpPacket::new_checked(&bad[..]).err(),
        Some(WireError::BadHeaderLength)
    );
    let mut bad = buf.clone();
    bad[20] = 2; // MSS kind where NOP was: [2, 1, ...] length 1
    assert_eq!(TcpRepr::parse_bytes(&bad), Err(WireError::BadOption));
    // Short output buffers: nothing written, no panic.
    let mut short = vec![0u8; r.buffer_len() - 1];
    assert_eq!(
        r.emit(&mut short, &IpAddr::V4(SRC), &IpAddr::V4(DST)),
        Err(WireError::Truncated)
    );
    assert!(short.iter().all(|b| *b == 0));
    let mut short = vec![0u8; r.header_len() - 1];
    assert_eq!(r.emit_header(&mut short), 0);
    assert!(short.iter().all(|b| *b == 0));
    let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));
    assert_eq!(
        r.emit(&mut buf, &IpAddr::V4(SRC), &v6),
        Err(WireError::Unsupported)
    );
}

#[test]
fn tcp_emit_is_understood_by_smoltcp() {
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{IpAddress, TcpPacket as SPacket, TcpRepr as SRepr};
    let payload = [0x5au8; 100];
    for r in [
        TcpRepr {
            flags: TcpFlags::SYN,
            options: syn_options(),
            payload: &[],
            ..data_repr(&[])
        },
        data_repr(&payload),
    ] {
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut buf, &IpAddr::V4(SRC), &IpAddr::V4(DST))
            .expect("emit");
        let (s, d) = (IpAddress::Ipv4(SRC), IpAddress::Ipv4(DST));
        let p = SPacket::new_checked(&buf[..]).expect("smoltcp accepts");
        assert!(p.verify_checksum(&s, &d));
        let sr = SRepr::parse(&p, &s, &d, &ChecksumCapabilities::default()).expect("parse");
        assert_eq!((sr.src_port, sr.dst_port), (r.src_port, r.dst_port));
        assert_eq!(sr.seq_number.0 as u32, r.seq);
        assert_eq!(sr.max_seg_size, r.options.mss);
        assert_eq!(sr.window_scale, r.options.window_scale);
        assert_eq!(sr.sack_permitted, r.options.sack_permitted);
        assert_eq!(
            sr.timestamp.map(|t| (t.tsval, t.tsecr)),
            r.options.timestamps
        );
        let blocks: Vec<(u32, u32)> = sr.sack_ranges.iter().flatten().copied().collect();
        assert_eq!(blocks, r.options.sack_blocks());
        assert_eq!(sr.payload, r.payload);
    }
}

#[test]
fn udp_construct_deconstruct_and_checksum_rules() {
    let (s4, d4) = (IpAddr::V4(SRC), IpAddr::V4(DST));
    let r = UdpRepr {
        src_port: 5353,
        dst_port: 53,
        payload: b"query",
    };
    let mut buf = [0u8; 13];
    assert_eq!(r.emit(&mut buf, &s4, &d4), Ok(13));
    let p = UdpPacket::new_checked(&buf[..]).expect("valid");
    assert_eq!((p.src_port(), p.dst_port(), p.len()), (5353, 53, 13));
    assert!(p.verify_checksum(&s4, &d4));
    assert_eq!(UdpRepr::parse(&p, &s4, &d4), Ok(r));
    // Zero checksum: "none" over IPv4, invalid over IPv6 (RFC 8200 §8.1).
    let mut z = buf;
    z[6..8].copy_from_slice(&[0, 0]);
    assert_eq!(
        UdpRepr::parse(&UdpPacket::new_unchecked(&z[..]), &s4, &d4),
        Ok(r)
    );
    let (s6, d6) = (
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2)),
    );
    assert_eq!(
        UdpRepr::parse(&UdpPacket::new_unchecked(&z[..]), &s6, &d6),
        Err(WireError::BadChecksum)
    );
    let mut bad = buf;
    bad[9] ^= 1;
    assert_eq!(
        UdpRepr::parse(&UdpPacket::new_unchecked(&bad[..]), &s4, &d4),
        Err(WireError::BadChecksum)
    );
    // Lengths: truncated, below 8, trailing padding ignored.
    assert_eq!(
        UdpPacket::new_checked(&buf[..7]).err(),
        Some(WireError::Truncated)
    );
    assert_eq!(
        UdpPacket::new_checked(&buf[..12]).err(),
        Some(WireError::Truncated)
    );
    let mut small = buf;
    small[4..6].copy_from_slice(&7u16.to_be_bytes());
    assert_eq!(
        UdpPacket::new_checked(&small[..]).err(),
        Some(WireError::BadTotalLength)
    );
    let mut padded = [0u8; 20];
    padded[..13].copy_from_slice(&buf);
    let pp = UdpPacket::new_checked(&padded[..]).expect("valid");
    assert_eq!(
        UdpRepr::parse(&pp, &s4, &d4).map(|r| r.payload),
        Ok(&b"query"[..])
    );
    let mut short = [0u8; 12];
    assert_eq!(r.emit(&mut short, &s4, &d4), Err(WireError::Truncated));
}

#[test]
fn udp_zero_sum_is_sent_as_ffff() {
    // RFC 768: a computed checksum of zero is transmitted as all ones. Find
    // a payload whose checksum is zero by fixing two bytes.
    let (s, d) = (IpAddr::V4(SRC), IpAddr::V4(DST));
    let zeros = [0u8; 2];
    let r = UdpRepr {
        src_port: 1,
        dst_port: 2,
        payload: &zeros,
    };
    let mut buf = [0u8; 10];
    r.emit(&mut buf, &s, &d).expect("emit");
    let c = u16::from_be_bytes([buf[6], buf[7]]);
    // Adding the current checksum value as data makes the total sum 0xffff,
    // so the checksum becomes zero.
    let payload = c.to_be_bytes();
    let r = UdpRepr {
        payload: &payload,
        ..r
    };
    r.emit(&mut buf, &s, &d).expect("emit");
    assert_eq!(buf[6..8], [0xff, 0xff]);
    assert!(UdpPacket::new_unchecked(&buf[..]).verify_checksum(&s, &d));
}

#[test]
fn icmpv4_messages_round_trip() {
    let quote = {
        let mut q = [0u8; 28];
        q[0] = 0x45;
        q[2..4].copy_from_slice(&1500u16.to_be_bytes());
        q[9] = 6;
        q[12..16].copy_from_slice(&SRC.octets());
        q[16..20].copy_from_slice(&DST.octets());
        q[20..22].copy_from_slice(&40000u16.to_be_bytes());
        q[22..24].copy_from_slice(&80u16.to_be_bytes());
        q
    };
    let reprs = [
        Icmpv4Repr::EchoRequest {
            ident: 0x1234,
            seq_no: 7,
            data: b"ping",
        },
        Icmpv4Repr::EchoReply {
            ident: 0x1234,
            seq_no: 7,
            data: b"ping",
        },
        Icmpv4Repr::DstUnreachable {
            code: 4,
            next_hop_mtu: 1280,
            data: &quote,
        },
        Icmpv4Repr::DstUnreachable {
            code: 3,
            next_hop_mtu: 0,
            data: &quote,
        },
        Icmpv4Repr::TimeExceeded {
            code: 0,
            data: &quote,
        },
    ];
    for r in reprs {
        let mut buf = vec![0u8; r.buffer_len()];
        assert_eq!(r.emit(&mut buf), Ok(buf.len()));
        let p = Icmpv4Packet::new_checked(&buf[..]).expect("valid");
        assert!(p.verify_checksum());
        assert_eq!(Icmpv4Repr::parse(&p), Ok(r));
        let mut short = vec![0u8; r.buffer_len() - 1];
        assert_eq!(r.emit(&mut short), Err(WireError::Truncated));
    }
    let q = parse_quoted(&quote).expect("quoted");
    assert_eq!((q.src, q.dst, q.protocol), (SRC, DST, IpProtocol::Tcp));
    assert_eq!(q.transport.len(), 8, "header + first 8 bytes");
    assert_eq!(parse_quoted(&quote[..19]), Err(WireError::Truncated));
    let mut bad = quote;
    bad[0] = 0x65;
    assert_eq!(parse_quoted(&bad), Err(WireError::BadVersion));
    assert_eq!(
        Icmpv4Packet::new_checked(&[0u8; 7][..]).err(),
        Some(WireError::Truncated)
    );
    // Unknown type with a valid checksum: Unsupported.
    let mut buf = [13u8, 0, 0, 0, 0, 0, 0, 0];
    let c = checksum::checksum(&buf);
    buf[2..4].copy_from_slice(&c.to_be_bytes());
    assert_eq!(
        Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(&buf[..])),
        Err(WireError::Unsupported)
    );
}

#[test]
fn icmpv6_messages_round_trip() {
    let s: Ipv6Addr = "2001:db8::1".parse().expect("addr");
    let d: Ipv6Addr = "2001:db8::2".parse().expect("addr");
    let inner = [0x60u8; 48];
    for r in [
        Icmpv6Repr::EchoRequest {
            ident: 1,
            seq_no: 2,
            data: b"abc",
        },
        Icmpv6Repr::EchoReply {
            ident: 1,
            seq_no: 2,
            data: b"abc",
        },
        Icmpv6Repr::PacketTooBig {
            mtu: 1280,
            data: &inner,
        },
        Icmpv6Repr::DstUnreachable {
            code: 4,
            data: &inner,
        },
        Icmpv6Repr::TimeExceeded {
            code: 1,
            data: &inner,
        },
    ] {
        let mut buf = vec![0u8; r.buffer_len()];
        assert_eq!(r.emit(&mut buf, &s, &d), Ok(buf.len()));
        let p = Icmpv6Packet::new_checked(&buf[..]).expect("valid");
        assert!(p.verify_checksum(&s, &d));
        assert!(!p.verify_checksum(&d, &d), "pseudo-header is covered");
        assert_eq!(Icmpv6Repr::parse(&p, &s, &d), Ok(r));
        assert_eq!(
            Icmpv6Repr::parse(&p, &d, &s).err(),
            None,
            "src/dst swap sums the same"
        );
        let mut short = vec![0u8; r.buffer_len() - 1];
        assert_eq!(r.emit(&mut short, &s, &d), Err(WireError::Truncated));
    }
}

#[test]
fn icmpv6_quoted_packet_cut_short() {
    // A quoted IPv6 TCP packet: destination options, then the first 12 bytes
    // of the TCP header; its payload length claims far more.
    let mut q = [0u8; 40 + 8 + 12];
    q[0] = 0x60;
    q[4..6].copy_from_slice(&1400u16.to_be_bytes());
    q[6] = 60;
    q[23] = 1;
    q[39] = 2;
    q[40] = 6;
    q[48..50].copy_from_slice(&443u16.to_be_bytes());
    q[52..56].copy_from_slice(&0xdead_beefu32.to_be_bytes());
    let r = icmpv6::parse_quoted(&q).expect("quoted");
    assert_eq!(r.protocol, IpProtocol::Tcp);
    assert_eq!(r.transport.len(), 12);
    assert_eq!(
        TcpPacket::new_unchecked(r.transport).seq_number(),
        0xdead_beef
    );
    assert_eq!(TcpPacket::new_unchecked(r.transport).src_port(), 443);
    // The extension header itself cut: Truncated.
    assert_eq!(icmpv6::parse_quoted(&q[..44]), Err(WireError::Truncated));
    assert_eq!(icmpv6::parse_quoted(&q[..39]), Err(WireError::Truncated));
    let mut bad = q;
    bad[0] = 0x40;
    assert_eq!(icmpv6::parse_quoted(&bad), Err(WireError::BadVersion));
}

#[test]
fn ipv6_routing_header_walked() {
    let mut b = [0u8; 40 + 24 + 8];
    b[0] = 0x60;
    b[4..6].copy_from_slice(&32u16.to_be_bytes());
    b[6] = 43;
    b[40] = 17; // next header UDP
    b[41] = 2; // (2 + 1) * 8 = 24 bytes
    b[42] = 4; // SRH type, irrelevant to the walk
    let p = Ipv6Packet::new_checked(&b[..]).expect("valid");
    let w = p.walk_extensions().expect("walk");
    assert_eq!((w.upper, w.offset), (IpProtocol::Udp, 64));
}

#[test]
fn incremental_update_on_real_header() {
    // RFC 1624: decrementing TTL updates the IPv4 header checksum.
    let r = Ipv4Repr {
        src: SRC,
        dst: DST,
        protocol: IpProtocol::Tcp,
        ttl: 64,
        payload_len: 0,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
        ident: 0xbeef,
        dscp_ecn: 0,
    };
    let mut b = [0u8; 20];
    r.emit(&mut Ipv4Packet::new_unchecked(&mut b[..]))
        .expect("emit");
    let old_word = u16::from_be_bytes([b[8], b[9]]);
    let old_sum = u16::from_be_bytes([b[10], b[11]]);
    b[8] -= 1;
    let new_word = u16::from_be_bytes([b[8], b[9]]);
    let upd = checksum::update_u16(old_sum, old_word, new_word);
    b[10..12].copy_from_slice(&upd.to_be_bytes());
    assert!(Ipv4Packet::new_unchecked(&b[..]).verify_checksum());
    assert_eq!(
        Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&b[..])).map(|r| r.ttl),
        Ok(63)
    );
}
