//! The Internet checksum (RFC 1071), pseudo-headers (RFC 9293 §3.1,
//! RFC 8200 §8.1) and incremental update (RFC 1624).
//!
//! Sums are carried as `u32` values that are already folded to 16 bits, so
//! callers can add a few of them (pseudo-header + header + payload) without
//! overflow and pass the result as `initial` to the next call. Data is summed
//! in native byte order, 4 bytes per step into a `u64` (which the compiler
//! vectorises), and swapped once at the end (RFC 1071 §2(B): the sum is
//! independent of byte order).
//!
//! Chaining: every piece but the last must have an even length, since an odd
//! trailing byte is padded with a zero (RFC 1071 §4.1).

use core::net::{Ipv4Addr, Ipv6Addr};

/// Folds a 64-bit native-order accumulator to a 16-bit native-order sum.
#[inline]
fn fold64(acc: u64) -> u16 {
    // RFC 1071 §2(C): end-around carries. Adding the halves with the carry
    // fed back cannot carry again (with a carry out the sum is at most
    // 2^n - 2), so two steps do it: a short dependency chain per header.
    let (s, c) = (acc as u32).overflowing_add((acc >> 32) as u32);
    fold(s.wrapping_add(u32::from(c)))
}

/// Converts a folded native-order sum to the network-order value.
#[inline]
fn native_to_be(sum: u16) -> u16 {
    // The native sum of big-endian data is the byte-swapped network sum on
    // little-endian machines (RFC 1071 §2(B)).
    u16::from_be(sum)
}

/// Native-order 8-byte word at `at` (the caller keeps `at + 8 <= b.len()`).
#[inline(always)]
fn word64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        w.copy_from_slice(s);
    }
    u64::from_ne_bytes(w)
}

/// Folds a 128-bit accumulator of 64-bit words to 64 bits with end-around carry.
#[inline]
fn fold128(acc: u128) -> u64 {
    let (s, carry) = (acc as u64).overflowing_add((acc >> 64) as u64);
    // With a carry out, `s` is at most 2^64 - 2, so adding it back cannot wrap.
    s + u64::from(carry)
}

/// Sum of fewer than 8 trailing bytes as native-order 16-bit words, an odd
/// last byte zero padded (RFC 1071 §4.1). The same value, once folded, as
/// the zero-padded 64-bit word, without copying the bytes to a buffer first
/// (a variable-length copy is a libc call, and a wide load of its narrow
/// stores stalls).
#[inline]
fn tail_sum(tail: &[u8]) -> u64 {
    let mut sum = 0u64;
    let mut pairs = tail.chunks_exact(2);
    for p in &mut pairs {
        if let [a, b] = *p {
            sum += u64::from(u16::from_ne_bytes([a, b]));
        }
    }
    if let [x] = *pairs.remainder() {
        sum += u64::from(u16::from_ne_bytes([x, 0]));
    }
    sum
}

/// Inputs up to this many bytes (IP and TCP headers) take [`sum_short`].
const SHORT: usize = 64;

/// Sum of a short input (a 20-byte IPv4 or 32-byte TCP header) as
/// native-order 64-bit words with add-with-carry into a `u128` (two
/// instructions per 8 bytes, no vector setup), then at most one 32-bit word
/// and the 16-bit tail, so a header costs a few instructions, not a loop.
#[inline]
fn sum_short(data: &[u8]) -> u64 {
    let mut acc = 0u128;
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        acc += u128::from(word64(w, 0));
    }
    let rest = words.remainder();
    // Every piece starts at an even offset, so the 16-bit words line up.
    let (quad, tail) = rest.split_at(if rest.len() >= 4 { 4 } else { 0 });
    let mut t = tail_sum(tail);
    if let [a, b, c, d] = *quad {
        t += u64::from(u32::from_ne_bytes([a, b, c, d]));
    }
    add_end_around(fold128(acc), t)
}

/// Sums `data` as native-order 64-bit words into two 128-bit accumulators
/// (add + add-with-carry per word, two independent chains), returned folded
/// to a native-order 64-bit ones'-complement sum. A tail of fewer than 8
/// bytes is zero padded at the end. No block limit: a 128-bit accumulator of
/// 64-bit words cannot overflow for any slice length.
#[inline]
fn sum64(data: &[u8]) -> u64 {
    let (mut a, mut b) = (0u128, 0u128);
    let mut chunks = data.chunks_exact(32);
    for c in &mut chunks {
        a += u128::from(word64(c, 0));
        b += u128::from(word64(c, 8));
        a += u128::from(word64(c, 16));
        b += u128::from(word64(c, 24));
    }
    let rest = chunks.remainder();
    let mut words = rest.chunks_exact(8);
    for w in &mut words {
        a += u128::from(word64(w, 0));
    }
    b += u128::from(tail_sum(words.remainder()));
    let (s, carry) = fold128(a).overflowing_add(fold128(b));
    s.wrapping_add(u64::from(carry))
}

/// Sum of a fixed-size header: the length is a constant, so the words are
/// summed without a loop (a 20-byte IPv4 header: two 64-bit words and one
/// 32-bit word).
#[inline(always)]
fn sum_fixed<const N: usize>(data: &[u8; N]) -> u64 {
    sum_short(data)
}

/// RFC 1071 §4.1: ones'-complement sum of `data` added to `initial`; the
/// result is folded to 16 bits (not complemented). Inline for the headers
/// summed once per packet (IPv4 20 bytes, TCP with timestamps 32 bytes);
/// other lengths go out of line.
#[inline]
pub fn ones_complement_sum(data: &[u8], initial: u32) -> u32 {
    let acc = if let Ok(h) = <&[u8; 20]>::try_from(data) {
        sum_fixed(h)
    } else if let Ok(h) = <&[u8; 32]>::try_from(data) {
        sum_fixed(h)
    } else if data.is_empty() {
        // The payload of a segment without data (SYN, SYN-ACK, ACK, FIN):
        // no call out of line for nothing.
        0
    } else {
        sum_any(data)
    };
    finish_sum(acc, initial)
}

/// [`ones_complement_sum`] of a header whose length is a constant (e.g.
/// the 40-byte TCP header of a SYN with options): summed inline without a
/// loop at any length, where `ones_complement_sum` inlines only 20 and 32.
#[inline(always)]
pub fn ones_complement_sum_fixed<const N: usize>(data: &[u8; N], initial: u32) -> u32 {
    finish_sum(sum_fixed(data), initial)
}

/// `acc` plus `initial`, folded to a network-order 16-bit sum.
#[inline(always)]
fn finish_sum(acc: u64, initial: u32) -> u32 {
    u32::from(native_to_be(fold64(add_end_around(
        acc,
        native_initial(initial),
    ))))
}

#[inline(never)]
fn sum_any(data: &[u8]) -> u64 {
    if data.len() <= SHORT {
        sum_short(data)
    } else {
        sum64(data)
    }
}

/// Ones'-complement addition of two 64-bit native-order sums (RFC 1071
/// §2(C)): with a carry out the sum is at most 2^64 - 2, so feeding the
/// carry back cannot carry again.
#[inline]
fn add_end_around(a: u64, b: u64) -> u64 {
    let (s, carry) = a.overflowing_add(b);
    s.wrapping_add(u64::from(carry))
}

/// `initial` (network order, possibly unfolded) as a native-order term of
/// the accumulator, so the whole sum is folded once.
#[inline]
fn native_initial(initial: u32) -> u64 {
    // The inverse of `native_to_be`: a 16-bit byte swap on little-endian.
    u64::from(fold(initial).to_be())
}

/// RFC 1071 §4.1 / RFC 9293 §3.1: a received segment is intact when the
/// folded sum over pseudo-header, header and data (checksum field included)
/// is all ones.
#[inline]
pub fn verifies(sum: u32) -> bool {
    fold(sum) == 0xffff
}

/// RFC 1071 §4.1: folds carries of a 32-bit sum into 16 bits (no complement).
#[inline]
pub fn fold(sum: u32) -> u16 {
    let (s, c) = (sum as u16).overflowing_add((sum >> 16) as u16);
    s.wrapping_add(u16::from(c))
}

/// RFC 1071 §4.1: the checksum field value, the complement of the folded sum.
#[inline]
pub fn finish(sum: u32) -> u16 {
    !fold(sum)
}

/// RFC 9293 §3.1: sum of the IPv4 pseudo-header (src, dst, zero, protocol, length).
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u32) -> u32 {
    let s = src.octets();
    let d = dst.octets();
    let acc = u32::from(u16::from_be_bytes([s[0], s[1]]))
        + u32::from(u16::from_be_bytes([s[2], s[3]]))
        + u32::from(u16::from_be_bytes([d[0], d[1]]))
        + u32::from(u16::from_be_bytes([d[2], d[3]]))
        + u32::from(proto)
        + (len >> 16)
        + (len & 0xffff);
    u32::from(fold(acc))
}

/// RFC 8200 §8.1: sum of the IPv6 pseudo-header (src, dst, length, next header).
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, proto: u8, len: u32) -> u32 {
    let mut acc = 0u32;
    for seg in src.segments().iter().chain(dst.segments().iter()) {
        acc += u32::from(*seg);
    }
    acc += (len >> 16) + (len & 0xffff) + u32::from(proto);
    u32::from(fold(acc))
}

/// RFC 1071 §4.1 fused with a copy: copies `src` into the front of `dst` and
/// returns the folded sum of the copied bytes added to `initial`. If `dst` is
/// shorter than `src`, only `dst.len()` bytes are copied and summed. Each
/// 32-byte block is summed from the source while it is copied, as 64-bit
/// words into two 128-bit accumulators (see [`sum64`]).
pub fn copy_with_checksum(dst: &mut [u8], src: &[u8], initial: u32) -> u32 {
    let n = dst.len().min(src.len());
    let (dst, src) = match (dst.get_mut(..n), src.get(..n)) {
        // Nothing to copy (ACKs): no accumulators to set up and fold.
        (Some(d), Some(s)) if n > 0 => (d, s),
        _ => return u32::from(fold(initial)),
    };
    let (mut a, mut b) = (0u128, 0u128);
    let mut dc = dst.chunks_exact_mut(32);
    let mut sc = src.chunks_exact(32);
    for (d, s) in (&mut dc).zip(&mut sc) {
        d.copy_from_slice(s);
        a += u128::from(word64(s, 0));
        b += u128::from(word64(s, 8));
        a += u128::from(word64(s, 16));
        b += u128::from(word64(s, 24));
    }
    let (dr, sr) = (dc.into_remainder(), sc.remainder());
    dr.copy_from_slice(sr);
    let (s, carry) = fold128(a).overflowing_add(fold128(b));
    let head = s.wrapping_add(u64::from(carry));
    // The remainder (< 32 bytes) starts at a multiple of 32, so it chains on.
    let (s, carry) = head.overflowing_add(sum64(sr));
    let acc = add_end_around(s.wrapping_add(u64::from(carry)), native_initial(initial));
    u32::from(native_to_be(fold64(acc)))
}

/// Adds `part`, the sum of bytes that start at an odd offset of the summed
/// data, to `sum` (RFC 1071 §2(B): such a sum is byte-swapped).
pub fn add_at_offset(sum: u32, part: u32, odd: bool) -> u32 {
    let folded = fold(part);
    let folded = if odd { folded.swap_bytes() } else { folded };
    u32::from(fold(sum + u32::from(folded)))
}

/// RFC 1624 §3 (eqn. 3): HC' = ~(~HC + ~m + m') after a 16-bit field changes
/// from `old` to `new`.
pub fn update_u16(old_checksum: u16, old: u16, new: u16) -> u16 {
    let sum = u32::from(!old_checksum) + u32::from(!old) + u32::from(new);
    !fold(sum)
}

/// The checksum field value of `data` alone (e.g. an IPv4 header).
pub fn checksum(data: &[u8]) -> u16 {
    finish(ones_complement_sum(data, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 §4.1 reference: 16-bit big-endian words, one at a time.
    fn naive(data: &[u8], initial: u32) -> u16 {
        let mut acc = u64::from(initial);
        let mut it = data.chunks(2);
        for w in &mut it {
            let hi = u64::from(w[0]) << 8;
            let lo = w.get(1).map_or(0, |b| u64::from(*b));
            acc += hi | lo;
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    fn bytes(n: usize, seed: u32) -> alloc::vec::Vec<u8> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(ones_complement_sum(&d, 0)), 0xddf2);
        assert_eq!(finish(ones_complement_sum(&d, 0)), !0xddf2);
    }

    #[test]
    fn matches_naive_for_all_lengths() {
        for n in 0..300 {
            let d = bytes(n, n as u32);
            for init in [0u32, 1, 0xffff, 0x1_2345, u32::MAX] {
                assert_eq!(
                    fold(ones_complement_sum(&d, init)),
                    naive(&d, init),
                    "n={n}"
                );
            }
        }
        let big = bytes(70_000, 7);
        assert_eq!(fold(ones_complement_sum(&big, 0)), naive(&big, 0));
        let ones = alloc::vec![0xffu8; 5000];
        assert_eq!(fold(ones_complement_sum(&ones, 0)), naive(&ones, 0));
    }

    /// The constant-length sum equals the slice sum (and the naive one).
    #[test]
    fn fixed_length_sum_matches_the_slice_sum() {
        fn check<const N: usize>(seed: u32) {
            let d = bytes(N, seed);
            let mut a = [0u8; N];
            a.copy_from_slice(&d);
            for init in [0u32, 1, 0xffff, 0x1_2345, u32::MAX] {
                let s = ones_complement_sum_fixed(&a, init);
                assert_eq!(s, ones_complement_sum(&d, init), "N={N}");
                assert_eq!(fold(s), naive(&d, init), "N={N}");
            }
        }
        for seed in 0..50 {
            check::<20>(seed);
            check::<32>(seed);
            check::<40>(seed);
            check::<44>(seed);
            check::<60>(seed);
        }
        check::<40>(0xffff_ffff);
    }

    #[test]
    fn copy_with_checksum_copies_and_sums() {
        for n in [0usize, 1, 2, 3, 31, 32, 33, 63, 64, 1460, 1461, 9000] {
            let src = bytes(n, 99 + n as u32);
            let mut dst = alloc::vec![0u8; n + 5];
            let s = copy_with_checksum(&mut dst, &src, 0x1234);
            assert_eq!(&dst[..n], &src[..]);
            assert_eq!(&dst[n..], &[0u8; 5]);
            assert_eq!(fold(s), naive(&src, 0x1234), "n={n}");
        }
        let src = bytes(10, 1);
        let mut short = [0u8; 4];
        let s = copy_with_checksum(&mut short, &src, 0);
        assert_eq!(short, src[..4]);
        assert_eq!(fold(s), naive(&src[..4], 0));
    }

    #[test]
    fn copy_with_checksum_matches_naive_for_all_lengths_and_carries() {
        let mut inputs: alloc::vec::Vec<alloc::vec::Vec<u8>> =
            (0..300).map(|n| bytes(n, 7 * n as u32)).collect();
        // All ones: every 64-bit add carries, so end-around carries are exercised.
        inputs.push(alloc::vec![0xffu8; 5000]);
        inputs.push(alloc::vec![0xffu8; 70_001]);
        inputs.push(bytes(70_000, 11));
        for src in &inputs {
            let mut dst = alloc::vec![0u8; src.len()];
            for init in [0u32, 0xffff, u32::MAX] {
                let s = copy_with_checksum(&mut dst, src, init);
                assert_eq!(&dst, src);
                assert_eq!(fold(s), naive(src, init), "n={}", src.len());
                assert_eq!(fold(ones_complement_sum(src, init)), naive(src, init));
            }
        }
    }

    #[test]
    fn a_segment_with_its_checksum_verifies_and_a_flipped_bit_does_not() {
        let mut seg = bytes(1001, 5);
        seg[16] = 0;
        seg[17] = 0;
        let c = checksum(&seg);
        seg[16..18].copy_from_slice(&c.to_be_bytes());
        assert!(verifies(ones_complement_sum(&seg, 0)));
        seg[500] ^= 0x10;
        assert!(!verifies(ones_complement_sum(&seg, 0)));
    }

    #[test]
    fn odd_offset_parts_combine_to_the_whole_sum() {
        let d = bytes(999, 9);
        for cut in [0usize, 1, 2, 333, 998, 999] {
            let (a, b) = d.split_at(cut);
            let sum = add_at_offset(
                ones_complement_sum(a, 0x4321),
                ones_complement_sum(b, 0),
                cut % 2 == 1,
            );
            assert_eq!(fold(sum), naive(&d, 0x4321), "cut={cut}");
        }
    }

    #[test]
    fn chaining_even_pieces_equals_whole() {
        let d = bytes(1000, 3);
        let a = ones_complement_sum(&d[..400], 0);
        let b = ones_complement_sum(&d[400..], a);
        assert_eq!(fold(b), fold(ones_complement_sum(&d, 0)));
    }

    #[test]
    fn incremental_update_matches_recompute() {
        let mut d = bytes(40, 5);
        let before = checksum(&d);
        let old = u16::from_be_bytes([d[8], d[9]]);
        for new in [0u16, 1, old.wrapping_add(1), 0xffff, 0x8000] {
            d[8..10].copy_from_slice(&new.to_be_bytes());
            let expect = checksum(&d);
            let got = update_u16(before, old, new);
            // RFC 1624 §3: both 0x0000 and 0xffff encode zero sums.
            assert!(got == expect || (got ^ expect == 0xffff && (got == 0 || expect == 0)));
        }
    }

    #[test]
    fn pseudo_headers_match_byte_layout() {
        let s = Ipv4Addr::new(192, 0, 2, 1);
        let d = Ipv4Addr::new(203, 0, 113, 255);
        let mut ph = [0u8; 12];
        ph[..4].copy_from_slice(&s.octets());
        ph[4..8].copy_from_slice(&d.octets());
        ph[9] = 6;
        ph[10..].copy_from_slice(&1234u16.to_be_bytes());
        assert_eq!(fold(pseudo_header_v4(s, d, 6, 1234)), naive(&ph, 0));

        let s6: Ipv6Addr = "2001:db8::1".parse().expect("addr");
        let d6: Ipv6Addr = "2001:db8:ffff::ffff:1".parse().expect("addr");
        let mut ph6 = [0u8; 40];
        ph6[..16].copy_from_slice(&s6.octets());
        ph6[16..32].copy_from_slice(&d6.octets());
        ph6[32..36].copy_from_slice(&70_000u32.to_be_bytes());
        ph6[39] = 58;
        assert_eq!(fold(pseudo_header_v6(&s6, &d6, 58, 70_000)), naive(&ph6, 0));
    }
}
