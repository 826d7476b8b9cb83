//! Fuzz target bodies, one plain function per target. They are shared by the
//! cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`, libFuzzer on nightly) and the
//! stable seeded drivers (`core/tests/hostile_fuzz.rs`, which includes this
//! file with `#[path]`), so the same checks run with or without libFuzzer.
//!
//! Each body takes arbitrary bytes, must never panic for any input except on
//! a broken invariant, and checks round trips where a parse succeeds.
//! Only `tcpkit` and `std` are used here.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tcpkit::stack::{Config, ConnHandle, Counters, ListenAddr, PacketError, Stack};
use tcpkit::wire::checksum;
use tcpkit::wire::icmpv4::{self, Icmpv4Packet, Icmpv4Repr};
use tcpkit::wire::icmpv6::{self, Icmpv6Packet, Icmpv6Repr};
use tcpkit::wire::ipv4::{Ipv4Packet, Ipv4Repr};
use tcpkit::wire::ipv6::{Ipv6Packet, Ipv6Repr};
use tcpkit::wire::tcp::{TcpOptions, TcpPacket, TcpRepr};
use tcpkit::wire::udp::{UdpPacket, UdpRepr};
use tcpkit::Instant;

/// Addresses the wire targets verify transport checksums against.
pub const SRC4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
pub const DST4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const SRC6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
pub const DST6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

/// The names of the targets, in the order the drivers run them.
pub const TARGETS: [&str; 7] = [
    "ipv4",
    "ipv6",
    "tcp",
    "udp",
    "icmpv4",
    "icmpv6",
    "stack_feed",
];

/// Runs target `name` on `data`; false for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "ipv4" => ipv4(data),
        "ipv6" => ipv6(data),
        "tcp" => tcp(data),
        "udp" => udp(data),
        "icmpv4" => icmpv4(data),
        "icmpv6" => icmpv6(data),
        "stack_feed" => stack_feed(data),
        _ => return false,
    }
    true
}

/// First byte of the input says whether to repair checksums before parsing
/// (odd: repair), so random bytes also reach the code behind checksum checks.
fn split_mode(data: &[u8]) -> (bool, &[u8]) {
    match data.split_first() {
        Some((m, rest)) => (m & 1 == 1, rest),
        None => (false, data),
    }
}

fn put_u16(buf: &mut [u8], at: usize, v: u16) {
    if let Some(s) = buf.get_mut(at..at + 2) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

/// Sets the 16-bit checksum at `at` so that the sum over `buf` plus `pseudo` verifies.
fn repair_checksum(buf: &mut [u8], at: usize, pseudo: u32) {
    if buf.len() < at + 2 {
        return;
    }
    put_u16(buf, at, 0);
    let c = checksum::finish(checksum::ones_complement_sum(buf, pseudo));
    put_u16(buf, at, c);
}

// ----------------------------------------------------------------------
// wire targets
// ----------------------------------------------------------------------

/// IPv4 header: checked view, getters, Repr parse, emit, re-parse.
pub fn ipv4(data: &[u8]) {
    let (repair, data) = split_mode(data);
    let mut buf = data.to_vec();
    if repair && buf.len() >= 20 {
        let ihl = usize::from(buf[0] & 0x0f) * 4;
        if ihl >= 20 && ihl <= buf.len() {
            repair_checksum(&mut buf[..ihl], 10, 0);
        }
    }
    // Getters of an unchecked view must not panic on any length either.
    let u = Ipv4Packet::new_unchecked(&buf[..]);
    let _ = (u.version(), u.header_len(), u.total_len(), u.frag_offset());
    let _ = (
        u.src_addr(),
        u.dst_addr(),
        u.options().len(),
        u.payload().len(),
    );
    let _ = icmpv4::parse_quoted(&buf);
    let Ok(p) = Ipv4Packet::new_checked(&buf[..]) else {
        return;
    };
    let hl = usize::from(p.header_len());
    let tl = usize::from(p.total_len());
    assert!(
        hl >= 20 && hl <= tl && tl <= buf.len(),
        "checked view with bad lengths"
    );
    assert_eq!(p.payload().len(), tl - hl);
    let Ok(repr) = Ipv4Repr::parse(&p) else {
        return;
    };
    assert_eq!(repr.payload_len, tl - hl);
    let mut out = vec![0u8; repr.buffer_len() + repr.payload_len];
    let mut op = Ipv4Packet::new_unchecked(&mut out[..]);
    if repr.emit(&mut op).is_err() {
        return; // 20 + payload does not fit 16 bits when options were dropped: impossible here
    }
    let again = Ipv4Packet::new_checked(&out[..]).map(|q| Ipv4Repr::parse(&q));
    assert_eq!(again, Ok(Ok(repr)), "IPv4 emit/parse round trip");
}

/// IPv6 header and extension-header walk; Repr round trip.
pub fn ipv6(data: &[u8]) {
    let u = Ipv6Packet::new_unchecked(data);
    let _ = (
        u.version(),
        u.payload_len(),
        u.next_header(),
        u.payload().len(),
    );
    let _ = icmpv6::parse_quoted(data);
    let Ok(p) = Ipv6Packet::new_checked(data) else {
        return;
    };
    let end = 40 + usize::from(p.payload_len());
    assert!(
        end <= data.len(),
        "checked view with payload past the buffer"
    );
    if let Ok(w) = p.walk_extensions() {
        assert!(
            w.offset >= 40 && w.offset <= end,
            "walk offset out of the packet"
        );
        if let Some(f) = w.fragment {
            assert!(f.header_offset >= 40 && f.header_offset + 8 <= w.offset);
            assert_eq!(f.offset % 8, 0);
        }
    }
    let Ok(repr) = Ipv6Repr::parse(&p) else {
        return;
    };
    let mut out = vec![0u8; repr.buffer_len() + usize::from(p.payload_len())];
    let mut op = Ipv6Packet::new_unchecked(&mut out[..]);
    if repr.emit(&mut op).is_err() {
        return;
    }
    let again = Ipv6Packet::new_checked(&out[..]).map(|q| Ipv6Repr::parse(&q));
    assert_eq!(again, Ok(Ok(repr)), "IPv6 emit/parse round trip");
}

/// TCP header and options; emit and re-parse keep every field the emitter
/// can carry (window scale clamped to 14, SACK blocks as many as fit).
pub fn tcp(data: &[u8]) {
    let (repair, data) = split_mode(data);
    let mut buf = data.to_vec();
    let (src, dst) = (IpAddr::V4(SRC4), IpAddr::V4(DST4));
    if repair {
        let p = checksum::pseudo_header_v4(SRC4, DST4, 6, buf.len() as u32);
        repair_checksum(&mut buf, 16, p);
    }
    let u = TcpPacket::new_unchecked(&buf[..]);
    let _ = (
        u.header_len(),
        u.flags(),
        u.options_bytes().len(),
        u.payload().len(),
    );
    let _ = TcpOptions::parse(u.options_bytes());
    let Ok(p) = TcpPacket::new_checked(&buf[..]) else {
        return;
    };
    let csum_ok = p.verify_checksum_v4(SRC4, DST4);
    assert!(!repair || csum_ok, "repaired TCP checksum does not verify");
    let Ok(repr) = TcpRepr::parse(&p) else {
        return;
    };
    assert_eq!(repr.payload.len() + usize::from(p.header_len()), buf.len());
    let mut out = vec![0u8; repr.buffer_len()];
    let n = repr
        .emit(&mut out, &src, &dst)
        .expect("emit into a buffer of buffer_len()");
    assert_eq!(n, out.len());
    assert!(
        n - repr.payload.len() <= 60,
        "TCP header longer than 60 bytes"
    );
    let q = TcpPacket::new_checked(&out[..]).expect("emitted TCP segment is well formed");
    assert!(q.verify_checksum_v4(SRC4, DST4), "emitted TCP checksum");
    let back = TcpRepr::parse(&q).expect("emitted TCP segment parses");
    assert_eq!(
        (
            back.src_port,
            back.dst_port,
            back.seq,
            back.ack,
            back.flags,
            back.window,
            back.urgent
        ),
        (
            repr.src_port,
            repr.dst_port,
            repr.seq,
            repr.ack,
            repr.flags,
            repr.window,
            repr.urgent
        )
    );
    assert_eq!(back.payload, repr.payload);
    let (a, b) = (&repr.options, &back.options);
    assert_eq!(
        (a.mss, a.timestamps, a.sack_permitted),
        (b.mss, b.timestamps, b.sack_permitted)
    );
    assert_eq!(
        a.window_scale.map(TcpOptions::clamp_window_scale),
        b.window_scale
    );
    let kept = b.sack_blocks();
    assert!(kept.len() <= a.sack_blocks().len());
    assert_eq!(
        kept,
        &a.sack_blocks()[..kept.len()],
        "SACK blocks re-emitted in order"
    );
}

/// UDP over IPv4 and IPv6 pseudo-headers; round trip.
pub fn udp(data: &[u8]) {
    let (repair, data) = split_mode(data);
    for (src, dst) in [
        (IpAddr::V4(SRC4), IpAddr::V4(DST4)),
        (IpAddr::V6(SRC6), IpAddr::V6(DST6)),
    ] {
        let mut buf = data.to_vec();
        if repair && buf.len() >= 8 {
            let len = usize::from(u16::from_be_bytes([buf[4], buf[5]]));
            if (8..=buf.len()).contains(&len) {
                let p =
                    tcpkit::wire::ip::pseudo_header(&src, &dst, 17.into(), len as u32).unwrap_or(0);
                repair_checksum(&mut buf[..len], 6, p);
            }
        }
        let u = UdpPacket::new_unchecked(&buf[..]);
        let _ = (
            u.src_port(),
            u.len(),
            u.payload().len(),
            u.verify_checksum(&src, &dst),
        );
        let Ok(p) = UdpPacket::new_checked(&buf[..]) else {
            continue;
        };
        let Ok(repr) = UdpRepr::parse(&p, &src, &dst) else {
            continue;
        };
        let mut out = vec![0u8; repr.buffer_len()];
        let n = repr
            .emit(&mut out, &src, &dst)
            .expect("emit into buffer_len()");
        let q = UdpPacket::new_checked(&out[..n]).expect("emitted UDP is well formed");
        assert_eq!(UdpRepr::parse(&q, &src, &dst), Ok(repr), "UDP round trip");
    }
}

/// ICMPv4 messages and the quoted packet of errors; round trip.
pub fn icmpv4(data: &[u8]) {
    let (repair, data) = split_mode(data);
    let mut buf = data.to_vec();
    if repair {
        repair_checksum(&mut buf, 2, 0);
    }
    let u = Icmpv4Packet::new_unchecked(&buf[..]);
    let _ = (
        u.msg_type(),
        u.msg_code(),
        u.echo_ident(),
        u.next_hop_mtu(),
        u.data().len(),
    );
    let _ = icmpv4::parse_quoted(u.data());
    let Ok(p) = Icmpv4Packet::new_checked(&buf[..]) else {
        return;
    };
    let Ok(repr) = Icmpv4Repr::parse(&p) else {
        return;
    };
    let mut out = vec![0u8; repr.buffer_len()];
    let n = repr.emit(&mut out).expect("emit into buffer_len()");
    let q = Icmpv4Packet::new_checked(&out[..n]).expect("emitted ICMPv4 is well formed");
    let back = Icmpv4Repr::parse(&q);
    // Emitted bytes of the rest-of-header field not in the Repr may differ; the Repr must not.
    assert_eq!(back, Ok(repr), "ICMPv4 round trip");
}

/// ICMPv6 messages and the quoted packet of errors; round trip.
pub fn icmpv6(data: &[u8]) {
    let (repair, data) = split_mode(data);
    let mut buf = data.to_vec();
    if repair {
        let p = checksum::pseudo_header_v6(&SRC6, &DST6, 58, buf.len() as u32);
        repair_checksum(&mut buf, 2, p);
    }
    let u = Icmpv6Packet::new_unchecked(&buf[..]);
    let _ = (u.msg_type(), u.msg_code(), u.mtu(), u.data().len());
    let _ = icmpv6::parse_quoted(u.data());
    let Ok(p) = Icmpv6Packet::new_checked(&buf[..]) else {
        return;
    };
    let Ok(repr) = Icmpv6Repr::parse(&p, &SRC6, &DST6) else {
        return;
    };
    let mut out = vec![0u8; repr.buffer_len()];
    let n = repr
        .emit(&mut out, &SRC6, &DST6)
        .expect("emit into buffer_len()");
    let q = Icmpv6Packet::new_checked(&out[..n]).expect("emitted ICMPv6 is well formed");
    assert_eq!(
        Icmpv6Repr::parse(&q, &SRC6, &DST6),
        Ok(repr),
        "ICMPv6 round trip"
    );
}

// ----------------------------------------------------------------------
// stack_feed: arbitrary packets into a live stack
// ----------------------------------------------------------------------

/// The server side of the live fixture.
pub const SERVER4: Ipv4Addr = DST4;
/// The client side of the live fixture.
pub const CLIENT4: Ipv4Addr = SRC4;
/// The listener's port.
pub const LISTEN_PORT: u16 = 80;

/// A server stack with a listener on port 80 and one established, accepted
/// connection from a client stack, with some data already exchanged.
#[derive(Debug)]
pub struct LiveFixture {
    pub server: Stack,
    pub client: Stack,
    /// The server's end of the established connection.
    pub conn: ConnHandle,
    /// The client's end.
    pub client_conn: ConnHandle,
    pub client_port: u16,
    pub now: Instant,
    buf: Vec<u8>,
}

impl LiveFixture {
    /// Builds the fixture (two stacks on an in-memory lossless link).
    pub fn new() -> LiveFixture {
        let mk = |seed: u8, addr: Ipv4Addr, addr6: Ipv6Addr| {
            let mut s = Stack::new(Config {
                isn_secret: [seed; 32],
                syn_backlog: 4,
                ..Config::default()
            })
            .expect("valid config");
            s.add_address(IpAddr::V4(addr)).expect("v4 address");
            s.add_address(IpAddr::V6(addr6)).expect("v6 address");
            s
        };
        let mut server = mk(7, SERVER4, DST6);
        let client = mk(9, CLIENT4, SRC6);
        let l = server
            .listen(ListenAddr::Any, LISTEN_PORT, 8)
            .expect("listen");
        let mut f = LiveFixture {
            server,
            client,
            conn: ConnHandle::from_raw(0),
            client_conn: ConnHandle::from_raw(0),
            client_port: 0,
            now: Instant::from_millis(1000),
            buf: vec![0u8; 65536],
        };
        let remote = std::net::SocketAddr::new(IpAddr::V4(SERVER4), LISTEN_PORT);
        f.client_conn = f.client.connect(f.now, remote, 0).expect("connect");
        f.settle();
        f.conn = f.server.accept(l).expect("accept after handshake");
        f.client_port = f
            .client
            .local_endpoint(f.client_conn)
            .expect("client endpoint")
            .port();
        assert!(f.transfer_both_ways(1000, 1), "fixture transfer");
        f
    }

    /// Moves packets both ways until neither side has any.
    pub fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            while let Ok(n) = self.client.poll_transmit(self.now, &mut self.buf) {
                let _ = self.server.feed(self.now, &self.buf[..n]);
                moved = true;
            }
            while let Ok(n) = self.server.poll_transmit(self.now, &mut self.buf) {
                let _ = self.client.feed(self.now, &self.buf[..n]);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    /// Settles, then runs both stacks' timers up to `ms` of virtual time.
    pub fn run_for(&mut self, ms: u64) {
        let end = self.now + tcpkit::Duration::from_millis(ms);
        loop {
            self.settle();
            let next = [self.server.poll_timeout(), self.client.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.server.handle_timeout(self.now);
                    self.client.handle_timeout(self.now);
                }
                _ => {
                    self.now = end;
                    self.settle();
                    return;
                }
            }
        }
    }

    /// Sends `len` pattern bytes each way and checks they arrive byte-exact.
    pub fn transfer_both_ways(&mut self, len: usize, seed: u8) -> bool {
        let up: Vec<u8> = (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect();
        let down: Vec<u8> = (0..len)
            .map(|i| (i as u8).wrapping_mul(17) ^ seed)
            .collect();
        let (mut up_at, mut down_at) = (0, 0);
        let (mut got_up, mut got_down) = (Vec::new(), Vec::new());
        let mut rb = [0u8; 4096];
        for _ in 0..200 {
            if up_at < len {
                up_at += self
                    .client
                    .send(self.client_conn, &up[up_at..])
                    .unwrap_or(0);
            }
            if down_at < len {
                down_at += self.server.send(self.conn, &down[down_at..]).unwrap_or(0);
            }
            self.run_for(50);
            while let Ok(n) = self.server.recv(self.conn, &mut rb) {
                if n == 0 {
                    break;
                }
                got_up.extend_from_slice(&rb[..n]);
            }
            while let Ok(n) = self.client.recv(self.client_conn, &mut rb) {
                if n == 0 {
                    break;
                }
                got_down.extend_from_slice(&rb[..n]);
            }
            if got_up.len() >= len && got_down.len() >= len {
                break;
            }
        }
        got_up == up && got_down == down
    }

    /// Wraps a TCP segment (header + payload) from `src` to the server in
    /// IPv4, with both checksums correct.
    pub fn ipv4_tcp(src: Ipv4Addr, tcp: &[u8]) -> Vec<u8> {
        let mut seg = tcp.to_vec();
        let p = checksum::pseudo_header_v4(src, SERVER4, 6, seg.len() as u32);
        repair_checksum(&mut seg, 16, p);
        ipv4_wrap(src, SERVER4, 6, &seg)
    }
}

impl Default for LiveFixture {
    fn default() -> Self {
        Self::new()
    }
}

/// An IPv4 packet (20-byte header, DF, TTL 64) around `payload`, checksummed.
pub fn ipv4_wrap(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()).min(65535);
    let mut p = vec![0u8; 20];
    p[0] = 0x45;
    put_u16(&mut p, 2, total as u16);
    put_u16(&mut p, 4, 0x4242);
    put_u16(&mut p, 6, 0x4000);
    p[8] = 64;
    p[9] = proto;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    repair_checksum(&mut p, 10, 0);
    p.extend_from_slice(payload.get(..total - 20).unwrap_or(payload));
    p
}

/// Rewrites an IPv4/IPv6 packet to go client -> server and repairs the IP
/// and transport checksums, so mutated bytes get past the first checks.
pub fn repair_ip_packet(buf: &mut [u8]) {
    match buf.first().map(|b| b >> 4) {
        Some(4) if buf.len() >= 20 => {
            buf[12..16].copy_from_slice(&CLIENT4.octets());
            buf[16..20].copy_from_slice(&SERVER4.octets());
            let ihl = usize::from(buf[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([buf[2], buf[3]])).min(buf.len());
            if ihl < 20 || ihl > total {
                return;
            }
            repair_checksum(&mut buf[..ihl], 10, 0);
            let proto = buf[9];
            let frag = u16::from_be_bytes([buf[6], buf[7]]) & 0x3fff != 0;
            if frag {
                return;
            }
            let pseudo = checksum::pseudo_header_v4(CLIENT4, SERVER4, proto, (total - ihl) as u32);
            let seg = &mut buf[ihl..total];
            match proto {
                6 => repair_checksum(seg, 16, pseudo),
                17 => repair_checksum(seg, 6, pseudo),
                1 => repair_checksum(seg, 2, 0),
                _ => {}
            }
        }
        Some(6) if buf.len() >= 40 => {
            buf[8..24].copy_from_slice(&SRC6.octets());
            buf[24..40].copy_from_slice(&DST6.octets());
            let Ok(p) = Ipv6Packet::new_checked(&buf[..]) else {
                return;
            };
            let end = 40 + usize::from(p.payload_len());
            let Ok(w) = p.walk_extensions() else {
                return;
            };
            if w.fragment.is_some() {
                return;
            }
            let proto = w.upper.number();
            let len = end.saturating_sub(w.offset) as u32;
            let pseudo = checksum::pseudo_header_v6(&SRC6, &DST6, proto, len);
            let Some(seg) = buf.get_mut(w.offset..end) else {
                return;
            };
            match proto {
                6 => repair_checksum(seg, 16, pseudo),
                17 => repair_checksum(seg, 6, pseudo),
                58 => repair_checksum(seg, 2, pseudo),
                _ => {}
            }
        }
        _ => {}
    }
}

/// The counters after a packet `feed` refused with `e`: only the input
/// counters and that error's drop counter move.
fn expected_after_error(before: &Counters, len: usize, e: PacketError) -> Counters {
    let mut c = *before;
    c.packets_in += 1;
    c.bytes_in += len as u64;
    match e {
        PacketError::Malformed => c.dropped_malformed += 1,
        PacketError::Checksum => c.dropped_checksum += 1,
        PacketError::NotForUs => c.dropped_not_for_us += 1,
    }
    c
}

/// Splits the input into packets: each is `[mode][len_hi][len_lo]` then
/// `len` bytes (cut at the end of the input).
pub fn split_packets(mut data: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while let [mode, hi, lo, rest @ ..] = data {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
        let (pkt, tail) = rest.split_at(len);
        out.push((*mode, pkt));
        data = tail;
    }
    out
}

/// Builds the packet a chunk describes. Mode & 3: 0 raw IP bytes; 1 IP bytes
/// re-addressed client -> server with checksums repaired; 2 a TCP segment
/// (header + payload) on the established connection's 4-tuple; 3 a TCP
/// segment to the listener from the client address.
pub fn build_packet(f: &LiveFixture, mode: u8, bytes: &[u8]) -> Vec<u8> {
    match mode & 3 {
        0 => bytes.to_vec(),
        1 => {
            let mut b = bytes.to_vec();
            repair_ip_packet(&mut b);
            b
        }
        m => {
            let mut t = bytes.to_vec();
            if t.len() < 20 {
                t.resize(20, 0);
            }
            if m == 2 {
                put_u16(&mut t, 0, f.client_port);
            }
            put_u16(&mut t, 2, LISTEN_PORT);
            // A data offset below 5 cannot be a TCP header; keep the bytes' own otherwise.
            if t[12] >> 4 < 5 {
                t[12] = (5 << 4) | (t[12] & 0x0f);
            }
            LiveFixture::ipv4_tcp(CLIENT4, &t)
        }
    }
}

/// Arbitrary packets (and packet sequences) into a live stack holding a
/// listener and an established connection. Checks: a refused packet moves
/// only its drop counter; if no injected segment reached the established
/// connection, it keeps its state and still carries data byte-exact.
pub fn stack_feed(data: &[u8]) {
    let mut f = LiveFixture::new();
    feed_into(&mut f, data);
}

/// The body of [`stack_feed`] on a given fixture.
pub fn feed_into(f: &mut LiveFixture, data: &[u8]) {
    let before_info = f.server.info(f.conn).expect("fixture connection");
    let mut out = vec![0u8; 65536];
    for (mode, bytes) in split_packets(data) {
        let pkt = build_packet(f, mode, bytes);
        let before = *f.server.counters();
        if mode & 4 != 0 {
            f.now += tcpkit::Duration::from_millis(u64::from(mode >> 3) * 10);
            f.server.handle_timeout(f.now);
        }
        let r = f.server.feed(f.now, &pkt);
        if let Err(e) = r {
            let after = *f.server.counters();
            if after.fragments_reassembled == before.fragments_reassembled && mode & 4 == 0 {
                let mut expected = expected_after_error(&before, pkt.len(), e);
                if e == PacketError::Checksum {
                    // A TCP payload is verified after the demux lookup (fused
                    // with its copy into the receive ring): that work counts,
                    // at most one lookup and one connection visit.
                    let upto_one = |b: u64, a: u64| if a == b + 1 { a } else { b };
                    expected.work_hash_lookups =
                        upto_one(before.work_hash_lookups, after.work_hash_lookups);
                    expected.work_conn_visits =
                        upto_one(before.work_conn_visits, after.work_conn_visits);
                }
                assert_eq!(after, expected, "refused packet moved other counters");
            }
        }
        // What the server answers goes nowhere (the attacker is blind).
        while let Ok(_n) = f.server.poll_transmit(f.now, &mut out) {}
        let _ = f.server.poll_timeout();
        while f.server.poll_event().is_some() {}
    }
    let after_info = f
        .server
        .info(f.conn)
        .expect("connection handle stays valid");
    if after_info.tcp.segs_received == before_info.tcp.segs_received {
        assert_eq!(
            after_info.tcp.state, before_info.tcp.state,
            "untouched connection changed state"
        );
        assert_eq!(
            after_info.tcp.bytes_received,
            before_info.tcp.bytes_received
        );
        assert!(
            f.transfer_both_ways(3000, 5),
            "untouched connection no longer carries data byte-exact"
        );
    } else {
        // Segments reached the connection: it may legitimately have reacted;
        // the stacks must still run without panicking.
        f.run_for(2000);
    }
}

// ----------------------------------------------------------------------
// seed inputs from kernel captures
// ----------------------------------------------------------------------

/// Decodes one line of hex (the format of `core/tests/fixtures/*.hex`).
pub fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let s: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if s.len() % 2 != 0 {
        return None;
    }
    s.chunks(2)
        .map(|c| u8::from_str_radix(std::str::from_utf8(c).ok()?, 16).ok())
        .collect()
}

/// The IP version, upper protocol and transport bytes of a whole packet.
pub fn transport_of(pkt: &[u8]) -> Option<(u8, u8, &[u8])> {
    match pkt.first().map(|b| b >> 4) {
        Some(4) => {
            let p = Ipv4Packet::new_checked(pkt).ok()?;
            if p.is_fragment() {
                return None;
            }
            let start = usize::from(p.header_len());
            let end = usize::from(p.total_len());
            Some((4, p.protocol().number(), pkt.get(start..end)?))
        }
        Some(6) => {
            let p = Ipv6Packet::new_checked(pkt).ok()?;
            let w = p.walk_extensions().ok()?;
            if w.fragment.is_some() {
                return None;
            }
            let end = 40 + usize::from(p.payload_len());
            Some((6, w.upper.number(), pkt.get(w.offset..end)?))
        }
        _ => None,
    }
}

/// Seed inputs for `target` built from captured packets `(name, bytes)`.
/// Wire targets get a mode byte (0: as captured, 1: checksum repaired).
pub fn seed_inputs(target: &str, fixtures: &[(String, Vec<u8>)]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let with_mode = |b: &[u8], m: u8| {
        let mut v = vec![m];
        v.extend_from_slice(b);
        v
    };
    for (name, pkt) in fixtures {
        let t = transport_of(pkt);
        match target {
            "ipv4" if name.starts_with("ipv4") => out.push(with_mode(pkt, 0)),
            "ipv6" if name.starts_with("ipv6") => out.push(pkt.clone()),
            "tcp" | "udp" | "icmpv4" | "icmpv6" => {
                let want = match target {
                    "tcp" => 6,
                    "udp" => 17,
                    "icmpv4" => 1,
                    _ => 58,
                };
                if let Some((_, proto, seg)) = t {
                    if proto == want {
                        out.push(with_mode(seg, 1));
                    }
                }
            }
            "stack_feed" => {
                let chunk = |mode: u8, b: &[u8]| {
                    let len = b.len().min(65535) as u16;
                    let mut v = vec![mode];
                    v.extend_from_slice(&len.to_be_bytes());
                    v.extend_from_slice(&b[..usize::from(len)]);
                    v
                };
                let mut one = chunk(1, pkt);
                if let Some((_, 6, seg)) = t {
                    one.extend(chunk(2, seg));
                    one.extend(chunk(3, seg));
                }
                out.push(one);
            }
            _ => {}
        }
    }
    if target == "stack_feed" {
        // One input replaying every capture in order (fragments included).
        let all: Vec<u8> = fixtures
            .iter()
            .flat_map(|(_, p)| {
                let len = p.len().min(65535) as u16;
                let mut v = vec![1u8];
                v.extend_from_slice(&len.to_be_bytes());
                v.extend_from_slice(&p[..usize::from(len)]);
                v
            })
            .collect();
        out.push(all);
    }
    out
}
