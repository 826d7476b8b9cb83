//! Minimal private stand-in for the `tcp-parts` receive buffer, with the DESIGN.md interfaces, used only until
//! that branch is merged. Deliberately simple: in-order receive only.

#![allow(dead_code)]

use alloc::collections::VecDeque;

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
