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
        // SipHash-2-4 of the 4-tuple bytes, fed as words (same value, no per-byte work).
        let (words, last) = key.prf_words();
        let f = siphash24_words(self.k0, self.k1, &words, last) as u32;
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

    /// The word-fed F is SipHash-2-4 of the 36 key bytes (RFC 6528 §3).
    #[test]
    fn f_is_siphash_of_the_key_bytes() {
        let g = IsnGenerator::new(11, 22);
        let t0 = Instant::from_micros(0);
        for port in [1000, 1001, 65535] {
            let k = key(port);
            let f = crate::stack::siphash::siphash(11, 22, &k.to_bytes()) as u32;
            assert_eq!(g.isn(t0, &k), SeqNum(f), "port {port}");
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
}
