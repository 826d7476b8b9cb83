//! SYN cookies: a stateless SYN-ACK when a listener's SYN queue is full.
//!
//! Cookie (our ISN) layout, after Bernstein and Linux:
//! `t mod 32 (5 bits) | MSS index (3 bits) | H(4-tuple, peer ISN, t, MSS index) (24 bits)`,
//! with `t` a 64-second counter. With timestamps, window scale and
//! SACK-permitted ride in the low 6 bits of our TSval (Linux
//! `cookie_init_timestamp`) and come back in the ACK's TSecr. Without
//! timestamps the cookie cannot carry them, so they are not offered.

use super::demux::FlowKey;
use super::siphash::SipHasher24;
use crate::tcp::SeqNum;
use crate::time::Instant;
use core::hash::Hasher;

/// MSS values a cookie can encode; the largest not above the peer's MSS is used.
pub const MSS_TABLE: [u16; 8] = [536, 1220, 1300, 1440, 1460, 4312, 8940, 8960];

/// Cookies older than this many counter periods (64 s each) are refused.
const MAX_AGE: u32 = 2;
const PERIOD_US: u64 = 64_000_000;
/// Low TSval bits: 4 bits window scale (0xf = none), 1 bit SACK-permitted, 1 bit spare.
const TS_BITS: u32 = 6;
const TS_MASK: u32 = (1 << TS_BITS) - 1;
const WSCALE_NONE: u32 = 0xf;

/// What the handshake negotiated, recovered from a valid cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieParams {
    /// MSS to use towards the peer.
    pub mss: u16,
    /// The peer's window scale (None: scaling off).
    pub peer_wscale: Option<u8>,
    /// SACK permitted by both.
    pub sack: bool,
    /// Timestamps in use.
    pub timestamps: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct SynCookies {
    k0: u64,
    k1: u64,
}

impl SynCookies {
    pub const fn new(k0: u64, k1: u64) -> Self {
        SynCookies { k0, k1 }
    }

    fn counter(now: Instant) -> u32 {
        (now.as_micros() / PERIOD_US) as u32
    }

    fn mac(&self, key: &FlowKey, peer_isn: u32, t: u32, mss_idx: u32) -> u32 {
        let mut h = SipHasher24::new_with_keys(self.k0, self.k1);
        h.write(&key.to_bytes());
        h.write(&peer_isn.to_be_bytes());
        h.write(&t.to_be_bytes());
        h.write(&[mss_idx as u8]);
        (h.finish() as u32) & 0x00ff_ffff
    }

    /// The index of the largest table MSS not above `peer_mss`.
    pub fn mss_index(peer_mss: u16) -> u32 {
        let mut idx = 0;
        for (i, m) in MSS_TABLE.iter().enumerate() {
            if *m <= peer_mss {
                idx = i as u32;
            }
        }
        idx
    }

    /// Our ISN for a SYN from `key` with ISN `peer_isn` and MSS option `peer_mss`.
    pub fn make_isn(&self, now: Instant, key: &FlowKey, peer_isn: u32, peer_mss: u16) -> u32 {
        let t = Self::counter(now);
        let idx = Self::mss_index(peer_mss);
        ((t & 31) << 27) | (idx << 24) | self.mac(key, peer_isn, t, idx)
    }

    /// Our SYN-ACK TSval: `ts_clock` with the negotiated options in the low bits.
    /// Never ahead of `ts_clock`: the connection's later TSvals come from the
    /// clock itself, and a SYN-ACK TSval above them would make the peer's PAWS
    /// (RFC 7323 §5) drop our next segments, so a value that the option bits
    /// pushed ahead is moved one step back (as Linux's cookie_init_timestamp does).
    pub fn encode_tsval(ts_clock: u32, peer_wscale: Option<u8>, sack: bool) -> u32 {
        let ws = peer_wscale.map_or(WSCALE_NONE, |w| u32::from(w.min(14)));
        let ts = (ts_clock & !TS_MASK) | ws | (u32::from(sack) << 4);
        if SeqNum(ts) > SeqNum(ts_clock) {
            ts.wrapping_sub(TS_MASK + 1)
        } else {
            ts
        }
    }

    /// Validates the ACK completing a cookie handshake: `peer_isn` = SEG.SEQ - 1,
    /// `our_isn` = SEG.ACK - 1, `tsecr` the ACK's echoed timestamp if any.
    pub fn check(
        &self,
        now: Instant,
        key: &FlowKey,
        peer_isn: u32,
        our_isn: u32,
        tsecr: Option<u32>,
    ) -> Option<CookieParams> {
        let now_t = Self::counter(now);
        let cookie_t5 = our_isn >> 27;
        let idx = (our_isn >> 24) & 7;
        let age = now_t.wrapping_sub(cookie_t5) & 31;
        if age >= MAX_AGE {
            return None;
        }
        let t = now_t.wrapping_sub(age);
        if self.mac(key, peer_isn, t, idx) != our_isn & 0x00ff_ffff {
            return None;
        }
        let mss = *MSS_TABLE.get(idx as usize)?;
        let (peer_wscale, sack, timestamps) = match tsecr {
            Some(ts) => {
                let ws = ts & 0xf;
                let ws = if ws == WSCALE_NONE {
                    None
                } else if ws <= 14 {
                    Some(ws as u8)
                } else {
                    return None;
                };
                (ws, ts & 0x10 != 0, true)
            }
            None => (None, false, false),
        };
        Some(CookieParams {
            mss,
            peer_wscale,
            sack,
            timestamps,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr, SocketAddr};

    fn key() -> FlowKey {
        FlowKey::new(
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 80),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 40000),
        )
    }

    #[test]
    fn cookie_tsval_is_never_ahead_of_the_timestamp_clock() {
        for clock in [0u32, 1, 0x20, 0x3f, 0xdead_beef, 0xdead_bee0, u32::MAX, 5] {
            for (ws, sack) in [(None, true), (Some(14), true), (Some(0), false)] {
                let ts = SynCookies::encode_tsval(clock, ws, sack);
                assert!(SeqNum(ts) <= SeqNum(clock), "{ts:#x} ahead of {clock:#x}");
                assert!(clock.wrapping_sub(ts) <= TS_MASK, "{ts:#x} too far behind");
                assert_eq!(
                    ts & TS_MASK,
                    SynCookies::encode_tsval(0, ws, sack) & TS_MASK
                );
            }
        }
    }

    #[test]
    fn valid_cookie_round_trips_mss_wscale_and_sack() {
        let c = SynCookies::new(1, 2);
        let now = Instant::from_micros(500_000_000);
        let isn = c.make_isn(now, &key(), 1234, 1460);
        let ts = SynCookies::encode_tsval(0xdead_beef, Some(7), true);
        let p = c.check(
            now + crate::time::Duration::from_secs(30),
            &key(),
            1234,
            isn,
            Some(ts),
        );
        assert_eq!(
            p,
            Some(CookieParams {
                mss: 1460,
                peer_wscale: Some(7),
                sack: true,
                timestamps: true
            })
        );
        let p = c.check(now, &key(), 1234, isn, None);
        assert_eq!(
            p.map(|p| (p.mss, p.peer_wscale, p.sack)),
            Some((1460, None, false))
        );
    }

    #[test]
    fn mss_rounds_down_to_the_table() {
        assert_eq!(MSS_TABLE[SynCookies::mss_index(1400) as usize], 1300);
        assert_eq!(MSS_TABLE[SynCookies::mss_index(100) as usize], 536);
        assert_eq!(MSS_TABLE[SynCookies::mss_index(u16::MAX) as usize], 8960);
    }

    #[test]
    fn forged_stale_or_foreign_cookies_fail() {
        let c = SynCookies::new(1, 2);
        let now = Instant::from_micros(500_000_000);
        let isn = c.make_isn(now, &key(), 1234, 1460);
        assert!(
            c.check(now, &key(), 1234, isn ^ 1, None).is_none(),
            "one bit flipped"
        );
        assert!(
            c.check(now, &key(), 1235, isn, None).is_none(),
            "other peer ISN"
        );
        let late = now + crate::time::Duration::from_secs(200);
        assert!(c.check(late, &key(), 1234, isn, None).is_none(), "too old");
        assert!(
            SynCookies::new(1, 3)
                .check(now, &key(), 1234, isn, None)
                .is_none(),
            "other secret"
        );
    }
}
