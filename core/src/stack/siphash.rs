//! SipHash (Aumasson & Bernstein): SipHash-2-4, the keyed PRF behind ISNs
//! (RFC 6528), ephemeral ports (RFC 6056) and SYN cookies, and SipHash-1-3
//! over whole words for the per-packet demux hash (still keyed, so no
//! HashDoS; the variant Rust's std `HashMap` uses).

use core::hash::{BuildHasher, Hasher};

/// A streaming SipHash-2-4 state.
#[derive(Clone, Debug)]
pub struct SipHasher24 {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
    tail: u64,
    ntail: usize,
    length: usize,
}

#[inline]
fn sipround(v0: &mut u64, v1: &mut u64, v2: &mut u64, v3: &mut u64) {
    *v0 = v0.wrapping_add(*v1);
    *v1 = v1.rotate_left(13);
    *v1 ^= *v0;
    *v0 = v0.rotate_left(32);
    *v2 = v2.wrapping_add(*v3);
    *v3 = v3.rotate_left(16);
    *v3 ^= *v2;
    *v0 = v0.wrapping_add(*v3);
    *v3 = v3.rotate_left(21);
    *v3 ^= *v0;
    *v2 = v2.wrapping_add(*v1);
    *v1 = v1.rotate_left(17);
    *v1 ^= *v2;
    *v2 = v2.rotate_left(32);
}

impl SipHasher24 {
    /// A hasher keyed with (k0, k1).
    pub const fn new_with_keys(k0: u64, k1: u64) -> Self {
        SipHasher24 {
            v0: k0 ^ 0x736f_6d65_7073_6575,
            v1: k1 ^ 0x646f_7261_6e64_6f6d,
            v2: k0 ^ 0x6c79_6765_6e65_7261,
            v3: k1 ^ 0x7465_6462_7974_6573,
            tail: 0,
            ntail: 0,
            length: 0,
        }
    }

    #[inline]
    fn compress(&mut self, m: u64) {
        self.v3 ^= m;
        sipround(&mut self.v0, &mut self.v1, &mut self.v2, &mut self.v3);
        sipround(&mut self.v0, &mut self.v1, &mut self.v2, &mut self.v3);
        self.v0 ^= m;
    }
}

impl Hasher for SipHasher24 {
    fn write(&mut self, bytes: &[u8]) {
        self.length = self.length.wrapping_add(bytes.len());
        for &b in bytes {
            self.tail |= u64::from(b) << (8 * self.ntail);
            self.ntail += 1;
            if self.ntail == 8 {
                let m = self.tail;
                self.compress(m);
                self.tail = 0;
                self.ntail = 0;
            }
        }
    }

    fn finish(&self) -> u64 {
        let mut s = self.clone();
        let b = ((s.length as u64 & 0xff) << 56) | s.tail;
        s.compress(b);
        s.v2 ^= 0xff;
        for _ in 0..4 {
            sipround(&mut s.v0, &mut s.v1, &mut s.v2, &mut s.v3);
        }
        s.v0 ^ s.v1 ^ s.v2 ^ s.v3
    }
}

/// SipHash-c-d of a message given as little-endian words plus its final word
/// (the 0-7 tail bytes with the message length in the top byte, the paper's
/// padding): no per-byte work, for fixed-size keys.
fn sip_words<const C: usize, const D: usize>(k0: u64, k1: u64, words: &[u64], last: u64) -> u64 {
    let mut v0 = k0 ^ 0x736f_6d65_7073_6575;
    let mut v1 = k1 ^ 0x646f_7261_6e64_6f6d;
    let mut v2 = k0 ^ 0x6c79_6765_6e65_7261;
    let mut v3 = k1 ^ 0x7465_6462_7974_6573;
    for &m in words.iter().chain(core::iter::once(&last)) {
        v3 ^= m;
        for _ in 0..C {
            sipround(&mut v0, &mut v1, &mut v2, &mut v3);
        }
        v0 ^= m;
    }
    v2 ^= 0xff;
    for _ in 0..D {
        sipround(&mut v0, &mut v1, &mut v2, &mut v3);
    }
    v0 ^ v1 ^ v2 ^ v3
}

/// SipHash-1-3 of `words` followed by `last` (see [`sip_words`]).
pub fn siphash13_words(k0: u64, k1: u64, words: &[u64], last: u64) -> u64 {
    sip_words::<1, 3>(k0, k1, words, last)
}

/// SipHash-2-4 of `words` followed by `last` (see [`sip_words`]): the keyed
/// PRF for fixed-size inputs (ISNs, ports) without per-byte work.
pub fn siphash24_words(k0: u64, k1: u64, words: &[u64], last: u64) -> u64 {
    sip_words::<2, 4>(k0, k1, words, last)
}

/// A `BuildHasher` for hashbrown maps: keyed, so peers cannot aim collisions (no HashDoS).
#[derive(Clone, Copy, Debug)]
pub struct SipBuildHasher {
    k0: u64,
    k1: u64,
}

impl SipBuildHasher {
    pub const fn new(k0: u64, k1: u64) -> Self {
        SipBuildHasher { k0, k1 }
    }
}

impl BuildHasher for SipBuildHasher {
    type Hasher = SipHasher24;
    fn build_hasher(&self) -> SipHasher24 {
        SipHasher24::new_with_keys(self.k0, self.k1)
    }
}

/// Two 64-bit keys from 16 bytes of a secret (little endian).
pub fn keys_from(secret: &[u8; 32], which: usize) -> (u64, u64) {
    let mut k = [0u64; 2];
    for (i, kk) in k.iter_mut().enumerate() {
        let mut b = [0u8; 8];
        for (j, bb) in b.iter_mut().enumerate() {
            // 32-byte secret: `which` selects the half; indices stay in range by masking.
            *bb = secret[(which * 16 + i * 8 + j) & 31];
        }
        *kk = u64::from_le_bytes(b);
    }
    (k[0], k[1])
}

/// SipHash-2-4 of `data` under (k0, k1).
pub fn siphash(k0: u64, k1: u64, data: &[u8]) -> u64 {
    let mut h = SipHasher24::new_with_keys(k0, k1);
    h.write(data);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference vectors from the SipHash paper's test program (key 00..0f,
    /// message 00..len-1), first entries of `vectors_sip64`.
    #[test]
    fn matches_reference_vectors() {
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let msg: [u8; 16] = core::array::from_fn(|i| i as u8);
        let expect: [(usize, [u8; 8]); 4] = [
            (0, [0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72]),
            (1, [0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74]),
            (8, [0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93]),
            (15, [0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1]),
        ];
        for (len, out) in expect {
            assert_eq!(
                siphash(k0, k1, &msg[..len]),
                u64::from_le_bytes(out),
                "len {len}"
            );
        }
    }

    /// The word form is SipHash itself: with 2-4 rounds it matches the byte
    /// hasher on the same message (padding included).
    #[test]
    fn word_form_matches_byte_form() {
        let msg: [u8; 36] = core::array::from_fn(|i| (i as u8).wrapping_mul(37));
        let mut words = [0u64; 4];
        for (w, c) in words.iter_mut().zip(msg.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            *w = u64::from_le_bytes(b);
        }
        let tail = u64::from(u32::from_le_bytes([msg[32], msg[33], msg[34], msg[35]]));
        let last = tail | (36u64 << 56);
        assert_eq!(siphash24_words(5, 6, &words, last), siphash(5, 6, &msg));
        // The 1-3 variant differs, and depends on the key and every word.
        let h = siphash13_words(5, 6, &words, last);
        assert_ne!(h, siphash(5, 6, &msg));
        assert_ne!(h, siphash13_words(5, 7, &words, last));
        assert_ne!(h, siphash13_words(5, 6, &words, last ^ 1));
        words[0] ^= 1 << 63;
        assert_ne!(h, siphash13_words(5, 6, &words, last));
    }

    #[test]
    fn split_writes_equal_one_write() {
        let mut a = SipHasher24::new_with_keys(1, 2);
        a.write(b"hello ");
        a.write(b"world, longer than eight");
        assert_eq!(a.finish(), siphash(1, 2, b"hello world, longer than eight"));
        assert_ne!(siphash(1, 2, b"x"), siphash(1, 3, b"x"), "the key matters");
    }
}
