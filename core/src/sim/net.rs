//! The driver: N endpoints joined by links, a virtual clock that jumps to the
//! next event (a packet arrival or an endpoint's deadline), and the run-time
//! properties (finish within a bound, memory bounded).

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::net::IpAddr;

use super::link::{Link, LinkConfig};
use crate::time::{Duration, Instant};

/// Where an endpoint stands in its scripted work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Running,
    /// Its work finished and its connections closed.
    Done,
    /// Its work cannot finish; the reason is for the report.
    Failed(&'static str),
}

/// Figures an endpoint reports after a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointStats {
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub retransmissions: u64,
    pub rto_count: u64,
    /// FNV-1a of all application bytes sent and received.
    pub tx_hash: u64,
    pub rx_hash: u64,
    /// When the last expected byte arrived intact (goodput is measured to here).
    pub rx_complete_at: Option<Instant>,
}

/// A host on the simulated network: a sans-I/O stack plus the application
/// that uses it. The driver calls these with the virtual time.
pub trait Endpoint {
    /// An IP packet arrives.
    fn feed(&mut self, now: Instant, packet: &[u8]);
    /// The next IP packet to send, written into `buf`; None when nothing is due.
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize>;
    /// When the endpoint next needs `handle_timeout` (takes `now` and `&mut`
    /// because some stacks, smoltcp, compute it lazily).
    fn poll_timeout(&mut self, now: Instant) -> Option<Instant>;
    fn handle_timeout(&mut self, now: Instant);
    /// Application hook, called every step: move data between the app and
    /// its connections, open and close them.
    fn on_app(&mut self, now: Instant);
    fn status(&self) -> Status;
    fn stats(&self) -> EndpointStats;
    /// Heap bytes the endpoint holds, for the memory bound.
    fn heap_bytes(&self) -> usize;
}

/// Bounds of one run.
#[derive(Clone, Copy, Debug)]
pub struct RunLimits {
    /// Virtual time by which every endpoint must be done or failed.
    pub deadline: Instant,
    /// Driver steps (guards against livelock at one instant).
    pub max_steps: u64,
    /// Heap bytes any one endpoint may hold.
    pub max_endpoint_heap: usize,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            deadline: Instant::from_millis(600_000),
            max_steps: 50_000_000,
            max_endpoint_heap: 64 << 20,
        }
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every endpoint reported Done.
    AllDone {
        at: Instant,
    },
    /// An endpoint reported Failed.
    Failed {
        endpoint: usize,
        reason: &'static str,
        at: Instant,
    },
    /// The deadline passed with endpoints still running.
    TimedOut {
        at: Instant,
    },
    /// Nothing left to happen (no packets, no deadlines) yet not done.
    Stalled {
        at: Instant,
    },
    MemoryExceeded {
        endpoint: usize,
        bytes: usize,
        at: Instant,
    },
    StepLimit {
        at: Instant,
    },
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::AllDone { .. })
    }
    pub fn at(&self) -> Instant {
        match *self {
            Outcome::AllDone { at }
            | Outcome::Failed { at, .. }
            | Outcome::TimedOut { at }
            | Outcome::Stalled { at }
            | Outcome::MemoryExceeded { at, .. }
            | Outcome::StepLimit { at } => at,
        }
    }
}

/// Driver-level counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    pub steps: u64,
    pub packets_sent: u64,
    pub unroutable: u64,
    pub max_endpoint_heap: usize,
}

struct LinkEntry {
    from: usize,
    to: usize,
    link: Link,
}

/// Largest packet an endpoint may emit (IPv6 jumbograms are out of scope).
const MAX_PACKET: usize = 65_535 + 40;
/// Packets one endpoint may emit in one step before others get a turn.
const MAX_BURST: usize = 4096;

/// The simulated network.
pub struct Network {
    now: Instant,
    endpoints: Vec<Box<dyn Endpoint>>,
    addrs: Vec<(IpAddr, usize)>,
    links: Vec<LinkEntry>,
    buf: Vec<u8>,
    stats: NetStats,
}

impl core::fmt::Debug for Network {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Network")
            .field("now", &self.now)
            .field("endpoints", &self.endpoints.len())
            .field("links", &self.links.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Default for Network {
    fn default() -> Self {
        Self::new()
    }
}

impl Network {
    pub fn new() -> Self {
        Network {
            now: Instant::ZERO,
            endpoints: Vec::new(),
            addrs: Vec::new(),
            links: Vec::new(),
            buf: vec![0; MAX_PACKET],
            stats: NetStats::default(),
        }
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn stats(&self) -> &NetStats {
        &self.stats
    }

    /// Adds a host owning `addrs`; returns its index.
    pub fn add_endpoint(&mut self, ep: Box<dyn Endpoint>, addrs: &[IpAddr]) -> usize {
        let id = self.endpoints.len();
        self.endpoints.push(ep);
        self.addrs.extend(addrs.iter().map(|a| (*a, id)));
        id
    }

    /// Joins `a` and `b` with one link each way; the seeds fix their faults.
    pub fn connect(
        &mut self,
        a: usize,
        b: usize,
        a_to_b: LinkConfig,
        b_to_a: LinkConfig,
        seed: u64,
    ) {
        let mut rng = super::rng::SimRng::new(seed);
        self.links.push(LinkEntry {
            from: a,
            to: b,
            link: Link::new(a_to_b, rng.next_u64()),
        });
        self.links.push(LinkEntry {
            from: b,
            to: a,
            link: Link::new(b_to_a, rng.next_u64()),
        });
    }

    pub fn endpoint(&self, id: usize) -> Option<&dyn Endpoint> {
        self.endpoints.get(id).map(|b| &**b)
    }

    pub fn endpoint_mut(&mut self, id: usize) -> Option<&mut (dyn Endpoint + 'static)> {
        self.endpoints.get_mut(id).map(|b| &mut **b)
    }

    pub fn link(&self, from: usize, to: usize) -> Option<&Link> {
        self.links
            .iter()
            .find(|l| l.from == from && l.to == to)
            .map(|l| &l.link)
    }

    /// Runs until every endpoint is done, one fails, or a limit is hit.
    pub fn run(&mut self, limits: RunLimits) -> Outcome {
        loop {
            self.stats.steps += 1;
            if self.stats.steps > limits.max_steps {
                return Outcome::StepLimit { at: self.now };
            }
            let mut activity = self.deliver_due();
            for id in 0..self.endpoints.len() {
                activity |= self.service_endpoint(id);
                let heap = self.endpoints.get(id).map_or(0, |e| e.heap_bytes());
                self.stats.max_endpoint_heap = self.stats.max_endpoint_heap.max(heap);
                if heap > limits.max_endpoint_heap {
                    return Outcome::MemoryExceeded {
                        endpoint: id,
                        bytes: heap,
                        at: self.now,
                    };
                }
            }
            if let Some(o) = self.check_status() {
                return o;
            }
            if activity {
                continue;
            }
            let Some(next) = self.next_event() else {
                return Outcome::Stalled { at: self.now };
            };
            // Time always moves forward after a quiet step, so a deadline that
            // stays in the past cannot spin the loop.
            let next = next.max(self.now + Duration::from_micros(1));
            if next > limits.deadline {
                return Outcome::TimedOut { at: self.now };
            }
            self.now = next;
        }
    }

    fn deliver_due(&mut self) -> bool {
        let mut any = false;
        let now = self.now;
        for entry in self.links.iter_mut() {
            while let Some(pkt) = entry.link.pop_due(now) {
                if let Some(ep) = self.endpoints.get_mut(entry.to) {
                    ep.feed(now, &pkt);
                }
                entry.link.recycle(pkt);
                any = true;
            }
        }
        any
    }

    fn service_endpoint(&mut self, id: usize) -> bool {
        let now = self.now;
        let Some(ep) = self.endpoints.get_mut(id) else {
            return false;
        };
        if ep.poll_timeout(now).is_some_and(|t| t <= now) {
            ep.handle_timeout(now);
        }
        ep.on_app(now);
        let mut sent = 0;
        while sent < MAX_BURST {
            let Some(len) = ep.poll_transmit(now, &mut self.buf) else {
                break;
            };
            sent += 1;
            self.stats.packets_sent += 1;
            let Some(pkt) = self.buf.get(..len) else {
                continue;
            };
            let dst = destination(pkt).and_then(|d| self.addrs.iter().find(|(a, _)| *a == d));
            let link =
                dst.and_then(|&(_, to)| self.links.iter_mut().find(|l| l.from == id && l.to == to));
            match link {
                Some(l) => l.link.send(now, pkt),
                None => self.stats.unroutable += 1,
            }
        }
        sent > 0
    }

    fn check_status(&self) -> Option<Outcome> {
        let mut all_done = true;
        for (id, ep) in self.endpoints.iter().enumerate() {
            match ep.status() {
                Status::Done => {}
                Status::Running => all_done = false,
                Status::Failed(reason) => {
                    return Some(Outcome::Failed {
                        endpoint: id,
                        reason,
                        at: self.now,
                    })
                }
            }
        }
        all_done.then_some(Outcome::AllDone { at: self.now })
    }

    fn next_event(&mut self) -> Option<Instant> {
        let now = self.now;
        let links = self.links.iter().filter_map(|l| l.link.next_arrival());
        let eps = self
            .endpoints
            .iter_mut()
            .filter_map(|e| e.poll_timeout(now));
        links.chain(eps).min()
    }
}

/// Destination address of an IPv4 or IPv6 packet, None if too short.
pub fn destination(pkt: &[u8]) -> Option<IpAddr> {
    match pkt.first()? >> 4 {
        4 => {
            let b: [u8; 4] = pkt.get(16..20)?.try_into().ok()?;
            Some(IpAddr::from(b))
        }
        6 => {
            let b: [u8; 16] = pkt.get(24..40)?.try_into().ok()?;
            Some(IpAddr::from(b))
        }
        _ => None,
    }
}
