//! Minimal private stand-ins for the `tcp-parts` send and receive buffers, with the DESIGN.md interfaces, used only until
//! that branch is merged. Deliberately simple: in-order receive only.

#![allow(dead_code)]

use alloc::collections::VecDeque;

/// Send ring stand-in: bytes from the first unacknowledged offset on.
#[derive(Debug)]
pub struct SendBuffer {
    buf: VecDeque<u8>,
    start: u64,
    limit: usize,
}

impl SendBuffer {
    pub fn new(limit: usize) -> Self {
        SendBuffer {
            buf: VecDeque::new(),
            start: 0,
            limit,
        }
    }
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.limit.saturating_sub(self.buf.len()));
        self.buf.extend(data.iter().take(n));
        n
    }
    pub fn slices(&self, offset: u64, len: usize) -> (&[u8], &[u8]) {
        let rel = usize::try_from(offset.saturating_sub(self.start)).unwrap_or(usize::MAX);
        let (a, b) = self.buf.as_slices();
        let rel = rel.min(self.buf.len());
        let len = len.min(self.buf.len() - rel);
        if rel >= a.len() {
            let s = rel - a.len();
            (b.get(s..s + len).unwrap_or(&[]), &[])
        } else {
            let first = (a.len() - rel).min(len);
            (
                a.get(rel..rel + first).unwrap_or(&[]),
                b.get(..len - first).unwrap_or(&[]),
            )
        }
    }
    pub fn release_to(&mut self, offset: u64) {
        let n = usize::try_from(offset.saturating_sub(self.start))
            .unwrap_or(usize::MAX)
            .min(self.buf.len());
        self.buf.drain(..n);
        self.start += n as u64;
    }
    pub fn start_offset(&self) -> u64 {
        self.start
    }
    pub fn end_offset(&self) -> u64 {
        self.start + self.buf.len() as u64
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub fn free(&self) -> usize {
        self.limit.saturating_sub(self.buf.len())
    }
    pub fn limit(&self) -> usize {
        self.limit
    }
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }
    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }
    pub fn release_if_empty(&mut self) {
        if self.buf.is_empty() {
            self.buf = VecDeque::new();
        }
    }
}

/// Receive buffer stand-in: keeps in-order bytes only (out-of-order is dropped).
#[derive(Debug)]
pub struct RecvBuffer {
    buf: VecDeque<u8>,
    next: u64,
    limit: usize,
}

impl RecvBuffer {
    pub fn new(limit: usize) -> Self {
        RecvBuffer {
            buf: VecDeque::new(),
            next: 0,
            limit,
        }
    }
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }
    pub fn limit(&self) -> usize {
        self.limit
    }
    pub fn next_offset(&self) -> u64 {
        self.next
    }
    pub fn readable(&self) -> usize {
        self.buf.len()
    }
    pub fn window(&self) -> usize {
        self.limit.saturating_sub(self.buf.len())
    }
    pub fn write(&mut self, offset: u64, data: &[u8]) -> usize {
        if offset > self.next {
            return 0;
        }
        let skip = usize::try_from(self.next - offset).unwrap_or(usize::MAX);
        let rest = data.get(skip..).unwrap_or(&[]);
        let n = rest.len().min(self.window());
        self.buf.extend(rest.iter().take(n));
        self.next += n as u64;
        n
    }
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.buf.len());
        for (o, b) in out.iter_mut().zip(self.buf.drain(..n)) {
            *o = b;
        }
        n
    }
    pub fn has_out_of_order(&self) -> bool {
        false
    }
    pub fn sack_ranges(&self, _out: &mut [(u64, u64); 4]) -> usize {
        0
    }
    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }
    pub fn release_if_empty(&mut self) {
        if self.buf.is_empty() {
            self.buf = VecDeque::new();
        }
    }
}
