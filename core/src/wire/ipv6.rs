//! IPv6 header (RFC 8200 §3) and extension-header walk (RFC 8200 §4).

use core::net::Ipv6Addr;

use super::ip::IpProtocol;
use super::{byte, read_u16, read_u32, set_byte, write_u16, write_u32, WireError};

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;

/// Most extension headers walked before giving up (bounds the walk).
pub const MAX_EXT_HEADERS: usize = 8;

/// A read/write view of an IPv6 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

/// The fragment header (RFC 8200 §4.5) when present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6FragmentHeader {
    /// Next header after the fragment header (of the reassembled packet).
    pub next_header: IpProtocol,
    /// Offset of this fragment in bytes (multiple of 8).
    pub offset: u16,
    /// M flag: more fragments follow.
    pub more_frags: bool,
    /// Identification.
    pub ident: u32,
    /// Offset of the fragment header from the start of the IPv6 packet.
    pub header_offset: usize,
}

/// Where the extension-header chain ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6ExtWalk {
    /// The upper-layer protocol (first non-extension next header).
    pub upper: IpProtocol,
    /// Offset of the upper-layer header from the start of the IPv6 packet.
    pub offset: usize,
    /// The fragment header, if one was crossed.
    pub fragment: Option<Ipv6FragmentHeader>,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps a buffer without checking it.
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wraps a buffer after [`Self::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// RFC 8200 §3: version 6 and the payload length within the buffer
    /// (bytes beyond it are padding and ignored).
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.b().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if self.version() != 6 {
            return Err(WireError::BadVersion);
        }
        if HEADER_LEN + usize::from(self.payload_len()) > len {
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
        byte(self.b(), 0) >> 4
    }
    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        ((read_u16(self.b(), 0).unwrap_or(0) >> 4) & 0xff) as u8
    }
    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        read_u32(self.b(), 0).unwrap_or(0) & 0x000f_ffff
    }
    /// Payload length (extension headers included).
    pub fn payload_len(&self) -> u16 {
        read_u16(self.b(), 4).unwrap_or(0)
    }
    /// Next header after the fixed header.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(byte(self.b(), 6))
    }
    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        byte(self.b(), 7)
    }
    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        self.addr_at(8)
    }
    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        self.addr_at(24)
    }
    fn addr_at(&self, at: usize) -> Ipv6Addr {
        let mut o = [0u8; 16];
        if let Some(s) = self.b().get(at..at + 16) {
            o.copy_from_slice(s);
        }
        Ipv6Addr::from(o)
    }
    /// The payload (extension headers included), up to the payload length.
    pub fn payload(&self) -> &[u8] {
        self.b()
            .get(HEADER_LEN..HEADER_LEN + usize::from(self.payload_len()))
            .unwrap_or(&[])
    }

    /// RFC 8200 §4: walks hop-by-hop (only first, §4.1), routing, fragment
    /// and destination-options headers to the upper-layer protocol; at most
    /// [`MAX_EXT_HEADERS`] headers.
    pub fn walk_extensions(&self) -> Result<Ipv6ExtWalk, WireError> {
        walk_extensions_in(self.next_header(), self.payload())
    }
}

/// RFC 8200 §4: the extension-header walk over `payload` (the bytes after
/// the fixed header, possibly cut short as in an ICMPv6 error quote),
/// starting from the fixed header's next-header value `first`. Offsets in
/// the result count from the start of the IPv6 packet.
pub fn walk_extensions_in(first: IpProtocol, payload: &[u8]) -> Result<Ipv6ExtWalk, WireError> {
    let mut next = first;
    let mut off = 0usize;
    let mut fragment = None;
    for i in 0..=MAX_EXT_HEADERS {
        if !next.is_ipv6_extension() {
            return Ok(Ipv6ExtWalk {
                upper: next,
                offset: HEADER_LEN + off,
                fragment,
            });
        }
        if i == MAX_EXT_HEADERS {
            break;
        }
        if next == IpProtocol::HopByHop && i != 0 {
            return Err(WireError::BadOption);
        }
        let nh = IpProtocol::from(*payload.get(off).ok_or(WireError::Truncated)?);
        let len = if next == IpProtocol::Ipv6Frag {
            let field = read_u16(payload, off + 2).ok_or(WireError::Truncated)?;
            let ident = read_u32(payload, off + 4).ok_or(WireError::Truncated)?;
            fragment = Some(Ipv6FragmentHeader {
                next_header: nh,
                offset: field & 0xfff8,
                more_frags: field & 1 != 0,
                ident,
                header_offset: HEADER_LEN + off,
            });
            8
        } else {
            let ext = *payload.get(off + 1).ok_or(WireError::Truncated)?;
            (usize::from(ext) + 1) * 8
        };
        if off + len > payload.len() {
            return Err(WireError::Truncated);
        }
        off += len;
        next = nh;
    }
    Err(WireError::Unsupported)
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    /// Sets version 6, traffic class and flow label.
    pub fn set_version_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let v = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        write_u32(self.bm(), 0, v);
    }
    /// Sets the payload length.
    pub fn set_payload_len(&mut self, v: u16) {
        write_u16(self.bm(), 4, v);
    }
    /// Sets the next header.
    pub fn set_next_header(&mut self, p: IpProtocol) {
        set_byte(self.bm(), 6, p.number());
    }
    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, v: u8) {
        set_byte(self.bm(), 7, v);
    }
    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: &Ipv6Addr) {
        if let Some(s) = self.bm().get_mut(8..24) {
            s.copy_from_slice(&a.octets());
        }
    }
    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: &Ipv6Addr) {
        if let Some(s) = self.bm().get_mut(24..40) {
            s.copy_from_slice(&a.octets());
        }
    }
    /// The mutable payload.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        self.bm().get_mut(HEADER_LEN..end).unwrap_or(&mut [])
    }
}

/// A parsed fixed IPv6 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// Next header of the fixed header (may be an extension header).
    pub next_header: IpProtocol,
    /// Payload length (extension headers included).
    pub payload_len: usize,
    pub hop_limit: u8,
    pub traffic_class: u8,
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// RFC 8200 §3: parses the fixed header of a checked packet.
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv6Packet<T>) -> Result<Ipv6Repr, WireError> {
        packet.check_len()?;
        Ok(Ipv6Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.payload_len()),
            hop_limit: packet.hop_limit(),
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
        })
    }

    /// Header bytes emitted.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the fixed header. Fails without writing if the buffer is short
    /// or the payload length does not fit in 16 bits (no jumbograms).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Ipv6Packet<T>,
    ) -> Result<(), WireError> {
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let len = u16::try_from(self.payload_len).map_err(|_| WireError::BadTotalLength)?;
        packet.set_version_tc_flow(self.traffic_class, self.flow_label);
        packet.set_payload_len(len);
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(&self.src);
        packet.set_dst_addr(&self.dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(next: u8, payload_len: u16) -> [u8; 40] {
        let mut b = [0u8; 40];
        b[0] = 0x60;
        b[1] = 0x0a; // flow label 0xa_0001
        b[3] = 0x01;
        b[4..6].copy_from_slice(&payload_len.to_be_bytes());
        b[6] = next;
        b[7] = 64;
        // 2001:db8::1 -> 2001:db8::2 (RFC 3849 documentation prefix).
        b[8..12].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        b[23] = 1;
        b[24..28].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        b[39] = 2;
        b
    }

    #[test]
    fn deconstruct_and_round_trip() {
        let mut b = [0u8; 60];
        b[..40].copy_from_slice(&header(6, 20));
        let p = Ipv6Packet::new_checked(&b[..]).expect("valid");
        assert_eq!(p.version(), 6);
        assert_eq!(p.flow_label(), 0xa_0001);
        assert_eq!(p.traffic_class(), 0);
        assert_eq!(p.next_header(), IpProtocol::Tcp);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.src_addr(), Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
        assert_eq!(p.payload().len(), 20);
        let r = Ipv6Repr::parse(&p).expect("valid");
        let mut out = [0u8; 40];
        r.emit(&mut Ipv6Packet::new_unchecked(&mut out[..]))
            .expect("fits");
        assert_eq!(out[..], b[..40]);
        let w = p.walk_extensions().expect("walk");
        assert_eq!((w.upper, w.offset, w.fragment), (IpProtocol::Tcp, 40, None));
    }

    #[test]
    fn truncated_and_version() {
        let b = header(6, 20);
        assert_eq!(
            Ipv6Packet::new_checked(&b[..39]).err(),
            Some(WireError::Truncated)
        );
        assert_eq!(
            Ipv6Packet::new_checked(&b[..]).err(),
            Some(WireError::Truncated)
        );
        let mut v = header(6, 0);
        v[0] = 0x40;
        assert_eq!(
            Ipv6Packet::new_checked(&v[..]).err(),
            Some(WireError::BadVersion)
        );
    }

    #[test]
    fn walks_hop_by_hop_dest_opts_and_fragment() {
        let mut b = [0u8; 40 + 8 + 16 + 8 + 8];
        b[..40].copy_from_slice(&header(0, 40));
        // hop-by-hop: next = dest opts (60), len 0 => 8 bytes, PadN
        b[40..48].copy_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        // dest opts: next = fragment (44), len 1 => 16 bytes
        b[48..64].copy_from_slice(&[44, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        // fragment: next = UDP, offset 1232, M=1, ident 0xdeadbeef
        let field: u16 = 1232 | 1;
        b[64] = 17;
        b[66..68].copy_from_slice(&field.to_be_bytes());
        b[68..72].copy_from_slice(&0xdead_beefu32.to_be_bytes());
        let p = Ipv6Packet::new_checked(&b[..]).expect("valid");
        let w = p.walk_extensions().expect("walk");
        assert_eq!(w.upper, IpProtocol::Udp);
        assert_eq!(w.offset, 72);
        let f = w.fragment.expect("fragment header");
        assert_eq!((f.offset, f.more_frags, f.ident), (1232, true, 0xdead_beef));
        assert_eq!(f.header_offset, 64);
    }

    #[test]
    fn hop_by_hop_not_first_is_rejected() {
        let mut b = [0u8; 56];
        b[..40].copy_from_slice(&header(60, 16));
        b[40..48].copy_from_slice(&[0, 0, 1, 4, 0, 0, 0, 0]);
        b[48..56].copy_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
        let p = Ipv6Packet::new_checked(&b[..]).expect("valid");
        assert_eq!(p.walk_extensions(), Err(WireError::BadOption));
    }

    #[test]
    fn truncated_extension_is_rejected() {
        let mut b = [0u8; 48];
        b[..40].copy_from_slice(&header(60, 8));
        b[40..48].copy_from_slice(&[6, 1, 1, 4, 0, 0, 0, 0]); // claims 16 bytes
        let p = Ipv6Packet::new_checked(&b[..]).expect("valid");
        assert_eq!(p.walk_extensions(), Err(WireError::Truncated));
    }

    #[test]
    fn long_chain_is_bounded() {
        let n = MAX_EXT_HEADERS + 2;
        let mut b = [0u8; 40 + 8 * 10];
        b[..40].copy_from_slice(&header(60, (8 * n) as u16));
        for i in 0..n {
            b[40 + 8 * i] = 60;
        }
        let p = Ipv6Packet::new_checked(&b[..]).expect("valid");
        assert_eq!(p.walk_extensions(), Err(WireError::Unsupported));
    }
}
