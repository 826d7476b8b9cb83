//! Initial sequence numbers (RFC 6528 §3): ISN = M + F(4-tuple, secret),
//! M a 4-µs clock, F = SipHash-2-4 keyed with the stack's secret. The host
//! must fill the secret from the OS's randomness (the C and Python layers do
//! when it is all zero); with a known secret ISNs are predictable.

use super::demux::FlowKey;
use super::siphash::siphash24_words;
use crate::tcp::SeqNum;
use crate::time::Instant;

#[derive(Clone, Copy, Debug)]
pub struct IsnGenerator {
    k0: u64,
    k1: u64,
}

impl IsnGenerator {
    pub const fn new(k0: u64, k1: u64) -> Self {
        IsnGenerator { k0, k1 }
    }

    /// RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey).
    pub fn isn(&self, now: Instant, key: &FlowKey) -> SeqNum {
        let m = (now.as_micros() / 4) as u32;
        // SipHash-2-4 of the 4-tuple bytes, fed as words (same value, no
        // per-byte work): an IPv4 flow's 12 bytes, any other flow's 36.
        let f = match key.v4_prf_words() {
            Some((word, last)) => siphash24_words(self.k0, self.k1, &[word], last),
            None => {
                let (words, last) = key.prf_words();
                siphash24_words(self.k0, self.k1, &words, last)
            }
        } as u32;
        SeqNum(m.wrapping_add(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr, SocketAddr};

    fn key(port: u16) -> FlowKey {
        let l = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 80);
        let r = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), port);
        FlowKey::new(l, r)
    }

    /// The word-fed F is SipHash-2-4 of the 4-tuple's bytes (RFC 6528 §3):
    /// 12 for an IPv4 flow, 36 for an IPv6 one.
    #[test]
    fn f_is_siphash_of_the_key_bytes() {
        let g = IsnGenerator::new(11, 22);
        let t0 = Instant::from_micros(0);
        let v6 = |port| {
            let a: IpAddr = "2001:db8::2"
                .parse()
                .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            let b: IpAddr = "2001:db8::1"
                .parse()
                .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            FlowKey::new(SocketAddr::new(a, 80), SocketAddr::new(b, port))
        };
        for port in [1000, 1001, 65535] {
            for (k, n) in [(key(port), 12), (v6(port), 36)] {
                let (bytes, len) = k.prf_bytes();
                assert_eq!(len, n);
                let f = crate::stack::siphash::siphash(11, 22, &bytes[..len]) as u32;
                assert_eq!(g.isn(t0, &k), SeqNum(f), "port {port} {k:?}");
            }
        }
    }

    #[test]
    fn isn_advances_with_the_4us_clock_and_differs_per_tuple() {
        let g = IsnGenerator::new(11, 22);
        let t0 = Instant::from_micros(1_000_000);
        let a = g.isn(t0, &key(1000));
        let a_later = g.isn(Instant::from_micros(1_000_400), &key(1000));
        assert_eq!(a_later - a, 100, "M ticks every 4 µs");
        assert_ne!(g.isn(t0, &key(1001)), a, "F depends on the 4-tuple");
        assert_ne!(
            IsnGenerator::new(11, 23).isn(t0, &key(1000)),
            a,
            "F depends on the secret"
        );
    }

    /// RFC 6528 §3: F of 4-tuples one bit apart (each bit of the IPv4
    /// addresses and ports, the 12 bytes hashed) differ, by about half
    /// their bits each (no field drops out of the 12-byte form); and an
    /// IPv6 flow whose addresses end in the same 4 bytes as an IPv4 one's
    /// (the 36-byte form) gets another F.
    #[test]
    fn every_bit_of_an_ipv4_tuple_changes_f() {
        let g = IsnGenerator::new(0x0123_4567, 0x89ab_cdef);
        let t0 = Instant::from_micros(0);
        let (la, ra, lp, rp) = (0xc000_0202u32, 0xc633_6401u32, 443u16, 51_000u16);
        let v4 = |la: u32, ra: u32, lp: u16, rp: u16| {
            FlowKey::new(
                SocketAddr::new(IpAddr::V4(Ipv4Addr::from(la)), lp),
                SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ra)), rp),
            )
        };
        let base = g.isn(t0, &v4(la, ra, lp, rp)).0;
        let mut flipped = 0u32;
        for bit in 0..96u32 {
            let k = match bit {
                0..=31 => v4(la ^ 1 << bit, ra, lp, rp),
                32..=63 => v4(la, ra ^ 1 << (bit - 32), lp, rp),
                64..=79 => v4(la, ra, lp ^ 1 << (bit - 64), rp),
                _ => v4(la, ra, lp, rp ^ 1 << (bit - 80)),
            };
            let diff = (g.isn(t0, &k).0 ^ base).count_ones();
            assert!(diff > 0, "bit {bit} of the tuple does not reach F");
            flipped += diff;
        }
        // 96 x 32 bits, each flipped with probability 1/2: mean 1536,
        // standard deviation about 28.
        assert!((1300..1770).contains(&flipped), "{flipped}");
        let v6 = |a: u32, b: u32| {
            let addr = |x: u32| {
                IpAddr::V6(core::net::Ipv6Addr::from(
                    0x2001_0db8_u128 << 96 | u128::from(x),
                ))
            };
            FlowKey::new(SocketAddr::new(addr(a), lp), SocketAddr::new(addr(b), rp))
        };
        assert!(v6(la, ra).v4_prf_words().is_none());
        assert_ne!(g.isn(t0, &v6(la, ra)).0, base);
    }
}
