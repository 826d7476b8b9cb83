//! Sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 §3.4).

use core::cmp::Ordering;
use core::ops::{Add, AddAssign, Sub};

/// A TCP sequence number. Ordering is circular: `a < b` when `b` is less
/// than 2^31 ahead of `a`, so it is only meaningful within half the space.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// Signed distance from `other` to `self` (positive when `self` is ahead).
    pub const fn diff(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// `self` lies in the half-open window `[start, start + len)` (RFC 9293 §3.4).
    pub fn in_window(self, start: SeqNum, len: u32) -> bool {
        self.0.wrapping_sub(start.0) < len
    }

    /// `lo <= self <= hi` in circular order.
    pub fn between_inclusive(self, lo: SeqNum, hi: SeqNum) -> bool {
        self.0.wrapping_sub(lo.0) <= hi.0.wrapping_sub(lo.0)
    }

    /// The later of two sequence numbers in circular order.
    pub fn max(self, other: SeqNum) -> SeqNum {
        if self >= other {
            self
        } else {
            other
        }
    }

    /// The earlier of two sequence numbers in circular order.
    pub fn min(self, other: SeqNum) -> SeqNum {
        if self <= other {
            self
        } else {
            other
        }
    }
}

impl PartialOrd for SeqNum {
    fn partial_cmp(&self, other: &SeqNum) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Circular order; consistent only for numbers less than 2^31 apart, which is
/// all TCP ever compares.
impl Ord for SeqNum {
    fn cmp(&self, other: &SeqNum) -> Ordering {
        self.diff(*other).cmp(&0)
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;
    fn add(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }
}

impl AddAssign<u32> for SeqNum {
    fn add_assign(&mut self, n: u32) {
        self.0 = self.0.wrapping_add(n);
    }
}

impl Sub<u32> for SeqNum {
    type Output = SeqNum;
    fn sub(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(n))
    }
}

/// Distance in bytes from `other` up to `self`; callers ensure `self >= other`.
impl Sub<SeqNum> for SeqNum {
    type Output = u32;
    fn sub(self, other: SeqNum) -> u32 {
        self.0.wrapping_sub(other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_wraps_around_two_to_the_32() {
        let near_top = SeqNum(u32::MAX - 10);
        let wrapped = near_top + 20;
        assert_eq!(wrapped, SeqNum(9));
        assert!(near_top < wrapped);
        assert_eq!(wrapped - near_top, 20);
        assert_eq!(wrapped.diff(near_top), 20);
        assert_eq!(near_top.diff(wrapped), -20);
    }

    #[test]
    fn window_membership_is_half_open() {
        let start = SeqNum(u32::MAX - 1);
        assert!(start.in_window(start, 4));
        assert!((start + 3).in_window(start, 4));
        assert!(!(start + 4).in_window(start, 4));
        assert!(!(start - 1).in_window(start, 4));
        assert!(!start.in_window(start, 0));
    }

    #[test]
    fn between_inclusive_across_wrap() {
        let lo = SeqNum(u32::MAX - 5);
        let hi = lo + 10;
        assert!(lo.between_inclusive(lo, hi));
        assert!(hi.between_inclusive(lo, hi));
        assert!(SeqNum(0).between_inclusive(lo, hi));
        assert!(!(hi + 1).between_inclusive(lo, hi));
        assert_eq!(lo.max(hi), hi);
        assert_eq!(lo.min(hi), lo);
    }
}
