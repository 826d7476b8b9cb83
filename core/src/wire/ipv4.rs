//! IPv4 header (RFC 791 §3.1).

use core::net::Ipv4Addr;

use super::ip::IpProtocol;
use super::{byte, checksum, read_u16, set_byte, write_u16, WireError};

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;

mod field {
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

/// A read/write view of an IPv4 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps a buffer without checking it; getters then return zeros for
    /// bytes beyond the buffer.
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps a buffer after [`Self::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// RFC 791 §3.1: version 4, IHL >= 5, header within total length and
    /// total length within the buffer (bytes beyond total length are
    /// link-layer padding and ignored).
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if self.version() != 4 {
            return Err(WireError::BadVersion);
        }
        let hlen = usize::from(self.header_len());
        if hlen < HEADER_LEN {
            return Err(WireError::BadHeaderLength);
        }
        if hlen > len {
            return Err(WireError::Truncated);
        }
        let total = usize::from(self.total_len());
        if total < hlen {
            return Err(WireError::BadTotalLength);
        }
        if total > len {
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

    /// Version nibble.
    pub fn version(&self) -> u8 {
        byte(self.b(), field::VER_IHL) >> 4
    }
    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> u8 {
        (byte(self.b(), field::VER_IHL) & 0x0f) * 4
    }
    /// DSCP and ECN byte.
    pub fn dscp_ecn(&self) -> u8 {
        byte(self.b(), field::DSCP_ECN)
    }
    /// Total length field.
    pub fn total_len(&self) -> u16 {
        read_u16(self.b(), field::LENGTH).unwrap_or(0)
    }
    /// Identification.
    pub fn ident(&self) -> u16 {
        read_u16(self.b(), field::IDENT).unwrap_or(0)
    }
    /// DF flag.
    pub fn dont_frag(&self) -> bool {
        read_u16(self.b(), field::FLG_OFF).unwrap_or(0) & 0x4000 != 0
    }
    /// MF flag.
    pub fn more_frags(&self) -> bool {
        read_u16(self.b(), field::FLG_OFF).unwrap_or(0) & 0x2000 != 0
    }
    /// Fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        (read_u16(self.b(), field::FLG_OFF).unwrap_or(0) & 0x1fff) << 3
    }
    /// RFC 791 §3.2: a fragment has MF set or a non-zero offset.
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }
    /// Time to live.
    pub fn ttl(&self) -> u8 {
        byte(self.b(), field::TTL)
    }
    /// Protocol of the payload.
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol::from(byte(self.b(), field::PROTOCOL))
    }
    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        read_u16(self.b(), field::CHECKSUM).unwrap_or(0)
    }
    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        self.addr_at(field::SRC)
    }
    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        self.addr_at(field::DST)
    }
    fn addr_at(&self, at: usize) -> Ipv4Addr {
        let b = self.b();
        Ipv4Addr::new(
            byte(b, at),
            byte(b, at + 1),
            byte(b, at + 2),
            byte(b, at + 3),
        )
    }
    /// The header bytes (with options); empty if the header is not in the buffer.
    pub fn header(&self) -> &[u8] {
        self.b()
            .get(..usize::from(self.header_len()))
            .unwrap_or(&[])
    }
    /// Options bytes (IHL > 5); tcpkit skips them.
    pub fn options(&self) -> &[u8] {
        self.header().get(HEADER_LEN..).unwrap_or(&[])
    }
    /// RFC 791 §3.1: the header checksum covers the header only.
    pub fn verify_checksum(&self) -> bool {
        let h = self.header();
        !h.is_empty() && checksum::fold(checksum::ones_complement_sum(h, 0)) == 0xffff
    }
    /// The payload: from the end of the header to the total length.
    pub fn payload(&self) -> &[u8] {
        let h = usize::from(self.header_len());
        let t = usize::from(self.total_len());
        self.b().get(h..t).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    /// Sets version and header length (bytes, multiple of 4).
    pub fn set_version_and_header_len(&mut self, version: u8, header_len: u8) {
        set_byte(
            self.bm(),
            field::VER_IHL,
            (version << 4) | ((header_len / 4) & 0x0f),
        );
    }
    /// Sets DSCP and ECN.
    pub fn set_dscp_ecn(&mut self, v: u8) {
        set_byte(self.bm(), field::DSCP_ECN, v);
    }
    /// Sets the total length.
    pub fn set_total_len(&mut self, v: u16) {
        write_u16(self.bm(), field::LENGTH, v);
    }
    /// Sets the identification.
    pub fn set_ident(&mut self, v: u16) {
        write_u16(self.bm(), field::IDENT, v);
    }
    /// Sets DF, MF and the fragment offset (bytes, multiple of 8).
    pub fn set_frag(&mut self, dont_frag: bool, more_frags: bool, offset_bytes: u16) {
        let mut v = (offset_bytes >> 3) & 0x1fff;
        if dont_frag {
            v |= 0x4000;
        }
        if more_frags {
            v |= 0x2000;
        }
        write_u16(self.bm(), field::FLG_OFF, v);
    }
    /// Sets the TTL.
    pub fn set_ttl(&mut self, v: u8) {
        set_byte(self.bm(), field::TTL, v);
    }
    /// Sets the protocol.
    pub fn set_protocol(&mut self, p: IpProtocol) {
        set_byte(self.bm(), field::PROTOCOL, p.number());
    }
    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        write_u16(self.bm(), field::CHECKSUM, v);
    }
    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        if let Some(s) = self.bm().get_mut(field::SRC..field::SRC + 4) {
            s.copy_from_slice(&a.octets());
        }
    }
    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        if let Some(s) = self.bm().get_mut(field::DST..field::DST + 4) {
            s.copy_from_slice(&a.octets());
        }
    }
    /// RFC 791 §3.1: computes and writes the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.header());
        self.set_checksum(c);
    }
    /// The mutable payload (header end to total length).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let h = usize::from(self.header_len());
        let t = usize::from(self.total_len());
        self.bm().get_mut(h..t).unwrap_or(&mut [])
    }
}

/// A parsed IPv4 header, options dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: IpProtocol,
    pub ttl: u8,
    /// Bytes after the header (total length - header length).
    pub payload_len: usize,
    pub dont_frag: bool,
    pub more_frags: bool,
    /// Fragment offset in bytes (multiple of 8).
    pub frag_offset: u16,
    pub ident: u16,
    pub dscp_ecn: u8,
}

impl Ipv4Repr {
    /// RFC 791 §3.1 / RFC 1122 §3.2.1.2: parses a checked packet and verifies
    /// the header checksum (silently discard on failure).
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv4Packet<T>) -> Result<Ipv4Repr, WireError> {
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(WireError::BadChecksum);
        }
        Ok(Ipv4Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            protocol: packet.protocol(),
            ttl: packet.ttl(),
            payload_len: usize::from(packet.total_len()) - usize::from(packet.header_len()),
            dont_frag: packet.dont_frag(),
            more_frags: packet.more_frags(),
            frag_offset: packet.frag_offset(),
            ident: packet.ident(),
            dscp_ecn: packet.dscp_ecn(),
        })
    }

    /// Header bytes emitted (no options).
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header (no options) with total length and checksum. Fails
    /// without writing if the buffer is shorter than [`Self::buffer_len`] or
    /// the total length does not fit in 16 bits.
    /// RFC 791 §3.1 / RFC 1071: the header checksum computed from the field
    /// values rather than read back from the bytes just written (reading
    /// fresh narrow stores with wide loads stalls store forwarding).
    fn header_checksum(&self, total: u16) -> u16 {
        let mut frag = (self.frag_offset >> 3) & 0x1fff;
        if self.dont_frag {
            frag |= 0x4000;
        }
        if self.more_frags {
            frag |= 0x2000;
        }
        let (s, d) = (u32::from(self.src), u32::from(self.dst));
        let sum = (0x4500 | u32::from(self.dscp_ecn))
            + u32::from(total)
            + u32::from(self.ident)
            + u32::from(frag)
            + (u32::from(self.ttl) << 8 | u32::from(self.protocol.number()))
            + (s >> 16)
            + (s & 0xffff)
            + (d >> 16)
            + (d & 0xffff);
        checksum::finish(sum)
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Ipv4Packet<T>,
    ) -> Result<(), WireError> {
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let total =
            u16::try_from(HEADER_LEN + self.payload_len).map_err(|_| WireError::BadTotalLength)?;
        packet.set_version_and_header_len(4, HEADER_LEN as u8);
        packet.set_dscp_ecn(self.dscp_ecn);
        packet.set_total_len(total);
        packet.set_ident(self.ident);
        packet.set_frag(self.dont_frag, self.more_frags, self.frag_offset);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src);
        packet.set_dst_addr(self.dst);
        packet.set_checksum(self.header_checksum(total));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A kernel ICMP echo request header 192.0.2.1 -> 192.0.2.2, 84 bytes, DF.
    const HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x54, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0x00, 0x00, 192, 0, 2, 1, 192,
        0, 2, 2,
    ];

    fn packet() -> [u8; 84] {
        let mut b = [0u8; 84];
        b[..20].copy_from_slice(&HDR);
        let c = checksum::checksum(&b[..20]);
        b[10..12].copy_from_slice(&c.to_be_bytes());
        b
    }

    #[test]
    fn deconstruct() {
        let b = packet();
        let p = Ipv4Packet::new_checked(&b[..]).expect("valid");
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.total_len(), 84);
        assert_eq!(p.ident(), 0x1234);
        assert!(p.dont_frag());
        assert!(!p.more_frags());
        assert!(!p.is_fragment());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), IpProtocol::Icmp);
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(192, 0, 2, 2));
        assert!(p.verify_checksum());
        assert_eq!(p.payload().len(), 64);
    }

    #[test]
    fn construct_matches_bytes() {
        let b = packet();
        let repr = Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&b[..])).expect("valid");
        let mut out = [0u8; 84];
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]))
            .expect("fits");
        assert_eq!(out[..20], b[..20]);
    }

    #[test]
    fn truncated_and_bad_lengths() {
        let b = packet();
        assert_eq!(
            Ipv4Packet::new_checked(&b[..19]).err(),
            Some(WireError::Truncated)
        );
        assert_eq!(
            Ipv4Packet::new_checked(&b[..83]).err(),
            Some(WireError::Truncated)
        );
        let mut v = b;
        v[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new_checked(&v[..]).err(),
            Some(WireError::BadVersion)
        );
        let mut v = b;
        v[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&v[..]).err(),
            Some(WireError::BadHeaderLength)
        );
        let mut v = b;
        v[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(
            Ipv4Packet::new_checked(&v[..]).err(),
            Some(WireError::BadTotalLength)
        );
        let mut v = b;
        v[0] = 0x4f; // 60-byte header in a buffer of 84 but total 84: fine length-wise
        assert!(Ipv4Packet::new_checked(&v[..]).is_ok());
        assert_eq!(
            Ipv4Packet::new_checked(&v[..40]).err(),
            Some(WireError::Truncated)
        );
    }

    #[test]
    fn padding_beyond_total_length_ignored() {
        let b = packet();
        let mut long = [0xeeu8; 100];
        long[..84].copy_from_slice(&b);
        let p = Ipv4Packet::new_checked(&long[..]).expect("valid");
        assert_eq!(p.payload().len(), 64);
        assert_eq!(Ipv4Repr::parse(&p).map(|r| r.payload_len), Ok(64));
    }

    #[test]
    fn bad_checksum_rejected() {
        let mut b = packet();
        b[8] = 63;
        assert_eq!(
            Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&b[..])).err(),
            Some(WireError::BadChecksum)
        );
    }

    #[test]
    fn options_skipped() {
        let mut b = [0u8; 28];
        b[..20].copy_from_slice(&HDR);
        b[0] = 0x46;
        b[2..4].copy_from_slice(&28u16.to_be_bytes());
        b[20..24].copy_from_slice(&[0x94, 0x04, 0, 0]); // router alert
        b[24..28].copy_from_slice(&[1, 2, 3, 4]);
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        p.fill_checksum();
        let p = Ipv4Packet::new_checked(&b[..]).expect("valid");
        assert_eq!(p.options(), &[0x94, 0x04, 0, 0]);
        assert_eq!(p.payload(), &[1, 2, 3, 4]);
        let r = Ipv4Repr::parse(&p).expect("valid");
        assert_eq!(r.payload_len, 4);
    }

    #[test]
    fn fragment_fields() {
        let mut b = packet();
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        p.set_frag(false, true, 1480);
        p.fill_checksum();
        let r = Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&b[..])).expect("valid");
        assert!(r.more_frags && !r.dont_frag);
        assert_eq!(r.frag_offset, 1480);
        assert!(Ipv4Packet::new_unchecked(&b[..]).is_fragment());
    }

    #[test]
    fn emit_short_buffer_fails_cleanly() {
        let b = packet();
        let repr = Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&b[..])).expect("valid");
        let mut out = [0u8; 19];
        assert_eq!(
            repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[..])),
            Err(WireError::Truncated)
        );
        assert_eq!(out, [0u8; 19]);
    }
}
