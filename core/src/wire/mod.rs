//! Zero-copy packet views and emitters (the smoltcp wire pattern).
//!
//! Each format has an `XxxPacket<T: AsRef<[u8]>>` view (`new_unchecked`,
//! `new_checked`, field getters, setters when `T: AsMut<[u8]>`) and, where it
//! helps, an `XxxRepr` with `parse`, `buffer_len` and `emit`. Parsers take
//! untrusted bytes: they return [`WireError`] and never panic. Emitters never
//! panic; given a buffer shorter than `buffer_len()` they write nothing and
//! report it.

pub mod checksum;
pub mod icmpv4;
pub mod icmpv6;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;
pub mod udp;

pub use icmpv4::{Icmpv4Message, Icmpv4Packet, Icmpv4Repr};
pub use icmpv6::{Icmpv6Message, Icmpv6Packet, Icmpv6Repr};
pub use ip::IpProtocol;
pub use ipv4::{Ipv4Packet, Ipv4Repr};
pub use ipv6::{Ipv6ExtWalk, Ipv6FragmentHeader, Ipv6Packet, Ipv6Repr};
pub use tcp::{TcpFlags, TcpOptions, TcpPacket, TcpRepr};
pub use udp::{UdpPacket, UdpRepr};

/// Why a packet could not be parsed (or emitted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WireError {
    /// The buffer is shorter than the header or the lengths it declares.
    Truncated,
    /// The IP version nibble is not the one expected.
    BadVersion,
    /// A header length field is below its minimum or beyond the buffer.
    BadHeaderLength,
    /// A total/payload length field is inconsistent with the header.
    BadTotalLength,
    /// The checksum does not verify.
    BadChecksum,
    /// A malformed option list (TCP options, IPv6 extension headers).
    BadOption,
    /// Well formed but not something tcpkit handles.
    Unsupported,
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = match self {
            WireError::Truncated => "truncated packet",
            WireError::BadVersion => "bad IP version",
            WireError::BadHeaderLength => "bad header length",
            WireError::BadTotalLength => "bad total length",
            WireError::BadChecksum => "bad checksum",
            WireError::BadOption => "malformed option",
            WireError::Unsupported => "unsupported packet",
        };
        f.write_str(s)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for WireError {}

/// Reads a big-endian u16 at `at`, or `None` past the end.
#[inline]
pub(crate) fn read_u16(buf: &[u8], at: usize) -> Option<u16> {
    match buf.get(at..at.checked_add(2)?)? {
        [a, b] => Some(u16::from_be_bytes([*a, *b])),
        _ => None,
    }
}

/// Reads a big-endian u32 at `at`, or `None` past the end.
#[inline]
pub(crate) fn read_u32(buf: &[u8], at: usize) -> Option<u32> {
    match buf.get(at..at.checked_add(4)?)? {
        [a, b, c, d] => Some(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

/// Writes a big-endian u16 at `at`; does nothing past the end.
#[inline]
pub(crate) fn write_u16(buf: &mut [u8], at: usize, v: u16) {
    if let Some(s) = at.checked_add(2).and_then(|end| buf.get_mut(at..end)) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

/// Writes a big-endian u32 at `at`; does nothing past the end.
#[inline]
pub(crate) fn write_u32(buf: &mut [u8], at: usize, v: u32) {
    if let Some(s) = at.checked_add(4).and_then(|end| buf.get_mut(at..end)) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

/// Reads one byte, 0 past the end (callers check lengths first).
#[inline]
pub(crate) fn byte(buf: &[u8], at: usize) -> u8 {
    buf.get(at).copied().unwrap_or(0)
}

/// Writes one byte; does nothing past the end.
#[inline]
pub(crate) fn set_byte(buf: &mut [u8], at: usize, v: u8) {
    if let Some(b) = buf.get_mut(at) {
        *b = v;
    }
}
