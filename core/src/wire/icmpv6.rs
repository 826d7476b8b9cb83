//! ICMPv6 (RFC 4443) with the pseudo-header checksum (RFC 8200 §8.1).

use core::net::Ipv6Addr;

use super::ip::IpProtocol;
use super::ipv6::{self, Ipv6FragmentHeader, Ipv6Packet};
use super::{byte, checksum, read_u16, read_u32, set_byte, write_u16, write_u32, WireError};

/// Length of the ICMPv6 header (type, code, checksum, 4 bytes of rest).
pub const HEADER_LEN: usize = 8;

/// ICMPv6 message types tcpkit handles (RFC 4443 §2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Icmpv6Message {
    DstUnreachable,
    PacketTooBig,
    TimeExceeded,
    ParamProblem,
    EchoRequest,
    EchoReply,
    Unknown(u8),
}

impl From<u8> for Icmpv6Message {
    fn from(v: u8) -> Self {
        match v {
            1 => Icmpv6Message::DstUnreachable,
            2 => Icmpv6Message::PacketTooBig,
            3 => Icmpv6Message::TimeExceeded,
            4 => Icmpv6Message::ParamProblem,
            128 => Icmpv6Message::EchoRequest,
            129 => Icmpv6Message::EchoReply,
            o => Icmpv6Message::Unknown(o),
        }
    }
}

impl From<Icmpv6Message> for u8 {
    fn from(m: Icmpv6Message) -> u8 {
        match m {
            Icmpv6Message::DstUnreachable => 1,
            Icmpv6Message::PacketTooBig => 2,
            Icmpv6Message::TimeExceeded => 3,
            Icmpv6Message::ParamProblem => 4,
            Icmpv6Message::EchoRequest => 128,
            Icmpv6Message::EchoReply => 129,
            Icmpv6Message::Unknown(o) => o,
        }
    }
}

/// A read/write view of an ICMPv6 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// Wraps a buffer without checking it.
    pub fn new_unchecked(buffer: T) -> Self {
        Icmpv6Packet { buffer }
    }
    /// Wraps a buffer of at least [`HEADER_LEN`] bytes.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Self::new_unchecked(buffer);
        if p.b().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(p)
    }
    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn msg_type(&self) -> Icmpv6Message {
        Icmpv6Message::from(byte(self.b(), 0))
    }
    pub fn msg_code(&self) -> u8 {
        byte(self.b(), 1)
    }
    pub fn checksum(&self) -> u16 {
        read_u16(self.b(), 2).unwrap_or(0)
    }
    pub fn echo_ident(&self) -> u16 {
        read_u16(self.b(), 4).unwrap_or(0)
    }
    pub fn echo_seq_no(&self) -> u16 {
        read_u16(self.b(), 6).unwrap_or(0)
    }
    /// RFC 4443 §3.2: the MTU of a packet-too-big message.
    pub fn mtu(&self) -> u32 {
        read_u32(self.b(), 4).unwrap_or(0)
    }
    /// Bytes after the 8-byte header (echo data or the invoking packet).
    pub fn data(&self) -> &[u8] {
        self.b().get(HEADER_LEN..).unwrap_or(&[])
    }
    /// RFC 4443 §2.3: checksum over the IPv6 pseudo-header and the message.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let b = self.b();
        let p = checksum::pseudo_header_v6(src, dst, IpProtocol::Icmpv6.number(), b.len() as u32);
        checksum::fold(checksum::ones_complement_sum(b, p)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    pub fn set_msg_type(&mut self, m: Icmpv6Message) {
        set_byte(self.bm(), 0, m.into());
    }
    pub fn set_msg_code(&mut self, c: u8) {
        set_byte(self.bm(), 1, c);
    }
    pub fn set_checksum(&mut self, v: u16) {
        write_u16(self.bm(), 2, v);
    }
    /// Sets the 4 "rest of header" bytes.
    pub fn set_rest(&mut self, v: u32) {
        write_u32(self.bm(), 4, v);
    }
}

/// The invoking packet quoted in an ICMPv6 error (RFC 4443 §2.4(c): as
/// much as fits in the minimum MTU), walked to its upper-layer header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotedIpv6<'a> {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// Upper-layer protocol after the extension headers.
    pub protocol: IpProtocol,
    /// The fragment header of the quoted packet, if any.
    pub fragment: Option<Ipv6FragmentHeader>,
    /// Quoted bytes of the upper-layer header (and payload).
    pub transport: &'a [u8],
}

/// RFC 4443 §2.4(c): decodes the quoted invoking packet; the quote may be cut
/// short, so only the fixed header and the extension headers must be whole.
pub fn parse_quoted(data: &[u8]) -> Result<QuotedIpv6<'_>, WireError> {
    if data.len() < ipv6::HEADER_LEN {
        return Err(WireError::Truncated);
    }
    let p = Ipv6Packet::new_unchecked(data);
    if p.version() != 6 {
        return Err(WireError::BadVersion);
    }
    let end = (ipv6::HEADER_LEN + usize::from(p.payload_len())).min(data.len());
    let quoted = data.get(..end).unwrap_or(data);
    let payload = quoted.get(ipv6::HEADER_LEN..).unwrap_or(&[]);
    let walk = ipv6::walk_extensions_in(p.next_header(), payload)?;
    Ok(QuotedIpv6 {
        src: p.src_addr(),
        dst: p.dst_addr(),
        protocol: walk.upper,
        fragment: walk.fragment,
        transport: quoted.get(walk.offset..).unwrap_or(&[]),
    })
}

/// A parsed ICMPv6 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv6Repr<'a> {
    EchoRequest {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    EchoReply {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    DstUnreachable {
        code: u8,
        data: &'a [u8],
    },
    PacketTooBig {
        mtu: u32,
        data: &'a [u8],
    },
    TimeExceeded {
        code: u8,
        data: &'a [u8],
    },
}

impl<'a> Icmpv6Repr<'a> {
    /// RFC 4443 §2.4: parses a message after verifying the checksum for
    /// `src` -> `dst`; other types are `Unsupported`.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Icmpv6Packet<&'a T>,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
    ) -> Result<Self, WireError> {
        let buf: &'a [u8] = packet.buffer.as_ref();
        if buf.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if !packet.verify_checksum(src, dst) {
            return Err(WireError::BadChecksum);
        }
        let data = buf.get(HEADER_LEN..).unwrap_or(&[]);
        let (ident, seq_no, code) = (packet.echo_ident(), packet.echo_seq_no(), packet.msg_code());
        match packet.msg_type() {
            Icmpv6Message::EchoRequest => Ok(Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            }),
            Icmpv6Message::EchoReply => Ok(Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            }),
            Icmpv6Message::DstUnreachable => Ok(Icmpv6Repr::DstUnreachable { code, data }),
            Icmpv6Message::PacketTooBig => Ok(Icmpv6Repr::PacketTooBig {
                mtu: packet.mtu(),
                data,
            }),
            Icmpv6Message::TimeExceeded => Ok(Icmpv6Repr::TimeExceeded { code, data }),
            _ => Err(WireError::Unsupported),
        }
    }

    fn data(&self) -> &'a [u8] {
        match *self {
            Icmpv6Repr::EchoRequest { data, .. }
            | Icmpv6Repr::EchoReply { data, .. }
            | Icmpv6Repr::DstUnreachable { data, .. }
            | Icmpv6Repr::PacketTooBig { data, .. }
            | Icmpv6Repr::TimeExceeded { data, .. } => data,
        }
    }

    /// Header plus data.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.data().len()
    }

    /// RFC 4443 §2.3: writes the message with its checksum for `src` ->
    /// `dst`; `Truncated` (nothing written) if `buf` is short.
    pub fn emit(&self, buf: &mut [u8], src: &Ipv6Addr, dst: &Ipv6Addr) -> Result<usize, WireError> {
        let total = self.buffer_len();
        let len = u32::try_from(total).map_err(|_| WireError::BadTotalLength)?;
        let out = buf.get_mut(..total).ok_or(WireError::Truncated)?;
        let (ty, code, rest) = match *self {
            Icmpv6Repr::EchoRequest { ident, seq_no, .. } => (
                Icmpv6Message::EchoRequest,
                0,
                (u32::from(ident) << 16) | u32::from(seq_no),
            ),
            Icmpv6Repr::EchoReply { ident, seq_no, .. } => (
                Icmpv6Message::EchoReply,
                0,
                (u32::from(ident) << 16) | u32::from(seq_no),
            ),
            Icmpv6Repr::DstUnreachable { code, .. } => (Icmpv6Message::DstUnreachable, code, 0),
            Icmpv6Repr::PacketTooBig { mtu, .. } => (Icmpv6Message::PacketTooBig, 0, mtu),
            Icmpv6Repr::TimeExceeded { code, .. } => (Icmpv6Message::TimeExceeded, code, 0),
        };
        let (hdr, body) = out.split_at_mut(HEADER_LEN);
        let mut p = Icmpv6Packet::new_unchecked(&mut *hdr);
        p.set_msg_type(ty);
        p.set_msg_code(code);
        p.set_checksum(0);
        p.set_rest(rest);
        let pseudo = checksum::pseudo_header_v6(src, dst, IpProtocol::Icmpv6.number(), len);
        let sum = checksum::ones_complement_sum(hdr, pseudo);
        let sum = checksum::copy_with_checksum(body, self.data(), sum);
        write_u16(out, 2, checksum::finish(sum));
        Ok(total)
    }
}
