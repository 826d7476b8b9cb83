//! TCP option negotiation: MSS (RFC 9293 §3.7.1, RFC 6691), window scale and
//! timestamps (RFC 7323), SACK-permitted (RFC 2018).

use crate::wire::tcp::TcpOptions;

/// Bytes the timestamp option takes in every segment, padded (RFC 7323 §3.2).
pub const TS_OPTION_BYTES: u16 = 12;
/// MSS assumed when the peer sends none (RFC 9293 §3.7.1: 536 for IPv4).
pub const DEFAULT_PEER_MSS: u16 = 536;
/// Largest window shift allowed (RFC 7323 §2.3).
pub const MAX_WINDOW_SHIFT: u8 = 14;

/// What both sides agreed on in the SYN exchange.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// The peer's MSS option (or the default).
    pub peer_mss: u16,
    /// Shift applied to windows the peer advertises (0 when scaling is off).
    pub snd_shift: u8,
    /// Shift applied to windows we advertise (0 when scaling is off).
    pub rcv_shift: u8,
    pub sack: bool,
    pub timestamps: bool,
    /// Both sides sent the window scale option.
    pub window_scale: bool,
}

/// Our offer, from configuration.
#[derive(Clone, Copy, Debug)]
pub struct Offer {
    pub mss: u16,
    pub sack: bool,
    pub timestamps: bool,
    pub window_scale: bool,
    pub rcv_shift: u8,
}

/// The smallest shift that lets `buffer` bytes be advertised in 16 bits (RFC 7323 §2.2).
/// Closed form (runs per new connection): `buffer` needs `32 - lz` bits, 16 fit.
pub fn window_shift_for(buffer: u32) -> u8 {
    let bits = 32 - buffer.leading_zeros();
    u8::try_from(bits.saturating_sub(16))
        .unwrap_or(MAX_WINDOW_SHIFT)
        .min(MAX_WINDOW_SHIFT)
}

/// Both sides must send an option in their SYN for it to be used (RFC 7323 §1.3, RFC 2018 §2).
pub fn negotiate(offer: &Offer, peer: &TcpOptions) -> Negotiated {
    let scaled = offer.window_scale && peer.window_scale.is_some();
    Negotiated {
        peer_mss: peer_mss_or_default(peer),
        snd_shift: if scaled {
            clamp_window_shift(peer.window_scale.unwrap_or(0))
        } else {
            0
        },
        rcv_shift: if scaled { offer.rcv_shift } else { 0 },
        sack: offer.sack && peer.sack_permitted,
        timestamps: offer.timestamps && peer.timestamps.is_some(),
        window_scale: scaled,
    }
}

/// A shift above 14 is treated as 14 (RFC 7323 §2.3).
pub fn clamp_window_shift(shift: u8) -> u8 {
    shift.min(MAX_WINDOW_SHIFT)
}

/// A missing MSS option means 536 (RFC 9293 §3.7.1); zero is treated the same.
pub fn peer_mss_or_default(peer: &TcpOptions) -> u16 {
    match peer.mss {
        Some(m) if m > 0 => m,
        _ => DEFAULT_PEER_MSS,
    }
}

/// Options for our SYN: everything we are willing to use (RFC 7323 §2.2, §3.2; RFC 2018 §2).
pub fn syn_options(offer: &Offer, ts_val: u32) -> TcpOptions {
    TcpOptions {
        mss: Some(offer.mss),
        window_scale: offer.window_scale.then_some(offer.rcv_shift),
        sack_permitted: offer.sack,
        timestamps: offer.timestamps.then_some((ts_val, 0)),
        ..TcpOptions::default()
    }
}

/// Options for a SYN-ACK: only what the peer offered too (RFC 7323 §1.3).
pub fn syn_ack_options(mss: u16, neg: &Negotiated, ts: Option<(u32, u32)>) -> TcpOptions {
    TcpOptions {
        mss: Some(mss),
        window_scale: neg.window_scale.then_some(neg.rcv_shift),
        sack_permitted: neg.sack,
        timestamps: if neg.timestamps { ts } else { None },
        ..TcpOptions::default()
    }
}

/// Effective send MSS: min(peer MSS, path MSS) less the timestamp option (RFC 6691 §2, RFC 7323 §3.2).
pub fn effective_mss(peer_mss: u16, path_mss: u16, timestamps: bool) -> u16 {
    let base = peer_mss.min(path_mss);
    let ts = if timestamps { TS_OPTION_BYTES } else { 0 };
    base.saturating_sub(ts).max(64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_covers_buffer() {
        assert_eq!(window_shift_for(65535), 0);
        assert_eq!(window_shift_for(65536), 1);
        assert_eq!(window_shift_for(256 * 1024), 3);
        assert_eq!(window_shift_for(u32::MAX), 14);
        // The definition: the smallest shift (at most 14) leaving <= 0xffff.
        for b in (0..32).flat_map(|k| [1u32 << k, (1u32 << k) - 1, (1u32 << k) + 1]) {
            let mut shift = 0u8;
            while shift < MAX_WINDOW_SHIFT && (b >> shift) > 0xffff {
                shift += 1;
            }
            assert_eq!(window_shift_for(b), shift, "buffer {b}");
        }
    }

    #[test]
    fn options_used_only_when_both_offer() {
        let offer = Offer {
            mss: 1460,
            sack: true,
            timestamps: true,
            window_scale: true,
            rcv_shift: 7,
        };
        let peer = TcpOptions {
            mss: Some(1400),
            window_scale: Some(20),
            ..TcpOptions::default()
        };
        let n = negotiate(&offer, &peer);
        assert_eq!(n.peer_mss, 1400);
        assert_eq!(n.snd_shift, 14);
        assert_eq!(n.rcv_shift, 7);
        assert!(!n.sack);
        assert!(!n.timestamps);
        assert_eq!(effective_mss(1400, 1460, true), 1388);
        assert_eq!(peer_mss_or_default(&TcpOptions::default()), 536);
    }
}
