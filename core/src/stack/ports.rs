//! Ephemeral port selection, RFC 6056 §3.3.3 (Algorithm 3, "Simple
//! Hash-Based Port Selection"): a keyed-hash offset per destination plus a
//! global counter, skipping ports whose 4-tuple is in use.

use core::net::{IpAddr, SocketAddr};

use super::demux::addr16;
use super::siphash::siphash24_words;
use super::Error;

/// IANA dynamic port range (RFC 6335 §6): 49152..=65535.
pub const EPHEMERAL_MIN: u16 = 49152;
pub const EPHEMERAL_MAX: u16 = 65535;

#[derive(Clone, Debug)]
pub struct PortAllocator {
    k0: u64,
    k1: u64,
    next_ephemeral: u32,
    /// The last (local, remote) and its offset: clients open connection
    /// after connection to one server, and the hash is the same each time.
    memo: Option<(IpAddr, Option<SocketAddr>, u32)>,
}

impl PortAllocator {
    pub const fn new(k0: u64, k1: u64) -> Self {
        PortAllocator {
            k0,
            k1,
            next_ephemeral: 0,
            memo: None,
        }
    }

    /// [`PortAllocator::offset`], remembered for the last destination.
    fn offset_cached(&mut self, local: IpAddr, remote: Option<SocketAddr>) -> u32 {
        match self.memo {
            Some((l, r, off)) if l == local && r == remote => off,
            _ => {
                let off = self.offset(local, remote);
                self.memo = Some((local, remote, off));
                off
            }
        }
    }

    /// F(local IP, remote IP, remote port, secret): SipHash-2-4 of the
    /// 16 + 16 + 2 bytes (16 without a remote), fed as words.
    fn offset(&self, local: IpAddr, remote: Option<SocketAddr>) -> u32 {
        let l = u128::from_le_bytes(addr16(local));
        let (l0, l1) = (l as u64, (l >> 64) as u64);
        let h = match remote {
            Some(r) => {
                let rr = u128::from_le_bytes(addr16(r.ip()));
                let port = u16::from_le_bytes(r.port().to_be_bytes());
                let words = [l0, l1, rr as u64, (rr >> 64) as u64];
                siphash24_words(self.k0, self.k1, &words, u64::from(port) | (34u64 << 56))
            }
            None => siphash24_words(self.k0, self.k1, &[l0, l1], 16u64 << 56),
        };
        h as u32
    }

    /// RFC 6056 §3.3.3: offset = F(local IP, remote IP, remote port, secret);
    /// try min + (offset + next_ephemeral) % count, count times. `in_use(port)`
    /// says whether that local port is unusable for this destination.
    pub fn pick(
        &mut self,
        local: IpAddr,
        remote: Option<SocketAddr>,
        mut in_use: impl FnMut(u16) -> bool,
    ) -> Result<u16, Error> {
        let count = u32::from(EPHEMERAL_MAX - EPHEMERAL_MIN) + 1;
        let offset = self.offset_cached(local, remote);
        for _ in 0..count {
            let port = EPHEMERAL_MIN as u32 + offset.wrapping_add(self.next_ephemeral) % count;
            self.next_ephemeral = self.next_ephemeral.wrapping_add(1);
            let port = port as u16;
            if !in_use(port) {
                return Ok(port);
            }
        }
        Err(Error::NoPorts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;
    use core::net::Ipv4Addr;

    fn remote(port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), port)
    }
    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

    /// The word-fed offset is the SipHash-2-4 of the bytes RFC 6056 names.
    #[test]
    fn offset_is_siphash_of_the_address_and_port_bytes() {
        use crate::stack::siphash::SipHasher24;
        use core::hash::Hasher;
        let a = PortAllocator::new(5, 6);
        let v6: IpAddr = IpAddr::V6(core::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 9));
        for r in [
            Some(remote(80)),
            Some(remote(443)),
            Some(SocketAddr::new(v6, 8080)),
            None,
        ] {
            let mut h = SipHasher24::new_with_keys(5, 6);
            h.write(&addr16(LOCAL));
            if let Some(r) = r {
                h.write(&addr16(r.ip()));
                h.write(&r.port().to_be_bytes());
            }
            assert_eq!(a.offset(LOCAL, r), h.finish() as u32, "{r:?}");
        }
        // The remembered offset is the one of the destination asked for.
        let mut m = PortAllocator::new(5, 6);
        for r in [
            Some(remote(80)),
            Some(remote(80)),
            Some(remote(81)),
            None,
            Some(remote(80)),
        ] {
            assert_eq!(m.offset_cached(LOCAL, r), a.offset(LOCAL, r), "{r:?}");
        }
        assert_ne!(
            a.offset(LOCAL, Some(remote(80))),
            a.offset(LOCAL, Some(remote(81)))
        );
    }

    #[test]
    fn ports_are_in_range_distinct_and_skip_used_ones() {
        let mut a = PortAllocator::new(5, 6);
        let mut used = BTreeSet::new();
        for _ in 0..1000 {
            let p = a.pick(LOCAL, Some(remote(80)), |p| used.contains(&p));
            let p = p.unwrap_or(0);
            assert!(p >= EPHEMERAL_MIN);
            assert!(used.insert(p), "port {p} handed out twice");
        }
    }

    #[test]
    fn exhaustion_is_no_ports() {
        let mut a = PortAllocator::new(5, 6);
        assert_eq!(
            a.pick(LOCAL, Some(remote(80)), |_| true),
            Err(Error::NoPorts)
        );
        // One free port is found however far it is from the offset.
        let free = 50000;
        assert_eq!(a.pick(LOCAL, Some(remote(80)), |p| p != free), Ok(free));
    }

    #[test]
    fn offset_depends_on_destination() {
        let mut a = PortAllocator::new(5, 6);
        let mut b = PortAllocator::new(5, 6);
        let pa = a.pick(LOCAL, Some(remote(80)), |_| false);
        let pb = b.pick(LOCAL, Some(remote(443)), |_| false);
        assert_ne!(pa, pb);
    }
}
