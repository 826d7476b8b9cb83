//! The stack's IP layer glue over `wire`: parse an incoming packet down to
//! its transport payload, and build whole outgoing IP packets (IPv4 with DF
//! set, RFC 1191 §3; IPv6) around TCP, UDP and ICMP.

use core::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use super::PacketError;
use crate::wire::checksum;
use crate::wire::icmpv4::{self, Icmpv4Packet};
use crate::wire::icmpv6::{self, Icmpv6Packet};
use crate::wire::ip::{pseudo_header, IpProtocol};
use crate::wire::ipv4::{self, Ipv4Packet, Ipv4Repr};
use crate::wire::ipv6::{self, Ipv6Packet, Ipv6Repr};
use crate::wire::tcp::{header_len_for, TcpFlags, TcpOptions, TcpPacket, TcpRepr};
use crate::wire::udp::{self, UdpPacket, UdpRepr};
use crate::wire::WireError;

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

/// Hop limit / TTL of packets we originate (RFC 1700 default, Linux's 64).
const HOP_LIMIT: u8 = 64;

fn wire_error(e: WireError) -> PacketError {
    match e {
        WireError::BadChecksum => PacketError::Checksum,
        _ => PacketError::Malformed,
    }
}

/// Fragment fields of an incoming packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragInfo {
    pub id: u32,
    /// Offset in bytes.
    pub offset: usize,
    pub more: bool,
}

/// An incoming IP packet, parsed down to its upper-layer payload.
#[derive(Debug, PartialEq, Eq)]
pub struct IpIn<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub payload: &'a [u8],
    pub frag: Option<FragInfo>,
}

/// RFC 791 §3.1 / RFC 8200 §3-4: validate the IP header (IPv4 header checksum
/// included) and find the upper-layer payload; IPv6 extension headers are walked.
#[inline]
pub fn parse_ip(packet: &[u8]) -> Result<IpIn<'_>, PacketError> {
    match parse_ipv4_plain(packet) {
        Some(ip) => Ok(IpIn {
            src: IpAddr::V4(ip.src),
            dst: IpAddr::V4(ip.dst),
            proto: ip.proto,
            payload: ip.payload,
            frag: None,
        }),
        None => parse_ip_general(packet),
    }
}

/// An unfragmented IPv4 packet without options, as [`parse_ipv4_plain`]
/// reads it: the addresses stay 4-byte values (in registers) on the way
/// to the transport.
#[derive(Clone, Copy, Debug)]
pub struct Ipv4In<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    pub payload: &'a [u8],
}

/// The common IPv4 packet (RFC 791 §3.1): no options (IHL 5), not a
/// fragment, total length within the buffer, header checksum intact, read
/// at fixed offsets; `None` for anything else, which [`parse_ip_general`]
/// handles (and rejects where it must). The same result as that path.
#[inline(always)]
pub fn parse_ipv4_plain(packet: &[u8]) -> Option<Ipv4In<'_>> {
    let h: &[u8; ipv4::HEADER_LEN] = packet.first_chunk()?;
    if h[0] != 0x45 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    // Bytes past the total length are link padding; a total below the header fails here.
    let payload = packet.get(ipv4::HEADER_LEN..total)?;
    // MF clear and fragment offset 0 (DF and the reserved bit do not matter).
    if h[6] & 0x3f != 0 || h[7] != 0 {
        return None;
    }
    if checksum::fold(checksum::ones_complement_sum(h, 0)) != 0xffff {
        return None;
    }
    Some(Ipv4In {
        src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
        dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
        proto: h[9],
        payload,
    })
}

/// `parse_ip` for every packet.
pub fn parse_ip_general(packet: &[u8]) -> Result<IpIn<'_>, PacketError> {
    match packet.first().map(|b| b >> 4) {
        Some(4) => {
            let p = Ipv4Packet::new_checked(packet).map_err(wire_error)?;
            let r = Ipv4Repr::parse(&p).map_err(wire_error)?;
            let h = usize::from(p.header_len());
            let end = h + r.payload_len;
            let payload = packet.get(h..end).ok_or(PacketError::Malformed)?;
            let frag = (r.more_frags || r.frag_offset != 0).then_some(FragInfo {
                id: u32::from(r.ident),
                offset: usize::from(r.frag_offset),
                more: r.more_frags,
            });
            Ok(IpIn {
                src: IpAddr::V4(r.src),
                dst: IpAddr::V4(r.dst),
                proto: r.protocol.number(),
                payload,
                frag,
            })
        }
        Some(6) => {
            let p = Ipv6Packet::new_checked(packet).map_err(wire_error)?;
            let r = Ipv6Repr::parse(&p).map_err(wire_error)?;
            let walk = p.walk_extensions().map_err(wire_error)?;
            let end = ipv6::HEADER_LEN + r.payload_len;
            let payload = packet.get(walk.offset..end).ok_or(PacketError::Malformed)?;
            // RFC 8200 §4.5: an atomic fragment (offset 0, M = 0) is processed as a whole packet.
            let frag = walk
                .fragment
                .filter(|f| f.more_frags || f.offset != 0)
                .map(|f| FragInfo {
                    id: f.ident,
                    offset: usize::from(f.offset),
                    more: f.more_frags,
                });
            Ok(IpIn {
                src: IpAddr::V6(r.src),
                dst: IpAddr::V6(r.dst),
                proto: walk.upper.number(),
                payload,
                frag,
            })
        }
        _ => Err(PacketError::Malformed),
    }
}

/// An incoming TCP segment (checksum verified).
#[derive(Debug, PartialEq, Eq)]
pub struct TcpIn<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub options: TcpOptions,
    pub payload: &'a [u8],
}

/// RFC 9293 §3.1: parse a TCP segment and verify its checksum over the pseudo-header.
pub fn parse_tcp(src: IpAddr, dst: IpAddr, bytes: &[u8]) -> Result<TcpIn<'_>, PacketError> {
    let (seg, partial) = parse_tcp_deferred(src, dst, bytes)?;
    if !payload_checksum_ok(partial, seg.payload) {
        return Err(PacketError::Checksum);
    }
    Ok(seg)
}

/// Parses a TCP segment and sums its pseudo-header and header (checksum
/// field included), leaving the payload unsummed: the caller verifies it with
/// [`payload_checksum_ok`], or fused with its copy into the receive ring
/// (`Connection::handle_segment_unverified`), so each received byte is read
/// once. A header that does not parse counts as a checksum error when the
/// whole segment's checksum fails too (corruption), else as malformed.
// Always: the C ABI build did not inline it on the hint, and reading its
// Result back from memory stalls (wide loads of fresh narrow stores).
#[inline(always)]
pub fn parse_tcp_deferred(
    src: IpAddr,
    dst: IpAddr,
    bytes: &[u8],
) -> Result<(TcpIn<'_>, u32), PacketError> {
    // The common TCP header of an established connection: data offset 8
    // words with the NOP NOP TS option block (RFC 7323 Appendix A), read at
    // fixed offsets; the same result as the general parser. Built straight
    // into the result: a temporary moved into it afterwards is re-read with
    // wide loads of its fresh narrow stores (a store-forwarding stall).
    let (h, payload, pseudo) = match (
        bytes.first_chunk::<32>(),
        bytes.get(32..),
        pseudo_header(&src, &dst, IpProtocol::Tcp, bytes.len() as u32),
    ) {
        (Some(h), Some(payload), Some(pseudo)) if h[12] >> 4 == 8 && h[20..24] == [1, 1, 8, 10] => {
            (h, payload, pseudo)
        }
        _ => return parse_tcp_deferred_syn(src, dst, bytes),
    };
    let be32 = |at: usize| match h.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    };
    Ok((
        TcpIn {
            src_port: u16::from_be_bytes([h[0], h[1]]),
            dst_port: u16::from_be_bytes([h[2], h[3]]),
            seq: be32(4),
            ack: be32(8),
            flags: TcpFlags(h[13]),
            window: u16::from_be_bytes([h[14], h[15]]),
            options: TcpOptions {
                mss: None,
                window_scale: None,
                sack_permitted: false,
                timestamps: Some((be32(24), be32(28))),
                sack_blocks: [(0, 0); 4],
                sack_block_count: 0,
            },
            payload,
        },
        checksum::ones_complement_sum(h, pseudo),
    ))
}

/// Whether [`parse_tcp_deferred`] reads `bytes` at fixed offsets (tests).
#[cfg(test)]
fn takes_timestamps_fast_path(src: IpAddr, dst: IpAddr, bytes: &[u8]) -> bool {
    matches!(
        (bytes.first_chunk::<32>(), pseudo_header(&src, &dst, IpProtocol::Tcp, 0)),
        (Some(h), Some(_)) if h[12] >> 4 == 8 && h[20..24] == [1, 1, 8, 10]
    )
}

/// Whether `h` is a header of data offset 10 with the SYN option layout
/// of tcpkit and Linux (tcp_options_write): MSS; SACK-permitted (or NOP
/// NOP), timestamps; NOP, window scale.
#[inline]
fn is_syn_layout(h: &[u8; 40]) -> bool {
    h[12] >> 4 == 10
        && h[20..22] == [2, 4]
        && (h[24..28] == [4, 2, 8, 10] || h[24..28] == [1, 1, 8, 10])
        && h[36..39] == [1, 3, 3]
}

/// Whether [`parse_tcp_deferred`] reads `bytes` as the SYN layout (tests).
#[cfg(test)]
fn takes_syn_fast_path(src: IpAddr, dst: IpAddr, bytes: &[u8]) -> bool {
    matches!(
        (bytes.first_chunk::<40>(), pseudo_header(&src, &dst, IpProtocol::Tcp, 0)),
        (Some(h), Some(_)) if is_syn_layout(h)
    )
}

/// `parse_tcp_deferred` for a SYN or SYN-ACK with all four options in the
/// layout of [`is_syn_layout`] (two segments of every connection), read at
/// fixed offsets; every other layout goes to the general parser. The same
/// result as the general parser (RFC 9293 §3.1 option walk, RFC 7323 §2.3
/// shift clamp).
#[inline(never)]
fn parse_tcp_deferred_syn<'a>(
    src: IpAddr,
    dst: IpAddr,
    bytes: &'a [u8],
) -> Result<(TcpIn<'a>, u32), PacketError> {
    let (h, payload, pseudo) = match (
        bytes.first_chunk::<40>(),
        bytes.get(40..),
        pseudo_header(&src, &dst, IpProtocol::Tcp, bytes.len() as u32),
    ) {
        (Some(h), Some(payload), Some(pseudo)) if is_syn_layout(h) => (h, payload, pseudo),
        _ => return parse_tcp_deferred_general(src, dst, bytes),
    };
    let be16 = |at: usize| match h.get(at..at + 2) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    };
    let be32 = |at: usize| match h.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    };
    Ok((
        TcpIn {
            src_port: be16(0),
            dst_port: be16(2),
            seq: be32(4),
            ack: be32(8),
            flags: TcpFlags(h[13]),
            window: be16(14),
            options: TcpOptions {
                mss: Some(be16(22)),
                window_scale: Some(TcpOptions::clamp_window_scale(h[39])),
                sack_permitted: h[24] == 4,
                timestamps: Some((be32(28), be32(32))),
                sack_blocks: [(0, 0); 4],
                sack_block_count: 0,
            },
            payload,
        },
        checksum::ones_complement_sum_fixed(h, pseudo),
    ))
}

/// `parse_tcp_deferred` for every header layout.
#[inline(never)]
fn parse_tcp_deferred_general<'a>(
    src: IpAddr,
    dst: IpAddr,
    bytes: &'a [u8],
) -> Result<(TcpIn<'a>, u32), PacketError> {
    let p = TcpPacket::new_checked(bytes).map_err(wire_error)?;
    let Some(pseudo) = pseudo_header(&src, &dst, IpProtocol::Tcp, bytes.len() as u32) else {
        return Err(PacketError::Checksum);
    };
    let h = usize::from(p.header_len());
    let (head, payload) = bytes.split_at(h.min(bytes.len()));
    // The header is a whole number of 32-bit words, so the payload's sum chains on.
    let partial = checksum::ones_complement_sum(head, pseudo);
    let r = match TcpRepr::parse(&p) {
        Ok(r) => r,
        Err(e) if payload_checksum_ok(partial, payload) => return Err(wire_error(e)),
        Err(_) => return Err(PacketError::Checksum),
    };
    Ok((
        TcpIn {
            src_port: r.src_port,
            dst_port: r.dst_port,
            seq: r.seq,
            ack: r.ack,
            flags: r.flags,
            window: r.window,
            options: r.options,
            payload: r.payload,
        },
        partial,
    ))
}

/// RFC 9293 §3.1: the payload completes a checksum whose pseudo-header and
/// header part is `partial`.
pub fn payload_checksum_ok(partial: u32, payload: &[u8]) -> bool {
    checksum::verifies(checksum::ones_complement_sum(payload, partial))
}

/// The header fields of a TCP segment to send.
#[derive(Clone, Copy, Debug)]
pub struct TcpOut {
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub options: TcpOptions,
}

/// The header fields of a segment whose only option is timestamps
/// (TSval, TSecr): what [`emit_tcp_v4_ts`] writes.
#[derive(Clone, Copy, Debug)]
pub struct TcpOutTs {
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// TSval in the high half, TSecr in the low: one value, stored and
    /// loaded whole (two 4-byte stores read back by one 8-byte load stall
    /// store forwarding).
    pub ts: u64,
}

impl TcpOutTs {
    /// `ts` from (TSval, TSecr).
    #[inline]
    pub fn pack_ts(tsval: u32, tsecr: u32) -> u64 {
        u64::from(tsval) << 32 | u64::from(tsecr)
    }
}

fn ip_header_len(v6: bool) -> usize {
    if v6 {
        ipv6::HEADER_LEN
    } else {
        ipv4::HEADER_LEN
    }
}

/// Bytes of a whole IP packet carrying a TCP segment.
pub fn tcp_packet_len(v6: bool, options: &TcpOptions, payload: usize) -> usize {
    ip_header_len(v6) + header_len_for(options) + payload
}

/// Writes the IP header for `payload_len` bytes of `proto`; returns its length.
/// IPv4 packets carry DF (RFC 1191 §3: path MTU discovery) and identification `id`.
fn emit_ip(
    buf: &mut [u8],
    src: IpAddr,
    dst: IpAddr,
    proto: IpProtocol,
    id: u16,
    payload_len: usize,
) -> usize {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let r = Ipv4Repr {
                src: s,
                dst: d,
                protocol: proto,
                ttl: HOP_LIMIT,
                payload_len,
                dont_frag: true,
                more_frags: false,
                frag_offset: 0,
                ident: id,
                dscp_ecn: 0,
            };
            match r.emit(&mut Ipv4Packet::new_unchecked(&mut *buf)) {
                Ok(()) => ipv4::HEADER_LEN,
                Err(_) => 0,
            }
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let r = Ipv6Repr {
                src: s,
                dst: d,
                next_header: proto,
                payload_len,
                hop_limit: HOP_LIMIT,
                traffic_class: 0,
                flow_label: 0,
            };
            match r.emit(&mut Ipv6Packet::new_unchecked(&mut *buf)) {
                Ok(()) => ipv6::HEADER_LEN,
                Err(_) => 0,
            }
        }
        _ => 0,
    }
}

/// Writes IP + TCP header + payload (two slices, copied with the fused
/// copy-and-checksum). The caller made sure `buf` holds
/// [`tcp_packet_len`] bytes; returns the packet length (0 if it did not).
#[inline]
pub fn emit_tcp(
    buf: &mut [u8],
    local: SocketAddr,
    remote: SocketAddr,
    id: u16,
    hdr: &TcpOut,
    payload: (&[u8], &[u8]),
) -> usize {
    if let (SocketAddr::V4(l), SocketAddr::V4(r), Some(ts)) =
        (local, remote, hdr.options.only_timestamps())
    {
        let h = TcpOutTs {
            seq: hdr.seq,
            ack: hdr.ack,
            flags: hdr.flags,
            window: hdr.window,
            ts: TcpOutTs::pack_ts(ts.0, ts.1),
        };
        if let Some(n) = emit_tcp_v4_ts(buf, l, r, id, &h, payload) {
            return n;
        }
    }
    if let (SocketAddr::V4(l), SocketAddr::V4(r), Some(syn)) = (
        local,
        remote,
        SynHeader::of(hdr.seq, hdr.ack, hdr.flags, hdr.window, &hdr.options),
    ) {
        if let Some(n) = emit_tcp_v4_syn(buf, l, r, id, &syn, payload) {
            return n;
        }
    }
    emit_tcp_general(buf, local, remote, id, hdr, payload)
}

/// The header fields of a SYN or SYN-ACK whose options offer (or accept)
/// everything: MSS, window scale and timestamps, SACK-permitted or not;
/// what [`emit_tcp_v4_syn`] writes.
#[derive(Clone, Copy, Debug)]
pub struct SynHeader {
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    window: u16,
    mss: u16,
    /// Already clamped to 14 (RFC 7323 §2.3), as `TcpOptions::emit` does.
    shift: u8,
    sack_permitted: bool,
    tsval: u32,
    tsecr: u32,
}

impl SynHeader {
    /// The header, if `o` is of the layout [`emit_tcp_v4_syn`] writes.
    #[inline]
    pub fn of(
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        window: u16,
        o: &TcpOptions,
    ) -> Option<SynHeader> {
        match *o {
            TcpOptions {
                mss: Some(mss),
                window_scale: Some(ws),
                sack_permitted,
                timestamps: Some((tsval, tsecr)),
                sack_block_count: 0,
                ..
            } => Some(SynHeader {
                seq,
                ack,
                flags,
                window,
                mss,
                shift: TcpOptions::clamp_window_scale(ws),
                sack_permitted,
                tsval,
                tsecr,
            }),
            _ => None,
        }
    }
}

/// What the fixed-layout IPv4 emitters ([`emit_tcp_v4_syn`],
/// [`emit_tcp_v4_ts`]) share: the IPv4 header and the first 12 bytes of the
/// TCP header, whose checksums they sum from these values.
struct V4Fixed {
    src: u32,
    dst: u32,
    addr_sum: u32,
    id: u16,
    total: u16,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
}

impl V4Fixed {
    #[inline(always)]
    fn new(
        local: SocketAddrV4,
        remote: SocketAddrV4,
        id: u16,
        total: u16,
        seq: u32,
        ack: u32,
    ) -> V4Fixed {
        let (src, dst) = (u32::from(*local.ip()), u32::from(*remote.ip()));
        V4Fixed {
            src,
            dst,
            addr_sum: (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff),
            id,
            total,
            sport: local.port(),
            dport: remote.port(),
            seq,
            ack,
        }
    }

    /// Copies the payload (two pieces when the send ring wrapped) after the
    /// headers, summed together with the pseudo-header (RFC 9293 §3.1).
    #[inline(always)]
    fn copy_payload_summed(
        &self,
        body: &mut [u8],
        tcp_len: usize,
        payload: (&[u8], &[u8]),
    ) -> Option<u32> {
        let pseudo = self.addr_sum + u32::from(PROTO_TCP) + tcp_len as u32;
        let (b0, b1) = body.split_at_mut_checked(payload.0.len())?;
        let mut sum =
            checksum::copy_with_checksum(b0, payload.0, u32::from(checksum::fold(pseudo)));
        if !payload.1.is_empty() {
            sum = checksum::add_at_offset(
                sum,
                checksum::copy_with_checksum(b1, payload.1, 0),
                payload.0.len() % 2 == 1,
            );
        }
        Some(sum)
    }

    /// The TCP checksum's share of ports, sequence and acknowledgment numbers.
    #[inline(always)]
    fn tcp_fixed_sum(&self) -> u32 {
        u32::from(self.sport)
            + u32::from(self.dport)
            + (self.seq >> 16)
            + (self.seq & 0xffff)
            + (self.ack >> 16)
            + (self.ack & 0xffff)
    }

    /// Writes the IPv4 header (RFC 791 §3.1: version 4, IHL 5, TOS 0, DF,
    /// TTL, protocol, checksum) and the TCP ports, sequence and acknowledgment
    /// numbers: bytes 0..32 of the image.
    #[inline(always)]
    fn put_prefix<const N: usize>(&self, h: &mut [u8; N]) {
        let ip_sum = checksum::finish(
            0x4500
                + u32::from(self.total)
                + u32::from(self.id)
                + 0x4000
                + (u32::from(HOP_LIMIT) << 8 | u32::from(PROTO_TCP))
                + self.addr_sum,
        );
        put_be(h, 0, &[0x45, 0]);
        put_be(h, 2, &self.total.to_be_bytes());
        put_be(h, 4, &self.id.to_be_bytes());
        put_be(h, 6, &[0x40, 0, HOP_LIMIT, PROTO_TCP]);
        put_be(h, 10, &ip_sum.to_be_bytes());
        put_be(h, 12, &self.src.to_be_bytes());
        put_be(h, 16, &self.dst.to_be_bytes());
        put_be(h, 20, &self.sport.to_be_bytes());
        put_be(h, 22, &self.dport.to_be_bytes());
        put_be(h, 24, &self.seq.to_be_bytes());
        put_be(h, 28, &self.ack.to_be_bytes());
    }
}

/// Bytes of an IPv4 header plus a TCP header with the SYN option block.
const V4_SYN_HEADERS: usize = ipv4::HEADER_LEN + 40;

/// `emit_tcp` for an IPv4 SYN or SYN-ACK of [`SynHeader`]'s layout, in the
/// layout `TcpOptions::emit` writes (Linux's tcp_options_write): MSS;
/// SACK-permitted (or NOP NOP), timestamps; NOP, window scale. Like
/// [`emit_tcp_v4_ts`], the 60 header bytes are built in registers and both
/// checksums summed from the field values (RFC 791 §3.1, RFC 9293 §3.1).
/// The same bytes as [`emit_tcp_general`]; `None` (nothing written) when
/// `buf` is short or the length does not fit the header.
#[inline(never)]
pub fn emit_tcp_v4_syn(
    buf: &mut [u8],
    local: SocketAddrV4,
    remote: SocketAddrV4,
    id: u16,
    o: &SynHeader,
    payload: (&[u8], &[u8]),
) -> Option<usize> {
    let tcp_len = 40 + payload.0.len() + payload.1.len();
    let total = u16::try_from(ipv4::HEADER_LEN + tcp_len).ok()?;
    let out = buf.get_mut(..usize::from(total))?;
    let (head, body) = out.split_at_mut_checked(V4_SYN_HEADERS)?;
    let f = V4Fixed::new(local, remote, id, total, o.seq, o.ack);
    let mut sum = f.copy_payload_summed(body, tcp_len, payload)?;
    let (tsval, tsecr) = (o.tsval, o.tsecr);
    // SACK-permitted (kind 4, length 2) rides in the timestamps' NOP slots.
    let sack_or_nops: [u8; 2] = if o.sack_permitted { [4, 2] } else { [1, 1] };
    // Data offset 10 words (0xa0), flags; kind 2 length 4 (0x0204);
    // kind 8 length 10 (0x080a); NOP, kind 3 (0x0103), length 3, shift.
    sum += f.tcp_fixed_sum()
        + (0xa000 | u32::from(o.flags.0))
        + u32::from(o.window)
        + 0x0204
        + u32::from(o.mss)
        + u32::from(u16::from_be_bytes(sack_or_nops))
        + 0x080a
        + (tsval >> 16)
        + (tsval & 0xffff)
        + (tsecr >> 16)
        + (tsecr & 0xffff)
        + 0x0103
        + (0x0300 | u32::from(o.shift));
    let tcp_sum = checksum::finish(sum);
    let mut h = [0u8; V4_SYN_HEADERS];
    f.put_prefix(&mut h);
    put_be(&mut h, 32, &[0xa0, o.flags.0]);
    put_be(&mut h, 34, &o.window.to_be_bytes());
    put_be(&mut h, 36, &tcp_sum.to_be_bytes());
    put_be(&mut h, 40, &[2, 4]);
    put_be(&mut h, 42, &o.mss.to_be_bytes());
    put_be(&mut h, 44, &sack_or_nops);
    put_be(&mut h, 46, &[8, 10]);
    put_be(&mut h, 48, &tsval.to_be_bytes());
    put_be(&mut h, 52, &tsecr.to_be_bytes());
    put_be(&mut h, 56, &[1, 3, 3, o.shift]);
    head.copy_from_slice(&h);
    Some(usize::from(total))
}

/// Bytes of an IPv4 header plus a TCP header with the NOP NOP TS option block.
const V4_TS_HEADERS: usize = ipv4::HEADER_LEN + 32;

/// `emit_tcp` for IPv4 with timestamps as the only option (every segment of
/// an established connection without SACK blocks): the 52 header bytes are
/// built in registers and stored once, and both checksums are summed from
/// the field values (RFC 791 §3.1, RFC 9293 §3.1) instead of read back from
/// fresh stores. The same bytes as [`emit_tcp_general`]; `None` (nothing
/// written) when `buf` is short or the length does not fit the header.
#[inline(never)]
pub fn emit_tcp_v4_ts(
    buf: &mut [u8],
    local: SocketAddrV4,
    remote: SocketAddrV4,
    id: u16,
    hdr: &TcpOutTs,
    payload: (&[u8], &[u8]),
) -> Option<usize> {
    let (tsval, tsecr) = ((hdr.ts >> 32) as u32, hdr.ts as u32);
    let tcp_len = 32 + payload.0.len() + payload.1.len();
    let total = u16::try_from(ipv4::HEADER_LEN + tcp_len).ok()?;
    let out = buf.get_mut(..usize::from(total))?;
    let (head, body) = out.split_at_mut_checked(V4_TS_HEADERS)?;
    let f = V4Fixed::new(local, remote, id, total, hdr.seq, hdr.ack);
    let mut sum = f.copy_payload_summed(body, tcp_len, payload)?;
    // Data offset 8 words (0x80), flags; NOP NOP (0x0101); kind 8, length 10 (0x080a).
    let offset_flags = 0x8000 | u32::from(hdr.flags.0);
    sum += f.tcp_fixed_sum()
        + offset_flags
        + u32::from(hdr.window)
        + 0x0101
        + 0x080a
        + (tsval >> 16)
        + (tsval & 0xffff)
        + (tsecr >> 16)
        + (tsecr & 0xffff);
    let tcp_sum = checksum::finish(sum);
    let mut h = [0u8; V4_TS_HEADERS];
    f.put_prefix(&mut h);
    put_be(&mut h, 32, &[0x80, hdr.flags.0]);
    put_be(&mut h, 34, &hdr.window.to_be_bytes());
    put_be(&mut h, 36, &tcp_sum.to_be_bytes());
    put_be(&mut h, 38, &[0, 0, 1, 1, 8, 10]);
    put_be(&mut h, 44, &tsval.to_be_bytes());
    put_be(&mut h, 48, &tsecr.to_be_bytes());
    head.copy_from_slice(&h);
    Some(usize::from(total))
}

/// Copies `bytes` into the header image at the constant offset `at`.
#[inline(always)]
fn put_be<const N: usize>(h: &mut [u8; N], at: usize, bytes: &[u8]) {
    if let Some(d) = h.get_mut(at..at + bytes.len()) {
        d.copy_from_slice(bytes);
    }
}

/// `emit_tcp` for any family and options.
fn emit_tcp_general(
    buf: &mut [u8],
    local: SocketAddr,
    remote: SocketAddr,
    id: u16,
    hdr: &TcpOut,
    payload: (&[u8], &[u8]),
) -> usize {
    let v6 = local.is_ipv6();
    let plen = payload.0.len() + payload.1.len();
    let total = tcp_packet_len(v6, &hdr.options, plen);
    let Some(out) = buf.get_mut(..total) else {
        return 0;
    };
    let tcp_len = total - ip_header_len(v6);
    let ih = emit_ip(out, local.ip(), remote.ip(), IpProtocol::Tcp, id, tcp_len);
    let Some(pseudo) = pseudo_header(&local.ip(), &remote.ip(), IpProtocol::Tcp, tcp_len as u32)
    else {
        return 0;
    };
    let repr = TcpRepr {
        src_port: local.port(),
        dst_port: remote.port(),
        seq: hdr.seq,
        ack: hdr.ack,
        flags: hdr.flags,
        window: hdr.window,
        urgent: 0,
        options: hdr.options,
        payload: &[],
    };
    let Some(seg) = out.get_mut(ih..) else {
        return 0;
    };
    let th = repr.emit_header(seg);
    let (head, body) = seg.split_at_mut(th.min(seg.len()));
    let (b0, b1) = body.split_at_mut(payload.0.len().min(body.len()));
    let mut sum = checksum::copy_with_checksum(b0, payload.0, pseudo);
    if !payload.1.is_empty() {
        // The send ring wrapped inside this segment.
        sum = checksum::add_at_offset(
            sum,
            checksum::copy_with_checksum(b1, payload.1, 0),
            payload.0.len() % 2 == 1,
        );
    }
    // The header is summed after the payload copy, by when its just-written
    // bytes have left the store buffer (wide loads of fresh narrow stores
    // stall); it is a whole number of 32-bit words, so the order is free.
    sum = checksum::ones_complement_sum(head, sum);
    let c = checksum::finish(sum);
    if let Some(f) = head.get_mut(16..18) {
        f.copy_from_slice(&c.to_be_bytes());
    }
    total
}

/// RFC 768: source port, destination port and payload of a checksum-verified datagram.
pub fn parse_udp(src: IpAddr, dst: IpAddr, bytes: &[u8]) -> Result<(u16, u16, &[u8]), PacketError> {
    let p = UdpPacket::new_checked(bytes).map_err(wire_error)?;
    let r = UdpRepr::parse(&p, &src, &dst).map_err(wire_error)?;
    Ok((r.src_port, r.dst_port, r.payload))
}

pub fn udp_packet_len(v6: bool, len: usize) -> usize {
    ip_header_len(v6) + udp::HEADER_LEN + len
}

/// Writes IP + UDP + data; `buf` holds [`udp_packet_len`] bytes.
pub fn emit_udp(buf: &mut [u8], src: SocketAddr, dst: SocketAddr, id: u16, data: &[u8]) -> usize {
    let ulen = udp::HEADER_LEN + data.len();
    let ih = emit_ip(buf, src.ip(), dst.ip(), IpProtocol::Udp, id, ulen);
    let r = UdpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        payload: data,
    };
    match buf.get_mut(ih..).map(|b| r.emit(b, &src.ip(), &dst.ip())) {
        Some(Ok(n)) => ih + n,
        _ => 0,
    }
}

/// An incoming ICMP or ICMPv6 message (checksum verified).
#[derive(Debug)]
pub struct IcmpIn<'a> {
    pub ty: u8,
    pub code: u8,
    /// The four "rest of header" bytes (echo identifier and sequence, MTU, ...).
    pub rest: [u8; 4],
    pub body: &'a [u8],
}

/// RFC 792 / RFC 4443 §2.1: type, code, rest of header and body, checksum verified.
pub fn parse_icmp(src: IpAddr, dst: IpAddr, bytes: &[u8]) -> Result<IcmpIn<'_>, PacketError> {
    let rest = |b: &[u8]| -> [u8; 4] {
        let mut r = [0u8; 4];
        if let Some(s) = b.get(4..8) {
            r.copy_from_slice(s);
        }
        r
    };
    match (src, dst) {
        (IpAddr::V4(_), IpAddr::V4(_)) => {
            let p = Icmpv4Packet::new_checked(bytes).map_err(wire_error)?;
            if !p.verify_checksum() {
                return Err(PacketError::Checksum);
            }
            Ok(IcmpIn {
                ty: p.msg_type().into(),
                code: p.msg_code(),
                rest: rest(bytes),
                body: bytes.get(icmpv4::HEADER_LEN..).unwrap_or(&[]),
            })
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let p = Icmpv6Packet::new_checked(bytes).map_err(wire_error)?;
            if !p.verify_checksum(&s, &d) {
                return Err(PacketError::Checksum);
            }
            Ok(IcmpIn {
                ty: p.msg_type().into(),
                code: p.msg_code(),
                rest: rest(bytes),
                body: bytes.get(icmpv6::HEADER_LEN..).unwrap_or(&[]),
            })
        }
        _ => Err(PacketError::Malformed),
    }
}

pub fn icmp_packet_len(v6: bool, body: usize) -> usize {
    ip_header_len(v6) + 8 + body
}

/// Writes IP + ICMP(v6) header + body with its checksum (ICMPv6 over the pseudo-header, RFC 4443 §2.3).
#[allow(clippy::too_many_arguments)]
pub fn emit_icmp(
    buf: &mut [u8],
    src: IpAddr,
    dst: IpAddr,
    id: u16,
    ty: u8,
    code: u8,
    rest: [u8; 4],
    body: &[u8],
) -> usize {
    let v6 = src.is_ipv6();
    let mlen = 8 + body.len();
    let proto = if v6 {
        IpProtocol::Icmpv6
    } else {
        IpProtocol::Icmp
    };
    let ih = emit_ip(buf, src, dst, proto, id, mlen);
    let Some(m) = buf.get_mut(ih..ih + mlen) else {
        return 0;
    };
    let (head, tail) = m.split_at_mut(8);
    head[0] = ty;
    head[1] = code;
    head[2] = 0;
    head[3] = 0;
    head[4..8].copy_from_slice(&rest);
    let initial = if v6 {
        pseudo_header(&src, &dst, IpProtocol::Icmpv6, mlen as u32).unwrap_or(0)
    } else {
        0
    };
    let sum = checksum::ones_complement_sum(head, initial);
    let sum = checksum::copy_with_checksum(tail, body, sum);
    let c = checksum::finish(sum);
    head[2..4].copy_from_slice(&c.to_be_bytes());
    ih + mlen
}

/// The TCP 4-tuple and sequence number quoted in an ICMP error (RFC 792:
/// IP header + at least 8 bytes; RFC 4443 §3.1).
#[derive(Debug)]
pub struct QuotedTcp {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
}

pub fn parse_quoted_tcp(v6: bool, body: &[u8]) -> Option<QuotedTcp> {
    let (src, dst, transport) = if v6 {
        let p = Ipv6Packet::new_unchecked(body);
        if body.len() < ipv6::HEADER_LEN || p.version() != 6 {
            return None;
        }
        // Extension headers in the quote are rare; only a direct TCP header is used.
        if p.next_header() != IpProtocol::Tcp {
            return None;
        }
        (
            IpAddr::V6(p.src_addr()),
            IpAddr::V6(p.dst_addr()),
            body.get(ipv6::HEADER_LEN..)?,
        )
    } else {
        let q = icmpv4::parse_quoted(body).ok()?;
        if q.protocol != IpProtocol::Tcp {
            return None;
        }
        (IpAddr::V4(q.src), IpAddr::V4(q.dst), q.transport)
    };
    let b = transport.get(..8)?;
    Some(QuotedTcp {
        src,
        dst,
        src_port: u16::from_be_bytes([b[0], b[1]]),
        dst_port: u16::from_be_bytes([b[2], b[3]]),
        seq: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// xorshift64: reproducible inputs without a dependency.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// The IPv4 + timestamps-only fast emitter writes exactly the bytes of
    /// the general one, for random fields, payload lengths (odd ones too)
    /// and ring splits, and both packets parse back with valid checksums.
    #[test]
    fn v4_timestamps_fast_emit_matches_the_general_emit() {
        let mut st = 0x9e37_79b9_7f4a_7c15u64;
        let data: alloc::vec::Vec<u8> = (0..3000).map(|i| (i * 7 + 3) as u8).collect();
        for case in 0..3000 {
            let r = next(&mut st);
            let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(r as u32)), (r >> 32) as u16 | 1);
            let r2 = next(&mut st);
            let remote =
                SocketAddr::new(IpAddr::V4(Ipv4Addr::from(r2 as u32)), (r2 >> 32) as u16 | 1);
            let r3 = next(&mut st);
            let options = TcpOptions {
                timestamps: Some((r3 as u32, (r3 >> 32) as u32)),
                ..TcpOptions::default()
            };
            let r4 = next(&mut st);
            let hdr = TcpOut {
                seq: r4 as u32,
                ack: (r4 >> 32) as u32,
                flags: TcpFlags((r3 >> 8) as u8),
                window: (r2 >> 48) as u16,
                options,
            };
            let r5 = next(&mut st);
            let len = if case % 4 == 0 {
                0
            } else {
                (r5 % 1500) as usize
            };
            let cut = if len == 0 {
                0
            } else {
                (r5 >> 32) as usize % (len + 1)
            };
            let payload = (&data[..cut], &data[cut + 7..len + 7]);
            let id = (r5 >> 16) as u16;
            let needed = tcp_packet_len(false, &hdr.options, len);
            let mut fast = vec![0u8; needed + 8];
            let mut general = vec![0u8; needed + 8];
            let n = emit_tcp(&mut fast, local, remote, id, &hdr, payload);
            let m = emit_tcp_general(&mut general, local, remote, id, &hdr, payload);
            assert_eq!((n, m), (needed, needed), "case {case}");
            assert_eq!(fast, general, "case {case}");
            let ip = parse_ip(&fast[..n]).expect("parses");
            let seg = parse_tcp(ip.src, ip.dst, ip.payload).expect("checksum verifies");
            assert_eq!(seg.options.timestamps, options.timestamps);
            assert_eq!(seg.payload.len(), len);
        }
    }

    /// A buffer too short for the packet gets nothing, as from the general path.
    #[test]
    fn v4_timestamps_fast_emit_refuses_a_short_buffer() {
        let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 1000);
        let remote = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 80);
        let hdr = TcpOut {
            seq: 1,
            ack: 2,
            flags: TcpFlags::ACK,
            window: 100,
            options: TcpOptions {
                timestamps: Some((5, 6)),
                ..TcpOptions::default()
            },
        };
        let payload = [7u8; 100];
        let mut buf = vec![0u8; 151];
        assert_eq!(
            emit_tcp(&mut buf, local, remote, 9, &hdr, (&payload, &[])),
            0
        );
        assert!(buf.iter().all(|&b| b == 0));
        let mut buf = vec![0u8; 152];
        assert_eq!(
            emit_tcp(&mut buf, local, remote, 9, &hdr, (&payload, &[])),
            152
        );
    }

    /// The fixed-offset IPv4 and TCP parsers give exactly the general
    /// parsers' results: for intact packets (all fields random) and for
    /// packets with bytes of their headers changed or the buffer cut or
    /// padded, whichever path ends up answering.
    #[test]
    fn fast_parse_matches_the_general_parse() {
        let mut st = 0x2545_f491_4f6c_dd1du64;
        let data: alloc::vec::Vec<u8> = (0..2000).map(|i| (i * 13 + 1) as u8).collect();
        let (mut fast_ip, mut fast_tcp) = (0, 0);
        for case in 0..6000 {
            let r = next(&mut st);
            let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(r as u32)), (r >> 32) as u16);
            let r2 = next(&mut st);
            let remote = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(r2 as u32)), (r2 >> 32) as u16);
            let r3 = next(&mut st);
            let hdr = TcpOut {
                seq: r3 as u32,
                ack: (r3 >> 32) as u32,
                flags: TcpFlags((r2 >> 48) as u8),
                window: (r >> 48) as u16,
                options: TcpOptions {
                    timestamps: Some(((r3 >> 16) as u32, (r ^ r2) as u32)),
                    ..TcpOptions::default()
                },
            };
            let len = (next(&mut st) % 1500) as usize;
            let mut p = vec![0u8; tcp_packet_len(false, &hdr.options, len) + 4];
            let n = emit_tcp(
                &mut p,
                local,
                remote,
                (r3 >> 48) as u16,
                &hdr,
                (&data[..len], &[]),
            );
            p.truncate(n);
            let r4 = next(&mut st);
            match case % 6 {
                0 | 1 => {}
                2 => p.push(r4 as u8), // link padding
                3 => p.truncate((r4 % (n as u64 + 1)) as usize),
                _ => {
                    // One or two header bytes changed (IP or TCP, options included).
                    for k in 0..=(r4 & 1) {
                        let at = ((r4 >> (8 + 16 * k)) % 56) as usize;
                        if let Some(b) = p.get_mut(at) {
                            *b ^= 1 << ((r4 >> (4 + k)) % 8);
                        }
                    }
                }
            }
            let general = parse_ip_general(&p);
            assert_eq!(parse_ip(&p), general, "case {case}");
            fast_ip += usize::from(parse_ipv4_plain(&p).is_some());
            let Ok(ip) = general else { continue };
            let (src, dst) = (ip.src, ip.dst);
            let general = parse_tcp_deferred_general(src, dst, ip.payload);
            assert_eq!(
                parse_tcp_deferred(src, dst, ip.payload),
                general,
                "case {case}"
            );
            fast_tcp += usize::from(takes_timestamps_fast_path(src, dst, ip.payload));
        }
        // Both fast paths were taken for most cases, and not for all.
        assert!(fast_ip > 3000 && fast_ip < 6000, "{fast_ip}");
        assert!(fast_tcp > 3000 && fast_tcp < 6000, "{fast_tcp}");
    }

    /// Random SYN option blocks of the layout [`SynOptions`] covers: MSS,
    /// any shift (clamped on emit), SACK-permitted or not, timestamps.
    fn random_syn_out(st: &mut u64) -> TcpOut {
        let r = next(st);
        let r2 = next(st);
        TcpOut {
            seq: r as u32,
            ack: (r >> 32) as u32,
            flags: TcpFlags((r2 >> 40) as u8),
            window: (r2 >> 48) as u16,
            options: TcpOptions {
                mss: Some(r2 as u16),
                window_scale: Some((r2 >> 16) as u8 % 20),
                sack_permitted: r2 & (1 << 24) != 0,
                timestamps: Some(((next(st)) as u32, (r2 >> 25) as u32)),
                ..TcpOptions::default()
            },
        }
    }

    /// The IPv4 SYN fast emitter writes exactly the bytes of the general
    /// one (shifts above 14 clamped the same way, SACK-permitted or NOP
    /// NOP), with and without payload (odd lengths, ring splits), and the
    /// packets parse back with valid checksums and the options emitted.
    #[test]
    fn v4_syn_fast_emit_matches_the_general_emit() {
        let mut st = 0x51f1_5eed_0bad_cafeu64;
        let data: alloc::vec::Vec<u8> = (0..3000).map(|i| (i * 5 + 1) as u8).collect();
        let mut sack = 0;
        for case in 0..3000 {
            let r = next(&mut st);
            let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(r as u32)), (r >> 32) as u16 | 1);
            let r2 = next(&mut st);
            let remote =
                SocketAddr::new(IpAddr::V4(Ipv4Addr::from(r2 as u32)), (r2 >> 32) as u16 | 1);
            let hdr = random_syn_out(&mut st);
            let r5 = next(&mut st);
            let len = if case % 3 == 0 {
                (r5 % 1400) as usize
            } else {
                0
            };
            let cut = (r5 >> 32) as usize % (len + 1);
            let payload = (&data[..cut], &data[cut + 3..len + 3]);
            let id = (r5 >> 16) as u16;
            let needed = tcp_packet_len(false, &hdr.options, len);
            assert_eq!(needed, 60 + len);
            let mut fast = vec![0u8; needed + 8];
            let mut general = vec![0u8; needed + 8];
            let (SocketAddr::V4(l4), SocketAddr::V4(r4), Some(syn)) = (
                local,
                remote,
                SynHeader::of(hdr.seq, hdr.ack, hdr.flags, hdr.window, &hdr.options),
            ) else {
                panic!("case {case}: not the SYN layout");
            };
            let n = emit_tcp_v4_syn(&mut fast, l4, r4, id, &syn, payload);
            let m = emit_tcp_general(&mut general, local, remote, id, &hdr, payload);
            assert_eq!((n, m), (Some(needed), needed), "case {case}");
            assert_eq!(fast, general, "case {case}");
            let mut via = vec![0u8; needed + 8];
            assert_eq!(emit_tcp(&mut via, local, remote, id, &hdr, payload), needed);
            assert_eq!(via, general, "case {case}");
            let ip = parse_ip(&fast[..needed]).expect("parses");
            let seg = parse_tcp(ip.src, ip.dst, ip.payload).expect("checksum verifies");
            let mut want = hdr.options;
            want.window_scale = want.window_scale.map(TcpOptions::clamp_window_scale);
            assert_eq!(seg.options, want, "case {case}");
            assert_eq!(seg.payload.len(), len);
            sack += usize::from(want.sack_permitted);
        }
        assert!(sack > 1000 && sack < 2000, "{sack}");
    }

    /// A buffer too short for the SYN gets nothing, as from the general path.
    #[test]
    fn v4_syn_fast_emit_refuses_a_short_buffer() {
        let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 1000);
        let remote = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 80);
        let mut st = 7u64;
        let hdr = random_syn_out(&mut st);
        let mut buf = vec![0u8; 59];
        assert_eq!(emit_tcp(&mut buf, local, remote, 9, &hdr, (&[], &[])), 0);
        assert!(buf.iter().all(|&b| b == 0));
        let mut buf = vec![0u8; 60];
        assert_eq!(emit_tcp(&mut buf, local, remote, 9, &hdr, (&[], &[])), 60);
    }

    /// The fixed-offset SYN parser gives exactly the general parser's
    /// result: for intact SYNs (random fields, both SACK-permitted
    /// variants, shifts above 14) and for SYNs with header or option bytes
    /// changed, the buffer cut or padded, whichever path answers.
    #[test]
    fn syn_fast_parse_matches_the_general_parse() {
        let mut st = 0x0dd_ba11_5eed_1234u64;
        let data: alloc::vec::Vec<u8> = (0..200).map(|i| (i * 11 + 2) as u8).collect();
        let mut fast = 0;
        for case in 0..8000 {
            let r = next(&mut st);
            let v4 = |x: u64| IpAddr::V4(Ipv4Addr::from(x as u32));
            let v6 = |x: u64| IpAddr::V6(core::net::Ipv6Addr::from(u128::from(x) << 17 | 1));
            // Mostly IPv4, some IPv6, a few of mixed families (no pseudo-header).
            let (src, dst) = match case % 16 {
                0..=10 => (v4(r), v4(r >> 32)),
                11..=14 => (v6(r), v6(r.rotate_left(32))),
                _ => (v4(r), v6(r)),
            };
            let hdr = random_syn_out(&mut st);
            let r2 = next(&mut st);
            let len = if case % 5 == 0 {
                (r2 % 200) as usize
            } else {
                0
            };
            let mut p = vec![0u8; 40 + len];
            let repr = TcpRepr {
                src_port: r2 as u16,
                dst_port: (r2 >> 16) as u16,
                seq: hdr.seq,
                ack: hdr.ack,
                flags: hdr.flags,
                window: hdr.window,
                urgent: (r2 >> 32) as u16 & 0x0f,
                options: hdr.options,
                payload: &data[..len],
            };
            // Mixed families have no pseudo-header: the checksum is an IPv4 one.
            let (es, ed) = match (src, dst) {
                (IpAddr::V4(_), IpAddr::V6(_)) => (src, v4(r >> 32)),
                _ => (src, dst),
            };
            assert_eq!(repr.emit(&mut p, &es, &ed), Ok(40 + len));
            let r3 = next(&mut st);
            match case % 8 {
                0..=2 => {}
                3 => p.push(r3 as u8),
                4 => p.truncate((r3 % (p.len() as u64 + 1)) as usize),
                _ => {
                    // One or two bytes changed, mostly in the options.
                    for k in 0..=(r3 & 1) {
                        let at = if r3 & 2 != 0 {
                            20 + ((r3 >> (8 + 16 * k)) % 20) as usize
                        } else {
                            ((r3 >> (8 + 16 * k)) % 44) as usize
                        };
                        if let Some(b) = p.get_mut(at) {
                            *b ^= 1 << ((r3 >> (4 + k)) % 8);
                        }
                    }
                }
            }
            let general = parse_tcp_deferred_general(src, dst, &p);
            assert_eq!(parse_tcp_deferred(src, dst, &p), general, "case {case}");
            fast += usize::from(takes_syn_fast_path(src, dst, &p));
        }
        // The fast path was taken for most cases, and not for all.
        assert!(fast > 4000 && fast < 8000, "{fast}");
    }

    /// Edge SYNs in the fixed layout take the fixed-offset parse and read
    /// exactly as the general parser reads them: shifts above 14 clamped
    /// (RFC 7323 §2.3), MSS 0 kept as sent, SYN+FIN, URG with a pointer,
    /// data on the SYN, reserved bits set, the NOP NOP variant; and a
    /// flipped checksum bit is an error on both paths.
    #[test]
    fn edge_syns_in_the_fixed_layout_parse_as_the_general_parser() {
        let src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let dst = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        let f = |bits: u8| TcpFlags(bits);
        let cases: [(TcpFlags, u16, u8, bool, u16, usize, u8); 9] = [
            (TcpFlags::SYN, 1460, 15, true, 0, 0, 0),
            (TcpFlags::SYN, 1460, 255, false, 0, 0, 0),
            (TcpFlags::SYN, 0, 7, true, 0, 0, 0),
            (f(0x03), 536, 14, true, 0, 0, 0),
            (f(0x22), 1460, 7, true, 99, 0, 0),
            (TcpFlags::SYN, 1460, 7, true, 0, 33, 0),
            (f(0x12), 65535, 0, false, 0, 1, 0),
            (TcpFlags::SYN, 1460, 7, true, 0, 0, 0x0e),
            (f(0xff), 1, 14, true, 0xffff, 5, 0x01),
        ];
        let data: alloc::vec::Vec<u8> = (0..64).map(|i| i as u8 ^ 0x5a).collect();
        for (i, &(flags, mss, ws, sack, urgent, len, reserved)) in cases.iter().enumerate() {
            let repr = TcpRepr {
                src_port: 40_000,
                dst_port: 80,
                seq: 0x1234_5678,
                ack: if flags.contains(TcpFlags::ACK) { 77 } else { 0 },
                flags,
                window: 29_200,
                urgent,
                options: TcpOptions {
                    mss: Some(mss),
                    window_scale: Some(ws),
                    sack_permitted: sack,
                    timestamps: Some((11, 0)),
                    ..TcpOptions::default()
                },
                payload: &data[..len],
            };
            let mut p = vec![0u8; 40 + len];
            assert_eq!(repr.emit(&mut p, &src, &dst), Ok(40 + len), "case {i}");
            // A raw option byte: the emitter clamps the shift itself.
            p[39] = ws;
            p[12] |= reserved;
            let fix = |p: &mut [u8]| {
                p[16] = 0;
                p[17] = 0;
                let sum = checksum::ones_complement_sum(
                    p,
                    pseudo_header(&src, &dst, IpProtocol::Tcp, p.len() as u32).unwrap_or(0),
                );
                let c = !checksum::fold(sum);
                p[16..18].copy_from_slice(&c.to_be_bytes());
            };
            fix(&mut p);
            assert!(takes_syn_fast_path(src, dst, &p), "case {i}: fixed layout");
            let general = parse_tcp_deferred_general(src, dst, &p);
            let fast = parse_tcp_deferred(src, dst, &p);
            assert_eq!(fast, general, "case {i}");
            let Ok((seg, _)) = fast else {
                panic!("case {i}: {fast:?}");
            };
            assert_eq!(seg.options.window_scale, Some(ws.min(14)), "case {i}");
            assert_eq!(seg.options.mss, Some(mss), "case {i}");
            assert_eq!(seg.flags.bits(), flags.bits(), "case {i}");
            assert_eq!(seg.payload, &data[..len], "case {i}");
            let mut bad = p.clone();
            bad[30] ^= 0x10;
            let verdict = |r: Result<(TcpIn<'_>, u32), PacketError>| {
                r.map(|(_, sum)| checksum::verifies(checksum::ones_complement_sum(&bad[40..], sum)))
            };
            assert_eq!(
                verdict(parse_tcp_deferred(src, dst, &bad)),
                Ok(false),
                "case {i}"
            );
            assert_eq!(
                parse_tcp_deferred(src, dst, &bad).map(|(_, sum)| checksum::verifies(
                    checksum::ones_complement_sum(&bad[40..], sum)
                )),
                parse_tcp_deferred_general(src, dst, &bad).map(|(_, sum)| checksum::verifies(
                    checksum::ones_complement_sum(&bad[40..], sum)
                )),
                "case {i}: corrupted"
            );
        }
    }
}
