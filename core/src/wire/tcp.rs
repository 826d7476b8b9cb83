//! TCP header and options (RFC 9293 §3.1, RFC 7323, RFC 2018).

/// The TCP control bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);
    pub const NONE: TcpFlags = TcpFlags(0);

    pub const fn bits(self) -> u8 {
        self.0
    }
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn fin(self) -> bool {
        self.0 & 0x01 != 0
    }
    pub const fn syn(self) -> bool {
        self.0 & 0x02 != 0
    }
    pub const fn rst(self) -> bool {
        self.0 & 0x04 != 0
    }
    pub const fn psh(self) -> bool {
        self.0 & 0x08 != 0
    }
    pub const fn ack(self) -> bool {
        self.0 & 0x10 != 0
    }
}

impl core::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

/// The TCP options tcpkit understands; others are skipped by their length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    /// Maximum segment size (kind 2), SYN only.
    pub mss: Option<u16>,
    /// Window scale shift (kind 3), SYN only; RFC 7323 caps it at 14.
    pub window_scale: Option<u8>,
    /// SACK permitted (kind 4), SYN only.
    pub sack_permitted: bool,
    /// Timestamps (kind 8): (TSval, TSecr).
    pub timestamps: Option<(u32, u32)>,
    /// SACK blocks (kind 5): (left edge, right edge), raw sequence numbers.
    pub sack_blocks: [(u32, u32); 4],
    /// How many entries of `sack_blocks` are valid.
    pub sack_block_count: u8,
}

impl TcpOptions {
    /// (TSval, TSecr) when timestamps are the only option (every segment
    /// after the handshake that carries no SACK blocks): the fixed 12-byte
    /// NOP NOP TS layout (RFC 7323 Appendix A).
    #[inline]
    pub fn only_timestamps(&self) -> Option<(u32, u32)> {
        match self {
            TcpOptions {
                mss: None,
                window_scale: None,
                sack_permitted: false,
                timestamps: Some(ts),
                sack_block_count: 0,
                ..
            } => Some(*ts),
            _ => None,
        }
    }

    /// The valid SACK blocks.
    pub fn sack_blocks(&self) -> &[(u32, u32)] {
        let n = usize::from(self.sack_block_count).min(self.sack_blocks.len());
        &self.sack_blocks[..n]
    }
}

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ip::IpProtocol;
use super::{byte, checksum, read_u16, read_u32, set_byte, write_u16, write_u32, WireError};

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;
/// Longest header (data offset 15).
pub const MAX_HEADER_LEN: usize = 60;
/// Most option bytes in a header.
pub const MAX_OPTIONS_LEN: usize = MAX_HEADER_LEN - HEADER_LEN;
/// RFC 7323 §2.3: the largest window-scale shift.
pub const MAX_WINDOW_SCALE: u8 = 14;

/// Option kinds (IANA "TCP Option Kind Numbers").
pub mod kind {
    pub const EOL: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMPS: u8 = 8;
}

impl TcpFlags {
    pub const fn urg(self) -> bool {
        self.0 & 0x20 != 0
    }
    pub const fn ece(self) -> bool {
        self.0 & 0x40 != 0
    }
    pub const fn cwr(self) -> bool {
        self.0 & 0x80 != 0
    }
}

impl TcpOptions {
    /// RFC 7323 §2.3: a shift above 14 is treated as 14.
    pub fn clamp_window_scale(shift: u8) -> u8 {
        shift.min(MAX_WINDOW_SCALE)
    }

    /// Appends a SACK block; returns false when four are already held.
    pub fn push_sack_block(&mut self, left: u32, right: u32) -> bool {
        match self.sack_blocks.get_mut(usize::from(self.sack_block_count)) {
            Some(slot) => {
                *slot = (left, right);
                self.sack_block_count += 1;
                true
            }
            None => false,
        }
    }

    /// RFC 9293 §3.1: parses an option list (the bytes after the fixed
    /// header); unknown kinds are skipped by their length, malformed lists
    /// (length 0/1, past the end, wrong length for a known kind) are errors.
    pub fn parse(mut opts: &[u8]) -> Result<TcpOptions, WireError> {
        let mut out = TcpOptions::default();
        if let Some(ts) = Self::timestamps_only(opts) {
            out.timestamps = Some(ts);
            return Ok(out);
        }
        while let Some((&k, rest)) = opts.split_first() {
            match k {
                kind::EOL => break,
                kind::NOP => {
                    opts = rest;
                    continue;
                }
                _ => {}
            }
            let len = usize::from(*rest.first().ok_or(WireError::BadOption)?);
            if len < 2 || len > opts.len() {
                return Err(WireError::BadOption);
            }
            let (opt, tail) = opts.split_at(len);
            out.apply_option(k, opt.get(2..).unwrap_or(&[]))?;
            opts = tail;
        }
        Ok(out)
    }

    /// The layout of nearly every segment on a connection with timestamps:
    /// NOP, NOP, TS (kind 8, length 10), TSval, TSecr (RFC 7323 Appendix A);
    /// read at once, the same result as the general walk.
    fn timestamps_only(opts: &[u8]) -> Option<(u32, u32)> {
        let b: &[u8; 12] = opts.try_into().ok()?;
        if b[..4] != [kind::NOP, kind::NOP, kind::TIMESTAMPS, 10] {
            return None;
        }
        let val = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
        let ecr = u32::from_be_bytes([b[8], b[9], b[10], b[11]]);
        Some((val, ecr))
    }

    /// Stores one option's value (`data` = bytes after kind and length);
    /// RFC 9293 §3.1, RFC 7323 §2.2/§3.2, RFC 2018 §2/§3 fixed lengths.
    fn apply_option(&mut self, k: u8, data: &[u8]) -> Result<(), WireError> {
        match (k, data.len()) {
            (kind::MSS, 2) => self.mss = read_u16(data, 0),
            (kind::WINDOW_SCALE, 1) => {
                self.window_scale = Some(Self::clamp_window_scale(byte(data, 0)))
            }
            (kind::SACK_PERMITTED, 0) => self.sack_permitted = true,
            (kind::TIMESTAMPS, 8) => {
                let v = read_u32(data, 0).zip(read_u32(data, 4));
                self.timestamps = v;
            }
            (kind::SACK, n) if n >= 8 && n % 8 == 0 => {
                self.sack_block_count = 0;
                for b in data.chunks_exact(8) {
                    if let Some((l, r)) = read_u32(b, 0).zip(read_u32(b, 4)) {
                        self.push_sack_block(l, r);
                    }
                }
            }
            (kind::MSS | kind::WINDOW_SCALE | kind::SACK_PERMITTED | kind::TIMESTAMPS, _)
            | (kind::SACK, _) => return Err(WireError::BadOption),
            _ => {} // unknown kind: skipped by length
        }
        Ok(())
    }

    /// How many SACK blocks fit after the other options (RFC 2018 §3: the
    /// 40-byte option space; 3 blocks with timestamps).
    fn sack_blocks_emitted(&self) -> usize {
        if self.sack_block_count == 0 {
            return 0;
        }
        let room = MAX_OPTIONS_LEN.saturating_sub(self.fixed_options_len() + 4);
        self.sack_blocks().len().min(room / 8)
    }

    /// Bytes of the non-SACK options in the Linux layout (all 4-aligned).
    fn fixed_options_len(&self) -> usize {
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        if self.timestamps.is_some() {
            n += 12; // SACK-permitted rides in the timestamp's NOP slots
        } else if self.sack_permitted {
            n += 4;
        }
        if self.window_scale.is_some() {
            n += 4;
        }
        n
    }

    /// Option bytes emitted (a multiple of 4, at most 40).
    pub fn encoded_len(&self) -> usize {
        let s = self.sack_blocks_emitted();
        let sack = if s > 0 { 4 + 8 * s } else { 0 };
        self.fixed_options_len() + sack
    }

    /// Writes the options in the Linux kernel's layout (tcp_options_write):
    /// MSS; SACK-permitted + timestamps as `4 2 8 10` (or `1 1 8 10`, or
    /// `1 1 4 2` alone); NOP + window scale; NOP NOP + SACK blocks. Returns
    /// bytes written, 0 (nothing written) if `buf` is too short.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        if let (Some((val, ecr)), None, None, false, 0) = (
            self.timestamps,
            self.mss,
            self.window_scale,
            self.sack_permitted,
            self.sack_block_count,
        ) {
            // Timestamps only (every segment after the SYN without SACK
            // blocks): the same 12 bytes as below, written in one step.
            let Some(d) = buf.get_mut(..ALIGNED_TS_LEN) else {
                return 0;
            };
            let [v0, v1, v2, v3] = val.to_be_bytes();
            let [e0, e1, e2, e3] = ecr.to_be_bytes();
            let [k0, k1, k2, k3] = ALIGNED_TS_PREFIX;
            d.copy_from_slice(&[k0, k1, k2, k3, v0, v1, v2, v3, e0, e1, e2, e3]);
            return ALIGNED_TS_LEN;
        }
        let total = self.encoded_len();
        let Some(buf) = buf.get_mut(..total) else {
            return 0;
        };
        let mut at = 0;
        if let Some(mss) = self.mss {
            put(buf, &mut at, &[kind::MSS, 4]);
            put(buf, &mut at, &mss.to_be_bytes());
        }
        if let Some((val, ecr)) = self.timestamps {
            if self.sack_permitted {
                put(buf, &mut at, &[kind::SACK_PERMITTED, 2]);
            } else {
                put(buf, &mut at, &[kind::NOP, kind::NOP]);
            }
            put(buf, &mut at, &[kind::TIMESTAMPS, 10]);
            put(buf, &mut at, &val.to_be_bytes());
            put(buf, &mut at, &ecr.to_be_bytes());
        } else if self.sack_permitted {
            put(
                buf,
                &mut at,
                &[kind::NOP, kind::NOP, kind::SACK_PERMITTED, 2],
            );
        }
        if let Some(ws) = self.window_scale {
            let ws = Self::clamp_window_scale(ws);
            put(buf, &mut at, &[kind::NOP, kind::WINDOW_SCALE, 3, ws]);
        }
        let s = self.sack_blocks_emitted();
        if s > 0 {
            put(
                buf,
                &mut at,
                &[kind::NOP, kind::NOP, kind::SACK, (2 + 8 * s) as u8],
            );
            for &(l, r) in self.sack_blocks().iter().take(s) {
                put(buf, &mut at, &l.to_be_bytes());
                put(buf, &mut at, &r.to_be_bytes());
            }
        }
        at
    }
}

/// NOP, NOP, kind 8, length 10: the RFC 7323 Appendix A timestamps layout.
const ALIGNED_TS_PREFIX: [u8; 4] = [kind::NOP, kind::NOP, kind::TIMESTAMPS, 10];
const ALIGNED_TS_LEN: usize = 12;

/// Copies `src` at `*at` and advances; silently stops at the end of `buf`.
fn put(buf: &mut [u8], at: &mut usize, src: &[u8]) {
    if let Some(d) = buf.get_mut(*at..*at + src.len()) {
        d.copy_from_slice(src);
    }
    *at += src.len();
}

/// Header length (20 + padded options, at most 60) for these options.
pub fn header_len_for(options: &TcpOptions) -> usize {
    HEADER_LEN + options.encoded_len()
}

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
}

/// A read/write view of a TCP segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps a buffer without checking it.
    pub fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wraps a buffer after [`Self::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// RFC 9293 §3.1: data offset >= 5 and the header within the buffer.
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.b().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let h = usize::from(self.header_len());
        if h < HEADER_LEN {
            return Err(WireError::BadHeaderLength);
        }
        if h > len {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn src_port(&self) -> u16 {
        read_u16(self.b(), field::SRC_PORT).unwrap_or(0)
    }
    pub fn dst_port(&self) -> u16 {
        read_u16(self.b(), field::DST_PORT).unwrap_or(0)
    }
    pub fn seq_number(&self) -> u32 {
        read_u32(self.b(), field::SEQ).unwrap_or(0)
    }
    pub fn ack_number(&self) -> u32 {
        read_u32(self.b(), field::ACK).unwrap_or(0)
    }
    /// Header length in bytes (data offset * 4).
    pub fn header_len(&self) -> u8 {
        (byte(self.b(), field::DATA_OFF) >> 4) * 4
    }
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(byte(self.b(), field::FLAGS))
    }
    pub fn window_len(&self) -> u16 {
        read_u16(self.b(), field::WINDOW).unwrap_or(0)
    }
    pub fn checksum(&self) -> u16 {
        read_u16(self.b(), field::CHECKSUM).unwrap_or(0)
    }
    pub fn urgent_at(&self) -> u16 {
        read_u16(self.b(), field::URGENT).unwrap_or(0)
    }
    /// The raw option bytes.
    pub fn options_bytes(&self) -> &[u8] {
        self.b()
            .get(HEADER_LEN..usize::from(self.header_len()))
            .unwrap_or(&[])
    }
    /// The parsed options.
    pub fn options(&self) -> Result<TcpOptions, WireError> {
        TcpOptions::parse(self.options_bytes())
    }
    /// The payload after the header.
    pub fn payload(&self) -> &[u8] {
        self.b()
            .get(usize::from(self.header_len())..)
            .unwrap_or(&[])
    }
    /// RFC 9293 §3.1: checksum over the IPv4 pseudo-header and the segment.
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let len = self.b().len() as u32;
        let p = checksum::pseudo_header_v4(src, dst, IpProtocol::Tcp.number(), len);
        checksum::fold(checksum::ones_complement_sum(self.b(), p)) == 0xffff
    }
    /// RFC 8200 §8.1: checksum over the IPv6 pseudo-header and the segment.
    pub fn verify_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let len = self.b().len() as u32;
        let p = checksum::pseudo_header_v6(src, dst, IpProtocol::Tcp.number(), len);
        checksum::fold(checksum::ones_complement_sum(self.b(), p)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    pub fn set_src_port(&mut self, v: u16) {
        write_u16(self.bm(), field::SRC_PORT, v);
    }
    pub fn set_dst_port(&mut self, v: u16) {
        write_u16(self.bm(), field::DST_PORT, v);
    }
    pub fn set_seq_number(&mut self, v: u32) {
        write_u32(self.bm(), field::SEQ, v);
    }
    pub fn set_ack_number(&mut self, v: u32) {
        write_u32(self.bm(), field::ACK, v);
    }
    /// Sets the header length in bytes (multiple of 4, 20..=60).
    pub fn set_header_len(&mut self, len: u8) {
        set_byte(self.bm(), field::DATA_OFF, (len / 4) << 4);
    }
    pub fn set_flags(&mut self, f: TcpFlags) {
        set_byte(self.bm(), field::FLAGS, f.0);
    }
    pub fn set_window_len(&mut self, v: u16) {
        write_u16(self.bm(), field::WINDOW, v);
    }
    pub fn set_checksum(&mut self, v: u16) {
        write_u16(self.bm(), field::CHECKSUM, v);
    }
    pub fn set_urgent_at(&mut self, v: u16) {
        write_u16(self.bm(), field::URGENT, v);
    }
    /// The mutable payload.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let h = usize::from(self.header_len());
        self.bm().get_mut(h..).unwrap_or(&mut [])
    }
    /// RFC 9293 §3.1: writes the checksum given the pseudo-header sum.
    pub fn fill_checksum(&mut self, pseudo: u32) {
        self.set_checksum(0);
        let c = checksum::finish(checksum::ones_complement_sum(self.b(), pseudo));
        self.set_checksum(c);
    }
}

/// A parsed TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpRepr<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub urgent: u16,
    pub options: TcpOptions,
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// RFC 9293 §3.1: parses a segment (header, options, payload). The
    /// checksum is NOT verified here: call `TcpPacket::verify_checksum_v4/v6`.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &TcpPacket<&'a T>) -> Result<Self, WireError> {
        packet.check_len()?;
        let buf: &'a [u8] = packet.buffer.as_ref();
        let payload = buf.get(usize::from(packet.header_len())..).unwrap_or(&[]);
        Ok(TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq: packet.seq_number(),
            ack: packet.ack_number(),
            flags: packet.flags(),
            window: packet.window_len(),
            urgent: packet.urgent_at(),
            options: packet.options()?,
            payload,
        })
    }

    /// Parses `bytes` as a TCP segment (no checksum check).
    pub fn parse_bytes(bytes: &'a [u8]) -> Result<Self, WireError> {
        Self::parse(&TcpPacket::new_unchecked(bytes))
    }

    /// Header length including options.
    pub fn header_len(&self) -> usize {
        header_len_for(&self.options)
    }

    /// Header plus payload.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// RFC 9293 §3.4: sequence space used (payload, plus one each for SYN and FIN).
    pub fn segment_len(&self) -> usize {
        self.payload.len() + usize::from(self.flags.syn()) + usize::from(self.flags.fin())
    }

    /// Writes the header and options with a zero checksum field, so the
    /// caller can sum the payload fused with its copy; returns the header
    /// length, or 0 (nothing written) if `buf` is shorter than it.
    pub fn emit_header(&self, buf: &mut [u8]) -> usize {
        let h = self.header_len();
        let Some(hdr) = buf.get_mut(..h) else {
            return 0;
        };
        let mut p = TcpPacket::new_unchecked(&mut *hdr);
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_seq_number(self.seq);
        p.set_ack_number(self.ack);
        p.set_header_len(h as u8);
        p.set_flags(self.flags);
        p.set_window_len(self.window);
        p.set_checksum(0);
        p.set_urgent_at(self.urgent);
        if let Some(o) = hdr.get_mut(HEADER_LEN..) {
            self.options.emit(o);
        }
        h
    }

    /// Writes the whole segment with the checksum over the pseudo-header
    /// sum `pseudo` (see `checksum::pseudo_header_v4/v6`); returns the bytes
    /// written, or `Truncated` (nothing written) if `buf` is too short.
    pub fn emit_with_pseudo_header(&self, buf: &mut [u8], pseudo: u32) -> Result<usize, WireError> {
        let total = self.buffer_len();
        let out = buf.get_mut(..total).ok_or(WireError::Truncated)?;
        let h = self.emit_header(out);
        let (hdr, body) = out.split_at_mut(h);
        let sum = checksum::ones_complement_sum(hdr, pseudo);
        let sum = checksum::copy_with_checksum(body, self.payload, sum);
        write_u16(out, field::CHECKSUM, checksum::finish(sum));
        Ok(total)
    }

    /// Writes the whole segment with its checksum for `src` -> `dst`;
    /// `Unsupported` if the families differ, `Truncated` if `buf` is short.
    pub fn emit(&self, buf: &mut [u8], src: &IpAddr, dst: &IpAddr) -> Result<usize, WireError> {
        let len = u32::try_from(self.buffer_len()).map_err(|_| WireError::BadTotalLength)?;
        let pseudo = super::ip::pseudo_header(src, dst, IpProtocol::Tcp, len)
            .ok_or(WireError::Unsupported)?;
        self.emit_with_pseudo_header(buf, pseudo)
    }
}
