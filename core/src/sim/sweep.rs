//! Fault mixes drawn from a seed, for sweeps and soaks: loss up to 30%
//! (random or bursty), reordering, duplication, 1% corruption, bandwidth and
//! RTT from a LAN to a 300 ms satellite path.

use super::data::Transfer;
use super::link::{GilbertElliott, LinkConfig};
use super::rng::SimRng;
use crate::time::Duration;

/// One drawn scenario: the link each way and the transfer.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub seed: u64,
    pub c_to_s: LinkConfig,
    pub s_to_c: LinkConfig,
    pub transfer: Transfer,
}

const LOSS_RATES: [f64; 6] = [0.0, 0.005, 0.01, 0.05, 0.1, 0.3];
/// One-way latencies: LAN, metro, continental, intercontinental, satellite (300 ms RTT).
const LATENCY_US: [u64; 5] = [100, 2_000, 20_000, 60_000, 150_000];
const BANDWIDTH_BPS: [u64; 5] = [1_000_000, 10_000_000, 100_000_000, 1_000_000_000, 0];

fn pick<T: Copy>(rng: &mut SimRng, items: &[T]) -> Option<T> {
    items.get(rng.below(items.len() as u64) as usize).copied()
}

/// The link faults of one direction; `base` fixes what both directions share.
fn draw_link(rng: &mut SimRng, base: &LinkConfig) -> LinkConfig {
    let mut l = base.clone();
    l.loss = pick(rng, &LOSS_RATES).unwrap_or(0.0);
    if rng.chance(0.2) {
        l.burst_loss = Some(GilbertElliott {
            p_good_to_bad: 0.01,
            p_bad_to_good: 0.25,
            loss_in_good: 0.0,
            loss_in_bad: 0.5,
        });
    }
    if rng.chance(0.4) {
        l.reorder = 0.01 + rng.next_f64() * 0.04;
        l.reorder_delay = Duration::from_micros(rng.range_inclusive(500, 20_000));
    }
    if rng.chance(0.3) {
        l.duplicate = 0.01 + rng.next_f64() * 0.04;
    }
    if rng.chance(0.3) {
        l.corrupt = 0.01;
    }
    l
}

impl Scenario {
    /// The scenario of `seed`; transfers up to `max_bytes` each way.
    pub fn draw(seed: u64, max_bytes: u64) -> Scenario {
        let mut rng = SimRng::new(seed);
        let latency = Duration::from_micros(pick(&mut rng, &LATENCY_US).unwrap_or(1000));
        let bandwidth_bps = pick(&mut rng, &BANDWIDTH_BPS).unwrap_or(0);
        let jitter = Duration::from_micros(rng.below(latency.as_micros() / 10 + 1));
        // Queue: about a bandwidth-delay product, at least 64 KiB, or unbounded.
        let bdp = bandwidth_bps / 8 * latency.as_micros() * 2 / 1_000_000;
        let queue_limit_bytes = if bandwidth_bps == 0 || rng.chance(0.2) {
            0
        } else {
            usize::try_from(bdp.max(64 * 1024)).unwrap_or(usize::MAX)
        };
        let base = LinkConfig {
            latency,
            jitter,
            bandwidth_bps,
            queue_limit_bytes,
            ..LinkConfig::default()
        };
        let c_to_s = draw_link(&mut rng, &base);
        let s_to_c = draw_link(&mut rng, &base);
        let transfer = Transfer {
            tx_bytes: rng.range_inclusive(0, max_bytes),
            tx_seed: rng.next_u64(),
            rx_bytes: rng.range_inclusive(0, max_bytes / 4),
            rx_seed: rng.next_u64(),
        };
        Scenario {
            seed,
            c_to_s,
            s_to_c,
            transfer,
        }
    }

    /// Worst loss rate of either direction, bursts included.
    pub fn max_loss(&self) -> f64 {
        let dir = |l: &LinkConfig| l.loss + l.burst_loss.map_or(0.0, |g| g.mean_loss());
        let (a, b) = (dir(&self.c_to_s), dir(&self.s_to_c));
        if a > b {
            a
        } else {
            b
        }
    }
}
