//! One direction of a simulated link: serialization at a bandwidth, a tail-drop
//! queue, propagation latency with jitter, an MTU, and seeded faults (random
//! and bursty loss, duplication, reordering, corruption).

use alloc::collections::{BinaryHeap, VecDeque};
use alloc::vec::Vec;
use core::cmp::{Ordering, Reverse};

use super::rng::SimRng;
use crate::time::{Duration, Instant};

/// Gilbert-Elliott two-state loss: a good and a bad state with their own loss
/// rates; the state flips with the given probabilities at every packet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GilbertElliott {
    pub p_good_to_bad: f64,
    pub p_bad_to_good: f64,
    pub loss_in_good: f64,
    pub loss_in_bad: f64,
}

impl GilbertElliott {
    /// Long-run loss rate: stationary share of each state times its loss rate.
    pub fn mean_loss(&self) -> f64 {
        let denom = self.p_good_to_bad + self.p_bad_to_good;
        if denom <= 0.0 {
            return self.loss_in_good;
        }
        let bad_share = self.p_good_to_bad / denom;
        bad_share * self.loss_in_bad + (1.0 - bad_share) * self.loss_in_good
    }
}

/// Largest corruption burst, in bits: the Internet checksum detects every
/// error burst of 15 bits or fewer (RFC 1071 §2 (B), ones'-complement sum).
pub const MAX_CORRUPT_BURST_BITS: u32 = 15;

/// What one direction of a link does to packets. Probabilities are per packet.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// One-way propagation delay.
    pub latency: Duration,
    /// Extra delay drawn uniformly in [0, jitter]; does not reorder by itself.
    pub jitter: Duration,
    /// Bits per second; 0 = infinitely fast (no serialization delay).
    pub bandwidth_bps: u64,
    /// Bytes waiting for the serializer; a packet that does not fit is tail-dropped. 0 = unbounded.
    pub queue_limit_bytes: usize,
    /// Packets longer than this are dropped.
    pub mtu: usize,
    /// Independent random loss.
    pub loss: f64,
    /// Bursty loss on top of `loss`.
    pub burst_loss: Option<GilbertElliott>,
    /// A second copy is delivered as well.
    pub duplicate: f64,
    /// The packet is held back by `reorder_delay`, so later packets overtake it.
    pub reorder: f64,
    pub reorder_delay: Duration,
    /// A burst of at most 15 bits is flipped inside the packet.
    pub corrupt: f64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency: Duration::from_millis(1),
            jitter: Duration::ZERO,
            bandwidth_bps: 0,
            queue_limit_bytes: 0,
            mtu: 1500,
            loss: 0.0,
            burst_loss: None,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(5),
            corrupt: 0.0,
        }
    }
}

/// What happened on a link; `trace_hash` digests every delivery (time and bytes)
/// so two runs can be compared for determinism.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub sent: u64,
    pub delivered: u64,
    pub bytes_delivered: u64,
    pub dropped_mtu: u64,
    pub dropped_queue: u64,
    pub dropped_loss: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub corrupted: u64,
    pub max_queue_bytes: usize,
    pub trace_hash: u64,
}

struct InFlight {
    at: Instant,
    order: u64,
    data: Vec<u8>,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// FNV-1a 64 over bytes, continuing from `h`.
pub fn fnv1a(mut h: u64, data: &[u8]) -> u64 {
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// FNV-1a 64 offset basis.
pub const FNV_OFFSET: u64 = 0xCBF2_9CE4_8422_2325;

/// One direction of a link.
pub struct Link {
    cfg: LinkConfig,
    rng: SimRng,
    /// When the serializer finishes the last admitted packet.
    tx_free_at: Instant,
    /// (departure time, length) of packets still waiting for or in the serializer.
    queue: VecDeque<(Instant, usize)>,
    queued_bytes: usize,
    /// Arrival time of the last in-order packet; keeps jitter from reordering.
    last_arrival: Instant,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    order: u64,
    /// Recycled packet buffers: no allocation per packet once warmed up.
    pool: Vec<Vec<u8>>,
    burst_bad: bool,
    stats: LinkStats,
}

impl core::fmt::Debug for Link {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Link")
            .field("cfg", &self.cfg)
            .field("in_flight", &self.in_flight.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Link {
    pub fn new(cfg: LinkConfig, seed: u64) -> Self {
        Link {
            cfg,
            rng: SimRng::new(seed),
            tx_free_at: Instant::ZERO,
            queue: VecDeque::new(),
            queued_bytes: 0,
            last_arrival: Instant::ZERO,
            in_flight: BinaryHeap::new(),
            order: 0,
            pool: Vec::new(),
            burst_bad: false,
            stats: LinkStats {
                trace_hash: FNV_OFFSET,
                ..LinkStats::default()
            },
        }
    }

    pub fn config(&self) -> &LinkConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    /// Packets on the wire (admitted, not yet delivered).
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Bytes buffered by the link: its queue plus packets propagating.
    pub fn heap_bytes(&self) -> usize {
        self.in_flight
            .iter()
            .map(|p| p.0.data.capacity())
            .sum::<usize>()
            + self.pool.iter().map(Vec::capacity).sum::<usize>()
    }

    /// Arrival time of the next packet, if any.
    pub fn next_arrival(&self) -> Option<Instant> {
        self.in_flight.peek().map(|p| p.0.at)
    }

    /// Takes the next packet that has arrived by `now`. Give the buffer back
    /// with [`Link::recycle`].
    pub fn pop_due(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.next_arrival()? > now {
            return None;
        }
        let p = self.in_flight.pop()?.0;
        self.stats.delivered += 1;
        self.stats.bytes_delivered += p.data.len() as u64;
        let h = fnv1a(self.stats.trace_hash, &p.at.as_micros().to_le_bytes());
        self.stats.trace_hash = fnv1a(h, &p.data);
        Some(p.data)
    }

    /// Returns a delivered buffer to the pool.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        // Keep a bounded pool: enough for a window's worth of packets.
        if self.pool.len() < 4096 {
            buf.clear();
            self.pool.push(buf);
        }
    }

    /// Offers a packet to the link at time `now`.
    pub fn send(&mut self, now: Instant, packet: &[u8]) {
        self.stats.sent += 1;
        if packet.len() > self.cfg.mtu {
            self.stats.dropped_mtu += 1;
            return;
        }
        let Some(departure) = self.admit_to_queue(now, packet.len()) else {
            self.stats.dropped_queue += 1;
            return;
        };
        // Lost packets still used the serializer: loss happens on the wire.
        if self.lost() {
            self.stats.dropped_loss += 1;
            return;
        }
        let jitter = self.rng.range_inclusive(0, self.cfg.jitter.as_micros());
        let mut arrival = departure + self.cfg.latency + Duration::from_micros(jitter);
        if arrival < self.last_arrival {
            arrival = self.last_arrival;
        }
        self.last_arrival = arrival;
        if self.rng.chance(self.cfg.reorder) {
            self.stats.reordered += 1;
            arrival += self.cfg.reorder_delay;
        }
        let duplicate = self.rng.chance(self.cfg.duplicate);
        let mut data = self.pool.pop().unwrap_or_default();
        data.extend_from_slice(packet);
        if self.rng.chance(self.cfg.corrupt) && corrupt_burst(&mut self.rng, &mut data) {
            self.stats.corrupted += 1;
        }
        if duplicate {
            self.stats.duplicated += 1;
            let mut copy = self.pool.pop().unwrap_or_default();
            copy.extend_from_slice(packet);
            self.schedule(arrival, data);
            self.schedule(arrival, copy);
        } else {
            self.schedule(arrival, data);
        }
    }

    fn schedule(&mut self, at: Instant, data: Vec<u8>) {
        self.order += 1;
        self.in_flight.push(Reverse(InFlight {
            at,
            order: self.order,
            data,
        }));
    }

    /// Serialization and tail drop: returns when the packet leaves the sender,
    /// or None when the queue is full.
    fn admit_to_queue(&mut self, now: Instant, len: usize) -> Option<Instant> {
        while let Some(&(dep, l)) = self.queue.front() {
            if dep > now {
                break;
            }
            self.queue.pop_front();
            self.queued_bytes -= l;
        }
        if self.cfg.queue_limit_bytes > 0 && self.queued_bytes + len > self.cfg.queue_limit_bytes {
            return None;
        }
        let start = if self.tx_free_at > now {
            self.tx_free_at
        } else {
            now
        };
        let departure = start + serialization_delay(len, self.cfg.bandwidth_bps);
        self.tx_free_at = departure;
        self.queue.push_back((departure, len));
        self.queued_bytes += len;
        if self.queued_bytes > self.stats.max_queue_bytes {
            self.stats.max_queue_bytes = self.queued_bytes;
        }
        Some(departure)
    }

    /// Random loss plus the Gilbert-Elliott chain, one step per packet.
    fn lost(&mut self) -> bool {
        let mut lost = self.rng.chance(self.cfg.loss);
        if let Some(ge) = self.cfg.burst_loss {
            let flip = if self.burst_bad {
                ge.p_bad_to_good
            } else {
                ge.p_good_to_bad
            };
            if self.rng.chance(flip) {
                self.burst_bad = !self.burst_bad;
            }
            let p = if self.burst_bad {
                ge.loss_in_bad
            } else {
                ge.loss_in_good
            };
            lost |= self.rng.chance(p);
        }
        lost
    }
}

/// Time to put `len` bytes on a wire of `bps` bits per second, rounded up.
pub fn serialization_delay(len: usize, bps: u64) -> Duration {
    if bps == 0 {
        return Duration::ZERO;
    }
    let bits = (len as u128) * 8 * 1_000_000;
    let us = bits.div_ceil(u128::from(bps));
    Duration::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
}

/// Flips a burst of 1..=15 bits: the first and last bit of the burst always,
/// the ones between at random. Returns false for an empty packet.
pub fn corrupt_burst(rng: &mut SimRng, data: &mut [u8]) -> bool {
    let total_bits = (data.len() as u64) * 8;
    if total_bits == 0 {
        return false;
    }
    let burst = rng
        .range_inclusive(1, u64::from(MAX_CORRUPT_BURST_BITS))
        .min(total_bits);
    let start = rng.below(total_bits - burst + 1);
    for i in 0..burst {
        let flip = i == 0 || i == burst - 1 || rng.chance(0.5);
        if flip {
            let bit = start + i;
            if let Some(byte) = data.get_mut((bit / 8) as usize) {
                *byte ^= 0x80 >> (bit % 8);
            }
        }
    }
    true
}
