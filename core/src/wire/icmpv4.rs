//! ICMP for IPv4 (RFC 792; RFC 1191 §4 for the next-hop MTU).

use core::net::Ipv4Addr;

use super::ip::IpProtocol;
use super::ipv4::Ipv4Packet;
use super::{byte, checksum, read_u16, set_byte, write_u16, WireError};

/// Length of the ICMP header (type, code, checksum, 4 bytes of rest).
pub const HEADER_LEN: usize = 8;

/// ICMPv4 message types tcpkit handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Icmpv4Message {
    EchoReply,
    DstUnreachable,
    EchoRequest,
    TimeExceeded,
    Unknown(u8),
}

impl From<u8> for Icmpv4Message {
    fn from(v: u8) -> Self {
        match v {
            0 => Icmpv4Message::EchoReply,
            3 => Icmpv4Message::DstUnreachable,
            8 => Icmpv4Message::EchoRequest,
            11 => Icmpv4Message::TimeExceeded,
            o => Icmpv4Message::Unknown(o),
        }
    }
}

impl From<Icmpv4Message> for u8 {
    fn from(m: Icmpv4Message) -> u8 {
        match m {
            Icmpv4Message::EchoReply => 0,
            Icmpv4Message::DstUnreachable => 3,
            Icmpv4Message::EchoRequest => 8,
            Icmpv4Message::TimeExceeded => 11,
            Icmpv4Message::Unknown(o) => o,
        }
    }
}

/// Destination-unreachable codes (RFC 792, RFC 1122 §3.2.2.1).
pub mod unreach {
    pub const NET: u8 = 0;
    pub const HOST: u8 = 1;
    pub const PROTOCOL: u8 = 2;
    pub const PORT: u8 = 3;
    /// Fragmentation needed and DF set (RFC 1191 §4 adds the next-hop MTU).
    pub const FRAG_NEEDED: u8 = 4;
}

/// A read/write view of an ICMPv4 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Wraps a buffer without checking it.
    pub fn new_unchecked(buffer: T) -> Self {
        Icmpv4Packet { buffer }
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
    pub fn msg_type(&self) -> Icmpv4Message {
        Icmpv4Message::from(byte(self.b(), 0))
    }
    pub fn msg_code(&self) -> u8 {
        byte(self.b(), 1)
    }
    pub fn checksum(&self) -> u16 {
        read_u16(self.b(), 2).unwrap_or(0)
    }
    /// Echo identifier.
    pub fn echo_ident(&self) -> u16 {
        read_u16(self.b(), 4).unwrap_or(0)
    }
    /// Echo sequence number.
    pub fn echo_seq_no(&self) -> u16 {
        read_u16(self.b(), 6).unwrap_or(0)
    }
    /// RFC 1191 §4: next-hop MTU of a fragmentation-needed message (0 from
    /// pre-RFC 1191 routers).
    pub fn next_hop_mtu(&self) -> u16 {
        read_u16(self.b(), 6).unwrap_or(0)
    }
    /// The bytes after the 8-byte header (echo data or the quoted datagram).
    pub fn data(&self) -> &[u8] {
        self.b().get(HEADER_LEN..).unwrap_or(&[])
    }
    /// RFC 792: the checksum covers the whole ICMP message.
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::ones_complement_sum(self.b(), 0)) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    pub fn set_msg_type(&mut self, m: Icmpv4Message) {
        set_byte(self.bm(), 0, m.into());
    }
    pub fn set_msg_code(&mut self, c: u8) {
        set_byte(self.bm(), 1, c);
    }
    pub fn set_checksum(&mut self, v: u16) {
        write_u16(self.bm(), 2, v);
    }
    /// Sets the 4 "rest of header" bytes as two u16s.
    pub fn set_rest(&mut self, a: u16, b: u16) {
        write_u16(self.bm(), 4, a);
        write_u16(self.bm(), 6, b);
    }
    /// RFC 792: computes and writes the checksum over the whole message.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.b());
        self.set_checksum(c);
    }
}

/// The IP header and leading transport bytes quoted in an ICMP error
/// (RFC 792: header + first 8 bytes; RFC 1812 §4.3.2.3: often more).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotedIpv4<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: IpProtocol,
    /// Bytes of the original transport header (and payload) that were quoted.
    pub transport: &'a [u8],
}

/// RFC 792: decodes the original datagram quoted in an ICMP error; the
/// quote may be cut short, so only the IP header must be whole.
pub fn parse_quoted(data: &[u8]) -> Result<QuotedIpv4<'_>, WireError> {
    let p = Ipv4Packet::new_unchecked(data);
    if data.len() < super::ipv4::HEADER_LEN {
        return Err(WireError::Truncated);
    }
    if p.version() != 4 {
        return Err(WireError::BadVersion);
    }
    let h = usize::from(p.header_len());
    if h < super::ipv4::HEADER_LEN {
        return Err(WireError::BadHeaderLength);
    }
    let transport = data.get(h..).ok_or(WireError::Truncated)?;
    let end = usize::from(p.total_len())
        .saturating_sub(h)
        .min(transport.len());
    Ok(QuotedIpv4 {
        src: p.src_addr(),
        dst: p.dst_addr(),
        protocol: p.protocol(),
        transport: transport.get(..end).unwrap_or(transport),
    })
}

/// A parsed ICMPv4 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv4Repr<'a> {
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
    /// `next_hop_mtu` is meaningful for code 4 (fragmentation needed).
    DstUnreachable {
        code: u8,
        next_hop_mtu: u16,
        data: &'a [u8],
    },
    TimeExceeded {
        code: u8,
        data: &'a [u8],
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// RFC 792: parses a message after verifying its checksum; other types
    /// are `Unsupported`.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Icmpv4Packet<&'a T>) -> Result<Self, WireError> {
        let buf: &'a [u8] = packet.buffer.as_ref();
        if buf.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if !packet.verify_checksum() {
            return Err(WireError::BadChecksum);
        }
        let data = buf.get(HEADER_LEN..).unwrap_or(&[]);
        let (ident, seq_no) = (packet.echo_ident(), packet.echo_seq_no());
        match packet.msg_type() {
            Icmpv4Message::EchoRequest => Ok(Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            }),
            Icmpv4Message::EchoReply => Ok(Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            }),
            Icmpv4Message::DstUnreachable => Ok(Icmpv4Repr::DstUnreachable {
                code: packet.msg_code(),
                next_hop_mtu: if packet.msg_code() == unreach::FRAG_NEEDED {
                    packet.next_hop_mtu()
                } else {
                    0
                },
                data,
            }),
            Icmpv4Message::TimeExceeded => Ok(Icmpv4Repr::TimeExceeded {
                code: packet.msg_code(),
                data,
            }),
            Icmpv4Message::Unknown(_) => Err(WireError::Unsupported),
        }
    }

    fn data(&self) -> &'a [u8] {
        match *self {
            Icmpv4Repr::EchoRequest { data, .. }
            | Icmpv4Repr::EchoReply { data, .. }
            | Icmpv4Repr::DstUnreachable { data, .. }
            | Icmpv4Repr::TimeExceeded { data, .. } => data,
        }
    }

    /// Header plus data.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.data().len()
    }

    /// RFC 792: writes the message with its checksum; `Truncated` (nothing
    /// written) if `buf` is shorter than [`Self::buffer_len`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let total = self.buffer_len();
        let out = buf.get_mut(..total).ok_or(WireError::Truncated)?;
        let (ty, code, a, b) = match *self {
            Icmpv4Repr::EchoRequest { ident, seq_no, .. } => {
                (Icmpv4Message::EchoRequest, 0, ident, seq_no)
            }
            Icmpv4Repr::EchoReply { ident, seq_no, .. } => {
                (Icmpv4Message::EchoReply, 0, ident, seq_no)
            }
            Icmpv4Repr::DstUnreachable {
                code, next_hop_mtu, ..
            } => (Icmpv4Message::DstUnreachable, code, 0, next_hop_mtu),
            Icmpv4Repr::TimeExceeded { code, .. } => (Icmpv4Message::TimeExceeded, code, 0, 0),
        };
        let (hdr, body) = out.split_at_mut(HEADER_LEN);
        let mut p = Icmpv4Packet::new_unchecked(&mut *hdr);
        p.set_msg_type(ty);
        p.set_msg_code(code);
        p.set_checksum(0);
        p.set_rest(a, b);
        let sum = checksum::ones_complement_sum(hdr, 0);
        let sum = checksum::copy_with_checksum(body, self.data(), sum);
        write_u16(out, 2, checksum::finish(sum));
        Ok(total)
    }
}
