//! IPv4 (RFC 791 §3.2) and IPv6 (RFC 8200 §4.5) fragment reassembly with
//! bounded memory: at most `max_datagrams` in progress and `max_bytes` of
//! buffers (the oldest reassembly is evicted to make room), each abandoned
//! after its timeout. Overlapping fragments abandon the datagram (RFC 5722;
//! applied to IPv4 too, where RFC 791 would let later data overwrite);
//! exact duplicates are ignored (RFC 8200 §4.5 allows it).

use alloc::vec::Vec;

use crate::time::{Duration, Instant};

/// Identifies one datagram being reassembled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragKey {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    /// IPv4 identification (16 bits) or IPv6 fragment identification (32 bits).
    pub id: u32,
    /// IPv4: the protocol (part of the key, RFC 791); IPv6: 0.
    pub proto: u8,
    pub v6: bool,
}

/// Holes tracked per datagram; a datagram needing more is abandoned.
const MAX_RANGES: usize = 16;
/// Largest reassembled payload (IPv4 total length / IPv6 payload length are 16 bits).
const MAX_DATAGRAM: usize = 65535;

#[derive(Debug)]
struct Datagram {
    key: FragKey,
    deadline: Instant,
    data: Vec<u8>,
    ranges: [(u32, u32); MAX_RANGES],
    nranges: usize,
    /// Payload length, known once the last fragment (MF = 0) arrived.
    total: Option<u32>,
    /// Upper-layer protocol (IPv6: from the fragment header's next header).
    proto: u8,
}

/// What happened to a fragment.
#[derive(Debug, PartialEq, Eq)]
pub enum FragOutcome {
    /// Stored; the datagram is not complete yet.
    Stored,
    /// The datagram is complete: (upper-layer protocol, payload).
    Complete(u8, Vec<u8>),
    /// Dropped (overlap, bad geometry, too many holes, too big).
    Dropped,
}

#[derive(Debug)]
pub struct Reassembler {
    list: Vec<Datagram>,
    bytes: usize,
    max_datagrams: usize,
    max_bytes: usize,
    timeout: Duration,
    /// Datagrams abandoned on timeout (counter).
    pub timed_out: u64,
    /// Datagrams evicted (or refused) to stay within the caps (counter).
    pub evicted: u64,
}

impl Reassembler {
    pub fn new(max_datagrams: usize, max_bytes: usize, timeout: Duration) -> Self {
        Reassembler {
            list: Vec::new(),
            bytes: 0,
            max_datagrams,
            max_bytes,
            timeout,
            timed_out: 0,
            evicted: 0,
        }
    }

    /// Bytes held in reassembly buffers.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Datagrams in progress.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The earliest reassembly deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.list.iter().map(|d| d.deadline).min()
    }

    /// RFC 791 §3.2 / RFC 8200 §4.5: abandon reassemblies whose timer ran out.
    pub fn expire(&mut self, now: Instant) {
        let before = self.list.len();
        let mut freed = 0;
        self.list.retain(|d| {
            let keep = d.deadline > now;
            if !keep {
                freed += d.data.capacity();
            }
            keep
        });
        self.bytes -= freed;
        self.timed_out += (before - self.list.len()) as u64;
    }

    fn remove_at(&mut self, i: usize) -> Option<Datagram> {
        if i >= self.list.len() {
            return None;
        }
        let d = self.list.remove(i);
        self.bytes -= d.data.capacity();
        Some(d)
    }

    /// A cap (datagrams or bytes) forces a reassembly out: drop it and count it.
    fn evict_at(&mut self, i: usize) {
        if self.remove_at(i).is_some() {
            self.evicted += 1;
        }
    }

    /// Adds one fragment: `offset` in bytes, `more` the MF flag, `proto` the upper layer.
    pub fn insert(
        &mut self,
        now: Instant,
        key: FragKey,
        offset: usize,
        more: bool,
        proto: u8,
        payload: &[u8],
    ) -> FragOutcome {
        let end = offset.saturating_add(payload.len());
        // RFC 8200 §4.5: non-last fragments are multiples of 8 bytes; nothing past 65535.
        if end > MAX_DATAGRAM || (more && payload.len() % 8 != 0) || (more && payload.is_empty()) {
            if let Some(i) = self.list.iter().position(|d| d.key == key) {
                self.remove_at(i);
            }
            return FragOutcome::Dropped;
        }
        let i = match self.list.iter().position(|d| d.key == key) {
            Some(i) => i,
            None => {
                if self.list.len() >= self.max_datagrams {
                    self.evict_at(0);
                }
                self.list.push(Datagram {
                    key,
                    deadline: now + self.timeout,
                    data: Vec::new(),
                    ranges: [(0, 0); MAX_RANGES],
                    nranges: 0,
                    total: None,
                    proto,
                });
                self.list.len() - 1
            }
        };
        let (off, end) = (offset as u32, end as u32);
        let verdict = match self.list.get(i) {
            Some(d) => Self::check_fragment(d, off, end, more, payload),
            None => return FragOutcome::Dropped,
        };
        match verdict {
            Verdict::Duplicate => return FragOutcome::Stored,
            Verdict::Abandon => {
                self.remove_at(i);
                return FragOutcome::Dropped;
            }
            Verdict::Accept => {}
        }
        // Make room: grow the buffer, evicting the oldest other reassemblies if over the cap.
        let need = end as usize;
        let grow = need.saturating_sub(self.list.get(i).map_or(0, |d| d.data.len()));
        let mut i = i;
        while self.bytes + grow > self.max_bytes {
            if i == 0 || self.list.is_empty() {
                self.evict_at(i);
                return FragOutcome::Dropped;
            }
            self.evict_at(0);
            i -= 1;
        }
        let Some(d) = self.list.get_mut(i) else {
            return FragOutcome::Dropped;
        };
        let old_cap = d.data.capacity();
        if d.data.len() < need {
            d.data.resize(need, 0);
        }
        let new_cap = d.data.capacity();
        if let Some(dst) = d.data.get_mut(offset..need) {
            dst.copy_from_slice(payload);
        }
        if !more {
            d.total = Some(end);
        }
        if offset == 0 {
            d.proto = proto;
        }
        Self::add_range(d, off, end);
        self.bytes = self.bytes + new_cap - old_cap;
        let complete = d
            .total
            .is_some_and(|t| d.nranges == 1 && d.ranges[0] == (0, t));
        if complete {
            if let Some(mut d) = self.remove_at(i) {
                let total = d.total.unwrap_or(0) as usize;
                d.data.truncate(total);
                return FragOutcome::Complete(d.proto, d.data);
            }
        }
        FragOutcome::Stored
    }

    /// RFC 5722 / RFC 8200 §4.5: overlaps abandon the datagram; exact duplicates are ignored.
    fn check_fragment(d: &Datagram, off: u32, end: u32, more: bool, payload: &[u8]) -> Verdict {
        if let Some(t) = d.total {
            // Data past the end, or a second "last" fragment with another length.
            if end > t || (!more && end != t) {
                return Verdict::Abandon;
            }
        } else if !more && d.ranges[..d.nranges].iter().any(|r| r.1 > end) {
            return Verdict::Abandon;
        }
        for r in &d.ranges[..d.nranges] {
            if off < r.1 && r.0 < end {
                // Fully inside received data with identical bytes: a network duplicate.
                let inside = off >= r.0 && end <= r.1;
                let same = inside && d.data.get(off as usize..end as usize) == Some(payload);
                return if same {
                    Verdict::Duplicate
                } else {
                    Verdict::Abandon
                };
            }
        }
        if d.nranges >= MAX_RANGES
            && !d.ranges[..d.nranges]
                .iter()
                .any(|r| r.1 == off || r.0 == end)
        {
            return Verdict::Abandon;
        }
        Verdict::Accept
    }

    /// Inserts [off, end) into the sorted, merged range list (no overlap by now).
    fn add_range(d: &mut Datagram, off: u32, end: u32) {
        let n = d.nranges;
        let pos = d.ranges[..n].iter().position(|r| r.0 > off).unwrap_or(n);
        let merge_prev = pos > 0 && d.ranges[pos - 1].1 == off;
        let merge_next = pos < n && d.ranges[pos].0 == end;
        match (merge_prev, merge_next) {
            (true, true) => {
                d.ranges[pos - 1].1 = d.ranges[pos].1;
                d.ranges.copy_within(pos + 1..n, pos);
                d.nranges -= 1;
            }
            (true, false) => d.ranges[pos - 1].1 = end,
            (false, true) => d.ranges[pos].0 = off,
            (false, false) => {
                if n < MAX_RANGES {
                    d.ranges.copy_within(pos..n, pos + 1);
                    d.ranges[pos] = (off, end);
                    d.nranges += 1;
                }
            }
        }
    }
}

enum Verdict {
    Accept,
    Duplicate,
    Abandon,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u32) -> FragKey {
        FragKey {
            src: [1; 16],
            dst: [2; 16],
            id,
            proto: 17,
            v6: false,
        }
    }

    fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + 3) as u8).collect()
    }

    fn r() -> Reassembler {
        Reassembler::new(8, 200_000, Duration::from_secs(30))
    }

    #[test]
    fn out_of_order_fragments_reassemble_exactly() {
        let mut r = r();
        let data = payload(3000);
        let t = Instant::ZERO;
        assert_eq!(
            r.insert(t, key(1), 2400, false, 17, &data[2400..]),
            FragOutcome::Stored
        );
        assert_eq!(
            r.insert(t, key(1), 0, true, 17, &data[..1200]),
            FragOutcome::Stored
        );
        assert_eq!(
            r.insert(t, key(1), 0, true, 17, &data[..1200]),
            FragOutcome::Stored,
            "exact duplicate"
        );
        match r.insert(t, key(1), 1200, true, 17, &data[1200..2400]) {
            FragOutcome::Complete(p, out) => {
                assert_eq!(p, 17);
                assert_eq!(out, data);
            }
            other => panic!("expected completion, got {other:?}"),
        }
        assert!(r.is_empty());
        assert_eq!(r.bytes(), 0);
    }

    #[test]
    fn overlapping_fragment_abandons_the_datagram() {
        let mut r = r();
        let data = payload(2000);
        let t = Instant::ZERO;
        r.insert(t, key(2), 0, true, 17, &data[..1000]);
        assert_eq!(
            r.insert(t, key(2), 992, true, 17, &data[992..1496]),
            FragOutcome::Dropped
        );
        assert!(
            r.is_empty(),
            "all fragments of the datagram discarded (RFC 5722)"
        );
        // The rest alone does not complete anything.
        assert_eq!(
            r.insert(t, key(2), 1000, false, 17, &data[1000..]),
            FragOutcome::Stored
        );
    }

    #[test]
    fn reassembly_times_out_and_memory_is_capped() {
        let mut r = Reassembler::new(4, 4000, Duration::from_secs(30));
        let data = payload(1600);
        r.insert(Instant::ZERO, key(3), 0, true, 17, &data[..800]);
        assert_eq!(r.next_deadline(), Some(Instant::from_millis(30_000)));
        r.expire(Instant::from_millis(29_999));
        assert_eq!(r.len(), 1);
        r.expire(Instant::from_millis(30_000));
        assert!(r.is_empty());
        assert_eq!(r.timed_out, 1);
        for id in 10..20 {
            r.insert(Instant::ZERO, key(id), 0, true, 17, &data[..800]);
            assert!(r.len() <= 4);
            assert!(r.bytes() <= 4000, "bytes {} over cap", r.bytes());
        }
    }

    #[test]
    fn bad_geometry_is_dropped() {
        let mut r = r();
        let data = payload(100);
        assert_eq!(
            r.insert(Instant::ZERO, key(4), 0, true, 17, &data[..13]),
            FragOutcome::Dropped
        );
        assert_eq!(
            r.insert(Instant::ZERO, key(4), 65530, false, 17, &data[..10]),
            FragOutcome::Dropped
        );
        r.insert(Instant::ZERO, key(5), 0, true, 17, &data[..16]);
        assert_eq!(
            r.insert(Instant::ZERO, key(5), 8, false, 17, &data[..8]),
            FragOutcome::Dropped,
            "last inside received data"
        );
    }
}
