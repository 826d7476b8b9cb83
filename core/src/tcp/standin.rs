//! Minimal private stand-ins for the `tcp-parts` data structures (rtt, cc,
//! send and receive buffers), with the DESIGN.md interfaces, used only until
//! that branch is merged. Deliberately simple: in-order receive only.

#![allow(dead_code)]

use alloc::collections::VecDeque;

use crate::time::{Duration, Instant};

/// RFC 6298 estimator (stand-in).
#[derive(Clone, Debug)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    initial: Duration,
    min: Duration,
    max: Duration,
    shift: u32,
}

impl RttEstimator {
    pub fn new(initial_rto: Duration, min_rto: Duration, max_rto: Duration) -> Self {
        RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            initial: initial_rto,
            min: min_rto,
            max: max_rto,
            shift: 0,
        }
    }
    pub fn on_sample(&mut self, rtt: Duration) {
        let r = rtt.as_micros();
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = Duration::from_micros(r / 2);
            }
            Some(s) => {
                let s = s.as_micros();
                let d = s.abs_diff(r);
                self.rttvar = Duration::from_micros((3 * self.rttvar.as_micros() + d) / 4);
                self.srtt = Some(Duration::from_micros((7 * s + r) / 8));
            }
        }
        self.shift = 0;
    }
    pub fn rto(&self) -> Duration {
        let base = match self.srtt {
            None => self.initial,
            Some(s) => s + Duration::from_micros((4 * self.rttvar.as_micros()).max(1000)),
        };
        let base = base.max(self.min).min(self.max);
        base.saturating_mul(1u64 << self.shift.min(30)).min(self.max)
    }
    pub fn backoff(&mut self) {
        if self.rto() < self.max {
            self.shift = self.shift.saturating_add(1);
        }
    }
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }
}

/// Congestion control algorithm choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Congestion {
    NewReno,
    #[default]
    Cubic,
}

/// The operations the connection needs from congestion control.
pub trait CongestionControl {
    fn on_ack(&mut self, now: Instant, acked_bytes: u32, srtt: Option<Duration>);
    fn on_congestion_event(&mut self, now: Instant, flight_size: u32);
    fn on_retransmission_timeout(&mut self, now: Instant, flight_size: u32);
    fn on_idle_restart(&mut self, now: Instant, rto: Duration);
    fn set_mss(&mut self, mss: u32);
    fn cwnd(&self) -> u32;
    fn ssthresh(&self) -> u32;
    fn set_cwnd(&mut self, cwnd: u32);
}

/// NewReno-only stand-in controller.
#[derive(Clone, Debug)]
pub struct Controller {
    cwnd: u32,
    ssthresh: u32,
    mss: u32,
    iw: u32,
    acc: u32,
}

impl Controller {
    pub fn new(_kind: Congestion, mss: u32, initial_window_segments: u32) -> Self {
        let iw = mss.saturating_mul(initial_window_segments.max(1));
        Controller {
            cwnd: iw,
            ssthresh: u32::MAX,
            mss,
            iw,
            acc: 0,
        }
    }
}

impl CongestionControl for Controller {
    fn on_ack(&mut self, _now: Instant, acked: u32, _srtt: Option<Duration>) {
        if self.cwnd < self.ssthresh {
            self.cwnd = self.cwnd.saturating_add(acked.min(2 * self.mss));
        } else {
            self.acc = self.acc.saturating_add(acked);
            if self.acc >= self.cwnd {
                self.acc -= self.cwnd;
                self.cwnd = self.cwnd.saturating_add(self.mss);
            }
        }
    }
    fn on_congestion_event(&mut self, _now: Instant, flight: u32) {
        self.ssthresh = (flight / 2).max(2 * self.mss);
        self.cwnd = self.ssthresh;
    }
    fn on_retransmission_timeout(&mut self, _now: Instant, flight: u32) {
        self.ssthresh = (flight / 2).max(2 * self.mss);
        self.cwnd = self.mss;
    }
    fn on_idle_restart(&mut self, _now: Instant, _rto: Duration) {
        self.cwnd = self.cwnd.min(self.iw);
    }
    fn set_mss(&mut self, mss: u32) {
        self.mss = mss.max(1);
    }
    fn cwnd(&self) -> u32 {
        self.cwnd
    }
    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }
    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = cwnd;
    }
}

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
