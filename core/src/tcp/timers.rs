//! Per-connection timer deadlines; `Instant::MAX` means "not armed".

use crate::time::{Duration, Instant};

/// The deadlines of one connection. Kept as plain instants so the struct stays small.
#[derive(Clone, Copy, Debug)]
pub struct Timers {
    /// Retransmission timer (RFC 6298 §5), also used for SYN and FIN.
    pub rexmit: Instant,
    /// Persist timer for zero-window probes (RFC 9293 §3.8.6.1).
    pub persist: Instant,
    /// Keep-alive timer (RFC 9293 §3.8.4).
    pub keepalive: Instant,
    /// Delayed-ACK timer (RFC 9293 §3.8.6.3).
    pub delack: Instant,
    /// TIME-WAIT 2×MSL or FIN-WAIT-2 timeout (RFC 9293 §3.10.7.4; the latter is Linux practice).
    pub close: Instant,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            rexmit: Instant::MAX,
            persist: Instant::MAX,
            keepalive: Instant::MAX,
            delack: Instant::MAX,
            close: Instant::MAX,
        }
    }
}

impl Timers {
    /// The earliest armed deadline.
    pub fn earliest(&self) -> Instant {
        self.rexmit
            .min(self.persist)
            .min(self.keepalive)
            .min(self.delack)
            .min(self.close)
    }

    /// Disarm everything (CLOSED).
    pub fn clear(&mut self) {
        *self = Timers::default();
    }
}

/// `deadline` has come at `now`.
pub fn due(deadline: Instant, now: Instant) -> bool {
    deadline != Instant::MAX && deadline <= now
}

/// A configured duration kept per connection in 32 bits of microseconds
/// (up to 71.5 minutes; longer values are clamped to that), so the
/// always-present part of a connection stays small.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur32(u32);

impl Dur32 {
    pub const ZERO: Dur32 = Dur32(0);

    /// `d`, clamped to 71.5 minutes.
    pub fn new(d: Duration) -> Dur32 {
        Dur32(u32::try_from(d.as_micros()).unwrap_or(u32::MAX))
    }

    pub fn get(self) -> Duration {
        Duration::from_micros(u64::from(self.0))
    }
}

impl core::ops::Add<Dur32> for Instant {
    type Output = Instant;
    fn add(self, d: Dur32) -> Instant {
        self + d.get()
    }
}

/// A moment kept in 32 bits: the low 32 bits of the host clock in
/// milliseconds. Wrap rule: [`Ms32::elapsed`] is exact (to the ms) for ages
/// below 2^32 ms (49.7 days); an older moment reads as younger by a multiple
/// of that. Used only where a wrong age after 49.7 days of silence is
/// harmless: last send/receive (idle restart, zero-window liveness),
/// the challenge-ACK second, and the PAWS 24-day rule (RFC 7323 §5.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ms32(u32);

impl Ms32 {
    pub fn at(now: Instant) -> Ms32 {
        Ms32(now.as_millis() as u32)
    }

    /// Time from this moment to `now` (whole milliseconds, see the wrap rule).
    pub fn elapsed(self, now: Instant) -> Duration {
        Duration::from_millis(u64::from((now.as_millis() as u32).wrapping_sub(self.0)))
    }
}
