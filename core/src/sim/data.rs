//! Deterministic test data and its checker: byte `i` of stream `seed` is a
//! pure function of (seed, i), so a receiver verifies every byte it gets at
//! its offset: delivered once, in order, intact.

use super::link::{fnv1a, FNV_OFFSET};
use super::rng::splitmix64;

/// Fills `buf` with the stream bytes starting at `offset`.
pub fn pattern_fill(seed: u64, offset: u64, buf: &mut [u8]) {
    let mut pos = offset;
    let mut i = 0;
    while i < buf.len() {
        let word = splitmix64(seed ^ (pos / 8).wrapping_mul(0xA24B_AED4_963E_E407)).to_le_bytes();
        let start = (pos % 8) as usize;
        for b in word.iter().skip(start) {
            let Some(slot) = buf.get_mut(i) else { return };
            *slot = *b;
            i += 1;
            pos += 1;
        }
    }
}

/// What an application does over one connection: send `tx_bytes` of stream
/// `tx_seed`, expect `rx_bytes` of stream `rx_seed`, half-close after sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub tx_bytes: u64,
    pub tx_seed: u64,
    pub rx_bytes: u64,
    pub rx_seed: u64,
}

impl Transfer {
    /// The same transfer seen from the other side.
    pub fn mirrored(&self) -> Transfer {
        Transfer {
            tx_bytes: self.rx_bytes,
            tx_seed: self.rx_seed,
            rx_bytes: self.tx_bytes,
            rx_seed: self.tx_seed,
        }
    }
}

/// The sending side of a checked stream of `total` bytes.
#[derive(Clone, Debug)]
pub struct PatternSource {
    seed: u64,
    total: u64,
    sent: u64,
    hash: u64,
}

impl PatternSource {
    pub fn new(seed: u64, total: u64) -> Self {
        PatternSource {
            seed,
            total,
            sent: 0,
            hash: FNV_OFFSET,
        }
    }
    pub fn total(&self) -> u64 {
        self.total
    }
    pub fn sent(&self) -> u64 {
        self.sent
    }
    pub fn is_done(&self) -> bool {
        self.sent >= self.total
    }
    /// Hash of the bytes handed over so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }
    /// Writes the next unsent bytes into `buf` (at most `buf.len()`) and
    /// returns them; call [`PatternSource::consume`] with what was accepted.
    pub fn peek<'b>(&self, buf: &'b mut [u8]) -> &'b [u8] {
        let n = (self.total - self.sent).min(buf.len() as u64) as usize;
        let out = buf.get_mut(..n).unwrap_or_default();
        pattern_fill(self.seed, self.sent, out);
        out
    }
    /// Marks the first `n` bytes of the last peek as sent.
    pub fn consume(&mut self, peeked: &[u8], n: usize) {
        let accepted = peeked.get(..n).unwrap_or(peeked);
        self.hash = fnv1a(self.hash, accepted);
        self.sent += accepted.len() as u64;
    }
}

/// The receiving side: checks every byte at its offset.
#[derive(Clone, Debug)]
pub struct PatternSink {
    seed: u64,
    expected: u64,
    received: u64,
    hash: u64,
    first_error: Option<u64>,
    scratch: [u8; 256],
}

impl PatternSink {
    pub fn new(seed: u64, expected: u64) -> Self {
        PatternSink {
            seed,
            expected,
            received: 0,
            hash: FNV_OFFSET,
            first_error: None,
            scratch: [0; 256],
        }
    }
    pub fn received(&self) -> u64 {
        self.received
    }
    pub fn expected(&self) -> u64 {
        self.expected
    }
    pub fn hash(&self) -> u64 {
        self.hash
    }
    /// Offset of the first wrong byte (or of the first byte past `expected`).
    pub fn first_error(&self) -> Option<u64> {
        self.first_error
    }
    /// All expected bytes arrived, none wrong, none extra.
    pub fn is_complete(&self) -> bool {
        self.first_error.is_none() && self.received == self.expected
    }
    /// Checks the next received bytes.
    pub fn absorb(&mut self, data: &[u8]) {
        self.hash = fnv1a(self.hash, data);
        for chunk in data.chunks(self.scratch.len()) {
            if self.first_error.is_none() {
                if self.received + chunk.len() as u64 > self.expected {
                    self.first_error = Some(self.received.max(self.expected));
                } else {
                    let want = self.scratch.get_mut(..chunk.len()).unwrap_or_default();
                    pattern_fill(self.seed, self.received, want);
                    if want != chunk {
                        let idx = want
                            .iter()
                            .zip(chunk)
                            .position(|(a, b)| a != b)
                            .unwrap_or(0);
                        self.first_error = Some(self.received + idx as u64);
                    }
                }
            }
            self.received += chunk.len() as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_is_consistent_at_any_offset() {
        let mut whole = [0u8; 100];
        pattern_fill(9, 0, &mut whole);
        let mut part = [0u8; 37];
        pattern_fill(9, 13, &mut part);
        assert_eq!(&whole[13..50], &part[..]);
        let mut other = [0u8; 100];
        pattern_fill(10, 0, &mut other);
        assert_ne!(whole, other);
    }

    #[test]
    fn sink_accepts_the_stream_in_any_chunking_and_flags_errors() {
        let mut src = PatternSource::new(5, 1000);
        let mut sink = PatternSink::new(5, 1000);
        let mut buf = [0u8; 333];
        while !src.is_done() {
            let p = src.peek(&mut buf);
            let n = p.len().min(200);
            sink.absorb(&p[..n]);
            src.consume(p, n);
        }
        assert!(sink.is_complete());
        assert_eq!(sink.hash(), src.hash());

        let mut bad = PatternSink::new(5, 1000);
        let mut data = [0u8; 1000];
        pattern_fill(5, 0, &mut data);
        data[700] ^= 4;
        bad.absorb(&data);
        assert_eq!(bad.first_error(), Some(700));
        assert!(!bad.is_complete());

        let mut extra = PatternSink::new(5, 10);
        extra.absorb(&data[..11]);
        assert_eq!(extra.first_error(), Some(10));
    }
}
