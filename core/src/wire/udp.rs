//! UDP header (RFC 768).

use core::net::IpAddr;

use super::ip::{pseudo_header, IpProtocol};
use super::{checksum, read_u16, write_u16, WireError};

/// Length of the header.
pub const HEADER_LEN: usize = 8;

/// A read/write view of a UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wraps a buffer without checking it.
    pub fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// Wraps a buffer after [`Self::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// RFC 768: length field >= 8 and within the buffer.
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.b().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let l = usize::from(self.len());
        if l < HEADER_LEN {
            return Err(WireError::BadTotalLength);
        }
        if l > len {
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
        read_u16(self.b(), 0).unwrap_or(0)
    }
    pub fn dst_port(&self) -> u16 {
        read_u16(self.b(), 2).unwrap_or(0)
    }
    /// Length field (header + payload).
    pub fn len(&self) -> u16 {
        read_u16(self.b(), 4).unwrap_or(0)
    }
    /// Whether the length field says there is no payload.
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }
    pub fn checksum(&self) -> u16 {
        read_u16(self.b(), 6).unwrap_or(0)
    }
    /// The datagram up to the length field.
    fn datagram(&self) -> &[u8] {
        self.b().get(..usize::from(self.len())).unwrap_or(&[])
    }
    /// The payload (up to the length field).
    pub fn payload(&self) -> &[u8] {
        self.datagram().get(HEADER_LEN..).unwrap_or(&[])
    }
    /// RFC 768 / RFC 8200 §8.1: checks the checksum; a zero field means "none"
    /// over IPv4 and is invalid over IPv6.
    pub fn verify_checksum(&self, src: &IpAddr, dst: &IpAddr) -> bool {
        if self.checksum() == 0 {
            return matches!(src, IpAddr::V4(_));
        }
        let d = self.datagram();
        match pseudo_header(src, dst, IpProtocol::Udp, d.len() as u32) {
            Some(p) => checksum::fold(checksum::ones_complement_sum(d, p)) == 0xffff,
            None => false,
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    pub fn set_src_port(&mut self, v: u16) {
        write_u16(self.bm(), 0, v);
    }
    pub fn set_dst_port(&mut self, v: u16) {
        write_u16(self.bm(), 2, v);
    }
    pub fn set_len(&mut self, v: u16) {
        write_u16(self.bm(), 4, v);
    }
    pub fn set_checksum(&mut self, v: u16) {
        write_u16(self.bm(), 6, v);
    }
}

/// A parsed UDP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpRepr<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

impl<'a> UdpRepr<'a> {
    /// RFC 768: parses and verifies the checksum for `src` -> `dst`.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &UdpPacket<&'a T>,
        src: &IpAddr,
        dst: &IpAddr,
    ) -> Result<Self, WireError> {
        packet.check_len()?;
        if !packet.verify_checksum(src, dst) {
            return Err(WireError::BadChecksum);
        }
        let buf: &'a [u8] = packet.buffer.as_ref();
        let payload = buf
            .get(HEADER_LEN..usize::from(packet.len()))
            .unwrap_or(&[]);
        Ok(UdpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            payload,
        })
    }

    /// Header plus payload.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// RFC 768: writes the datagram with its checksum (0 sent as 0xffff);
    /// `Truncated` if `buf` is short, `BadTotalLength` above 65535 bytes,
    /// `Unsupported` for mixed address families. Nothing written on error.
    pub fn emit(&self, buf: &mut [u8], src: &IpAddr, dst: &IpAddr) -> Result<usize, WireError> {
        let total = self.buffer_len();
        let len = u16::try_from(total).map_err(|_| WireError::BadTotalLength)?;
        let pseudo = pseudo_header(src, dst, IpProtocol::Udp, u32::from(len))
            .ok_or(WireError::Unsupported)?;
        let out = buf.get_mut(..total).ok_or(WireError::Truncated)?;
        let (hdr, body) = out.split_at_mut(HEADER_LEN);
        let mut p = UdpPacket::new_unchecked(&mut *hdr);
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_len(len);
        p.set_checksum(0);
        let sum = checksum::ones_complement_sum(hdr, pseudo);
        let sum = checksum::copy_with_checksum(body, self.payload, sum);
        let c = match checksum::finish(sum) {
            0 => 0xffff,
            c => c,
        };
        write_u16(out, 6, c);
        Ok(total)
    }
}
