//! The fixed-offset parsers of stack/packet.rs (`parse_ipv4_plain`: IPv4
//! with IHL 5, unfragmented; the TCP header of data offset 8 starting NOP NOP
//! TS) must count and drop exactly as the general parsers do. Each packet
//! below is fed in three encodings to three identical stacks holding an
//! established connection and a listener:
//!  - as the fixed-offset parsers take it (IHL 5, options NOP NOP TS);
//!  - the same segment with its options reordered (TS NOP NOP: same data
//!    offset, same option words, so the same checksum), which the general
//!    TCP parser reads;
//!  - the same packet with a 4-byte IPv4 option (IHL 6), which the general
//!    IPv4 parser reads.
//!
//! The packets are a real data segment of the connection with random
//! changes: sequence and ACK numbers, flags, window, TSval, length, ports,
//! addresses (broadcast, multicast, unspecified, not local), checksums,
//! total length against the buffer, fragment bits, link padding. The
//! results, every counter (but bytes_in), what each stack sends and what the
//! connection delivers must agree. Explicit cases then check the odd
//! headers that only one parser can see (IHL, data offset, cut or
//! misshapen timestamp options) against the drop the general path counts.

#[path = "stack_util.rs"]
mod util;

use std::net::IpAddr;

use tcpkit::stack::{Config, ConnHandle, Counters, ListenAddr, PacketError, Stack};
use tcpkit::{Duration, Instant};
use util::*;

/// A stack pair with an established connection a -> b:80 (b also listens
/// on 81), timestamps on; returns b, the server's handle and one data
/// packet a sent (IHL 5, NOP NOP TS), not yet fed to b.
fn setup(cfg: &Config) -> (Stack, ConnHandle, Vec<u8>, Instant) {
    let mut p = Pair::with(cfg.clone(), Config { ..cfg.clone() });
    p.b.add_address(ip("192.0.2.3")).expect("address");
    let l = p.b.listen(ListenAddr::Any, 80, 8).expect("listen");
    p.b.listen(ListenAddr::Any, 81, 8).expect("listen");
    let c = p.a.connect(p.now, sa(B4, 80), 40000).expect("connect");
    let mut s = None;
    assert!(p.run_until(Duration::from_secs(5), |p| {
        s = s.or_else(|| p.b.accept(l).ok());
        s.is_some()
    }));
    drain(&mut p.a);
    drain(&mut p.b);
    assert_eq!(p.a.send(c, &pattern(300, 5)), Ok(300));
    let mut buf = vec![0u8; 2000];
    let n = p.a.poll_transmit(p.now, &mut buf).expect("a data segment");
    buf.truncate(n);
    assert_eq!(buf[0], 0x45);
    assert_eq!(buf[32] >> 4, 8, "data offset 8");
    assert_eq!(buf[40..44], [1, 1, 8, 10], "NOP NOP TS");
    (p.b, s.expect("accepted"), buf, p.now)
}

/// One packet's parts, changed at will, then encoded three ways.
#[derive(Clone, Debug)]
struct Pkt {
    /// IPv4 header (IHL 5); total length and checksum are filled in unless
    /// set by `total` / `ip_csum_delta`.
    ip: [u8; 20],
    tcp: [u8; 20],
    /// TSval, TSecr.
    ts: [u8; 8],
    payload: Vec<u8>,
    /// Total length to write instead of the right one (IHL 5 value).
    total: Option<u16>,
    ip_csum_delta: u16,
    tcp_csum_delta: u16,
    /// Bytes cut from the end of the buffer.
    cut: usize,
    /// Link padding after the packet.
    pad: usize,
}

impl Pkt {
    fn from(buf: &[u8]) -> Pkt {
        Pkt {
            ip: buf[..20].try_into().expect("ip"),
            tcp: buf[20..40].try_into().expect("tcp"),
            ts: buf[44..52].try_into().expect("ts"),
            payload: buf[52..].to_vec(),
            total: None,
            ip_csum_delta: 0,
            tcp_csum_delta: 0,
            cut: 0,
            pad: 0,
        }
    }

    /// `ip_option`: IHL 6 with a 4-byte option; `reordered`: TS NOP NOP.
    fn encode(&self, ip_option: bool, reordered: bool) -> Vec<u8> {
        let opts: Vec<u8> = if reordered {
            [&[8, 10][..], &self.ts, &[1, 1]].concat()
        } else {
            [&[1, 1, 8, 10][..], &self.ts].concat()
        };
        let mut tcp = [&self.tcp[..], &opts, &self.payload].concat();
        tcp[16..18].copy_from_slice(&[0, 0]);
        let (src, dst) = (&self.ip[12..16], &self.ip[16..20]);
        let pseudo = sum16(src, sum16(dst, u32::from(self.ip[9]) + tcp.len() as u32));
        let c = !fold(sum16(&tcp, pseudo));
        tcp[16..18].copy_from_slice(&(c ^ self.tcp_csum_delta).to_be_bytes());
        let extra = if ip_option { 4 } else { 0 };
        let mut ip = self.ip.to_vec();
        if ip_option {
            ip[0] += 1;
            // NOP NOP NOP EOL (RFC 791 §3.1).
            ip.extend_from_slice(&[1, 1, 1, 0]);
        }
        let total = self.total.unwrap_or((20 + tcp.len()) as u16) as usize + extra;
        ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        ip[10..12].copy_from_slice(&[0, 0]);
        let c = !fold(sum16(&ip, 0));
        ip[10..12].copy_from_slice(&(c ^ self.ip_csum_delta).to_be_bytes());
        let mut out = [ip, tcp].concat();
        out.truncate(out.len().saturating_sub(self.cut));
        out.resize(out.len() + self.pad, 0xa5);
        out
    }
}

fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

const ADDRS: [[u8; 4]; 8] = [
    [192, 0, 2, 1],
    [192, 0, 2, 2],
    [192, 0, 2, 3],
    [255, 255, 255, 255],
    [224, 0, 0, 1],
    [0, 0, 0, 0],
    [198, 51, 100, 7],
    [192, 0, 2, 255],
];

/// One to three random changes to the base packet. Whether the IPv4-option
/// twin is comparable (not for other protocols: ICMP errors quote the
/// packet, options included).
fn mutate(base: &Pkt, rng: &mut Rng) -> (Pkt, bool) {
    let mut p = base.clone();
    let mut ip_twin = true;
    for _ in 0..=rng.below(3) {
        match rng.below(15) {
            0 => {
                let seq = get_u32(&p.tcp, 4);
                let d = rng.below(140_000) as i64 - 70_000;
                let d = if rng.below(3) == 0 { 0 } else { d };
                set_u32(&mut p.tcp, 4, seq.wrapping_add(d as u32));
            }
            1 => {
                let ack = get_u32(&p.tcp, 8);
                let d = rng.below(200_000) as i64 - 100_000;
                set_u32(&mut p.tcp, 8, ack.wrapping_add(d as u32));
            }
            2 => p.tcp[13] = rng.next_u64() as u8,
            3 => p.tcp[14..16].copy_from_slice(&(rng.next_u64() as u16).to_be_bytes()),
            4 => {
                let val = get_u32(&p.ts, 0);
                let d = rng.below(1 << 20) as i64 - (1 << 19);
                set_u32(&mut p.ts, 0, val.wrapping_add(d as u32));
            }
            5 => {
                let len = rng.below(1500) as usize;
                p.payload = pattern(len, rng.next_u64() as u32);
            }
            6 => p.tcp[0..2].copy_from_slice(&(rng.below(3) as u16 + 39_999).to_be_bytes()),
            7 => p.tcp[2..4].copy_from_slice(&(rng.below(4) as u16 + 79).to_be_bytes()),
            8 => p.ip[16..20].copy_from_slice(&ADDRS[rng.below(8) as usize]),
            9 => p.ip[12..16].copy_from_slice(&ADDRS[rng.below(8) as usize]),
            10 => p.tcp_csum_delta = 1 << rng.below(16),
            11 => p.ip_csum_delta = 1 << rng.below(16),
            12 => match rng.below(4) {
                0 => p.total = Some(rng.below(1600) as u16),
                1 => p.cut = rng.below(60) as usize,
                2 => p.pad = rng.below(30) as usize,
                _ => p.total = Some(rng.below(40) as u16),
            },
            13 => {
                // Flags and fragment offset (evil bit, DF, MF, offset), TTL, TOS, ID.
                let f = match rng.below(5) {
                    0 => 0x8000,
                    1 => 0x4000,
                    2 => 0x2000,
                    3 => rng.below(0x2000) as u16,
                    _ => rng.next_u64() as u16,
                };
                p.ip[6..8].copy_from_slice(&f.to_be_bytes());
                p.ip[1] = rng.next_u64() as u8;
                p.ip[4] = rng.next_u64() as u8;
                p.ip[8] = rng.next_u64() as u8;
            }
            _ => {
                p.ip[9] = [1, 17, 99, 6][rng.below(4) as usize];
                ip_twin &= p.ip[9] == 6;
            }
        }
    }
    (p, ip_twin)
}

/// A packet the stack emitted (the fixed-layout IPv4 + timestamps emitter
/// or the general one): lengths and both checksums right (RFC 791 §3.1,
/// RFC 9293 §3.1).
fn assert_well_formed(pkt: &[u8]) {
    assert_eq!(pkt[0], 0x45, "{pkt:?}");
    assert_eq!(usize::from(u16::from_be_bytes([pkt[2], pkt[3]])), pkt.len());
    assert_eq!(fold(sum16(&pkt[..20], 0)), 0xffff, "IPv4 header checksum");
    if pkt[9] == 6 {
        let seg = &pkt[20..];
        let doff = usize::from(seg[12] >> 4) * 4;
        assert!((20..=seg.len()).contains(&doff), "{pkt:?}");
        let pseudo = sum16(&pkt[12..16], sum16(&pkt[16..20], 6 + seg.len() as u32));
        assert_eq!(fold(sum16(seg, pseudo)), 0xffff, "TCP checksum");
    }
}

/// What a stack did with a packet, for comparing.
#[derive(Debug, PartialEq)]
struct Seen {
    result: Result<(), PacketError>,
    counters: Counters,
    sent: Vec<Vec<u8>>,
    delivered: Vec<u8>,
    state: Option<tcpkit::stack::State>,
}

fn feed(s: &mut Stack, c: ConnHandle, now: Instant, pkt: &[u8]) -> Seen {
    let result = s.feed(now, pkt);
    let mut sent = Vec::new();
    let mut buf = vec![0u8; 4000];
    while let Ok(n) = s.poll_transmit(now, &mut buf) {
        assert_well_formed(&buf[..n]);
        sent.push(buf[..n].to_vec());
    }
    let mut delivered = Vec::new();
    read_all(s, c, &mut delivered);
    drain(s);
    let mut counters = *s.counters();
    counters.bytes_in = 0;
    Seen {
        result,
        counters,
        sent,
        delivered,
        state: s.state(c).ok(),
    }
}

fn three_encodings_agree(cfg: Config, seed: u64) -> [u64; 3] {
    let (mut fast, c, base, mut now) = setup(&cfg);
    let (mut tcp_general, c2, base2, _) = setup(&cfg);
    let (mut ip_general, c3, base3, _) = setup(&cfg);
    assert_eq!(c, c2);
    assert_eq!(c, c3);
    assert!(base == base2 && base == base3, "the setup is deterministic");
    let base = Pkt::from(&base);
    let mut rng = Rng(seed);
    let (mut delivered, mut accepted) = (0, 0);
    for i in 0..6000 {
        let (p, ip_twin) = if i == 0 {
            (base.clone(), true)
        } else {
            mutate(&base, &mut rng)
        };
        let a = feed(&mut fast, c, now, &p.encode(false, false));
        let b = feed(&mut tcp_general, c, now, &p.encode(false, true));
        assert_eq!(a, b, "packet {i}: {p:?}");
        // Other protocols go to the third stack as they are (their ICMP
        // errors quote the packet, options included), keeping it in step.
        let d = feed(&mut ip_general, c, now, &p.encode(ip_twin, false));
        assert_eq!(a, d, "packet {i} (IPv4 option: {ip_twin}): {p:?}");
        delivered += a.delivered.len();
        accepted += usize::from(a.result.is_ok());
        if rng.below(50) == 0 {
            now += Duration::from_millis(rng.below(3000));
            for s in [&mut fast, &mut tcp_general, &mut ip_general] {
                s.handle_timeout(now);
            }
        }
    }
    // Many packets reached the connection and some of their data the reader.
    assert!(
        accepted > 1000 && delivered > 1000,
        "{accepted} {delivered}"
    );
    let k = fast.counters();
    [
        k.dropped_malformed,
        k.dropped_checksum,
        k.dropped_not_for_us,
    ]
}

#[test]
fn fixed_offset_parsers_count_and_drop_as_the_general_ones() {
    for (i, any_dst) in [false, true].into_iter().enumerate() {
        let cfg = Config {
            accept_any_destination: any_dst,
            ..config(3)
        };
        let [malformed, checksum, not_for_us] = three_encodings_agree(cfg, 0x9e37_79b9 + i as u64);
        // The changes reached every kind of drop.
        assert!(malformed > 20 && checksum > 20, "{malformed} {checksum}");
        if !any_dst {
            assert!(not_for_us > 20, "{not_for_us}");
        }
    }
}

/// Odd headers only one parser sees, each against the drop the general
/// path counts for it (and the connection left as it was).
#[test]
fn odd_headers_are_dropped_and_counted() {
    let (mut s, c, base, now) = setup(&config(4));
    let base = Pkt::from(&base);
    let ok = base.encode(false, false);
    type Case = (&'static str, Vec<u8>, Result<(), PacketError>);
    let mut cases: Vec<Case> = Vec::new();
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut v = ok.clone();
        f(&mut v);
        v
    };
    // Recompute the IPv4 header checksum (of `ihl` words) after a change.
    let ip_fix = |v: &mut Vec<u8>| {
        let ihl = usize::from(v[0] & 15) * 4;
        v[10..12].copy_from_slice(&[0, 0]);
        let c = !fold(sum16(&v[..ihl.min(v.len())], 0));
        v[10..12].copy_from_slice(&c.to_be_bytes());
    };
    // Recompute the TCP checksum over the segment at 20.. after a change.
    let tcp_fix = |v: &mut Vec<u8>| {
        v[36..38].copy_from_slice(&[0, 0]);
        let seg = &v[20..];
        let pseudo = sum16(&v[12..16], sum16(&v[16..20], 6 + seg.len() as u32));
        let c = !fold(sum16(seg, pseudo));
        v[36..38].copy_from_slice(&c.to_be_bytes());
    };
    let malformed = Err(PacketError::Malformed);
    cases.push((
        "IHL 4",
        with(&|v| {
            v[0] = 0x44;
            ip_fix(v);
        }),
        malformed,
    ));
    cases.push((
        "IHL 15 beyond the total length",
        with(&|v| {
            v[0] = 0x4f;
            v[2..4].copy_from_slice(&40u16.to_be_bytes());
            ip_fix(v);
        }),
        malformed,
    ));
    cases.push((
        "version 5",
        with(&|v| {
            v[0] = 0x55;
            ip_fix(v);
        }),
        malformed,
    ));
    cases.push((
        "total length beyond the buffer",
        {
            let mut v = ok.clone();
            v.truncate(v.len() - 1);
            v
        },
        malformed,
    ));
    cases.push(("shorter than an IPv4 header", ok[..19].to_vec(), malformed));
    cases.push((
        "TCP data offset 4",
        with(&|v| {
            v[32] = 0x40;
            tcp_fix(v);
        }),
        malformed,
    ));
    cases.push((
        "TCP data offset beyond the segment",
        with(&|v| {
            v.truncate(20 + 30);
            let total = v.len() as u16;
            v[2..4].copy_from_slice(&total.to_be_bytes());
            ip_fix(v);
            tcp_fix(v);
        }),
        malformed,
    ));
    cases.push((
        "NOP NOP TS with length 9",
        with(&|v| {
            v[43] = 9;
            tcp_fix(v);
        }),
        malformed,
    ));
    cases.push((
        "NOP NOP TS with length 11 (past the header)",
        with(&|v| {
            v[43] = 11;
            tcp_fix(v);
        }),
        malformed,
    ));
    cases.push((
        "NOP NOP TS cut by data offset 7",
        with(&|v| {
            v[32] = 0x70;
            tcp_fix(v);
        }),
        malformed,
    ));
    cases.push((
        "NOP NOP TS with a bad checksum",
        with(&|v| v[45] ^= 1),
        Err(PacketError::Checksum),
    ));
    cases.push((
        "IPv4 header checksum",
        with(&|v| v[8] ^= 1),
        Err(PacketError::Checksum),
    ));
    for (to, what) in [
        ([255, 255, 255, 255], "broadcast destination"),
        ([224, 0, 0, 1], "multicast destination"),
        ([198, 51, 100, 7], "destination not local"),
    ] {
        let v = with(&|v| {
            v[16..20].copy_from_slice(&to);
            ip_fix(v);
            tcp_fix(v);
        });
        cases.push((what, v, Err(PacketError::NotForUs)));
    }
    for (from, what) in [
        ([255, 255, 255, 255], "broadcast source"),
        ([224, 0, 0, 1], "multicast source"),
        ([0, 0, 0, 0], "unspecified source"),
    ] {
        let v = with(&|v| {
            v[12..16].copy_from_slice(&from);
            ip_fix(v);
            tcp_fix(v);
        });
        cases.push((what, v, malformed));
    }
    let info_before = s.info(c).expect("info").tcp;
    for (what, pkt, expected) in &cases {
        let before = *s.counters();
        let got = s.feed(now, pkt);
        assert_eq!(got, *expected, "{what}");
        let after = *s.counters();
        let counted = match expected {
            Err(PacketError::Malformed) => after.dropped_malformed - before.dropped_malformed,
            Err(PacketError::Checksum) => after.dropped_checksum - before.dropped_checksum,
            Err(PacketError::NotForUs) => after.dropped_not_for_us - before.dropped_not_for_us,
            Ok(()) => 1,
        };
        assert_eq!(counted, 1, "{what}: counted once");
        assert_eq!(after.packets_in, before.packets_in + 1, "{what}");
        let mut buf = [0u8; 100];
        assert!(
            s.poll_transmit(now, &mut buf).is_err(),
            "{what}: nothing sent"
        );
    }
    let info = s.info(c).expect("info").tcp;
    assert_eq!(
        (info.bytes_received, info.segs_received, info.state),
        (
            info_before.bytes_received,
            info_before.segs_received,
            info_before.state
        ),
        "no odd packet reached the connection"
    );
    // The unchanged packet still goes through afterwards.
    assert_eq!(s.feed(now, &ok), Ok(()));
    let mut got = Vec::new();
    read_all(&mut s, c, &mut got);
    assert_eq!(got, pattern(300, 5));
    assert!(matches!(ip("192.0.2.2"), IpAddr::V4(_)));
}

/// The last-flow shortcut of the demux (`FlowKey::matches`) needs the whole
/// 4-tuple: right after a segment of the connection, the next in-order
/// segment with one of its four fields changed belongs to no connection
/// (RFC 9293 §3.10.7.1: it gets a RST) and none of its data is delivered.
#[test]
fn the_last_flow_shortcut_matches_the_whole_four_tuple() {
    let (mut s, c, base, now) = setup(&config(5));
    let mut p = Pkt::from(&base);
    assert_eq!(s.feed(now, &p.encode(false, false)), Ok(()));
    let mut got = Vec::new();
    read_all(&mut s, c, &mut got);
    assert_eq!(got, pattern(300, 5));
    while s.poll_transmit(now, &mut [0u8; 2000]).is_ok() {}
    // The next 300 bytes of the stream, as the connection expects them.
    let seq = get_u32(&p.tcp, 4).wrapping_add(300);
    set_u32(&mut p.tcp, 4, seq);
    p.payload = pattern(300, 6);
    type Change = fn(&mut Pkt);
    let variants: [(&str, Change); 4] = [
        ("other source address", |p| {
            p.ip[12..16].copy_from_slice(&[192, 0, 2, 9])
        }),
        ("other local address", |p| {
            p.ip[16..20].copy_from_slice(&[192, 0, 2, 3])
        }),
        ("other source port", |p| {
            p.tcp[0..2].copy_from_slice(&40001u16.to_be_bytes())
        }),
        ("other local port", |p| {
            p.tcp[2..4].copy_from_slice(&81u16.to_be_bytes())
        }),
    ];
    for (what, change) in variants {
        let mut v = p.clone();
        change(&mut v);
        // Just after a segment of the connection (the remembered flow).
        let mut q = Pkt::from(&base);
        q.payload.clear();
        set_u32(&mut q.tcp, 4, seq);
        assert_eq!(s.feed(now, &q.encode(false, false)), Ok(()), "{what}");
        while s.poll_transmit(now, &mut [0u8; 2000]).is_ok() {}
        let rst_before = s.counters().rst_sent;
        assert_eq!(s.feed(now, &v.encode(false, false)), Ok(()), "{what}");
        assert_eq!(
            s.counters().rst_sent,
            rst_before + 1,
            "{what}: answered with a RST"
        );
        let mut got = Vec::new();
        read_all(&mut s, c, &mut got);
        assert!(got.is_empty(), "{what}: delivered {} bytes", got.len());
        assert_eq!(s.info(c).expect("info").tcp.bytes_received, 300, "{what}");
        while s.poll_transmit(now, &mut [0u8; 2000]).is_ok() {}
    }
    // The segment itself is the connection's.
    assert_eq!(s.feed(now, &p.encode(false, false)), Ok(()));
    let mut got = Vec::new();
    read_all(&mut s, c, &mut got);
    assert_eq!(got, pattern(300, 6));
}
