//! Per-connection timer deadlines; `Instant::MAX` means "not armed".

use crate::time::{Duration, Instant};

/// The deadlines of an idle connection; `Instant::MAX` means "not armed".
/// The retransmission, persist and delayed-ACK timers only run while data
/// is buffered or in flight, so they live in the boxed in-flight part.
#[derive(Clone, Copy, Debug)]
pub struct Timers {
    /// Keep-alive timer (RFC 9293 §3.8.4).
    pub keepalive: Instant,
    /// TIME-WAIT 2×MSL or FIN-WAIT-2 timeout (RFC 9293 §3.10.7.4; the latter is Linux practice).
    pub close: Instant,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            keepalive: Instant::MAX,
            close: Instant::MAX,
        }
    }
}

impl Timers {
    /// The earliest armed deadline.
    pub fn earliest(&self) -> Instant {
        self.keepalive.min(self.close)
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

/// An application-set duration kept in 32 bits of whole milliseconds,
/// rounded up so it never fires early (up to 49.7 days; longer is clamped).
/// Used for keep-alive and user timeouts, which are seconds to hours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DurMs32(u32);

impl DurMs32 {
    pub const ZERO: DurMs32 = DurMs32(0);

    pub fn new(d: Duration) -> DurMs32 {
        let ms = d.as_micros().div_ceil(1000);
        DurMs32(u32::try_from(ms).unwrap_or(u32::MAX))
    }

    pub fn get(self) -> Duration {
        Duration::from_millis(u64::from(self.0))
    }
}

impl core::ops::Add<DurMs32> for Instant {
    type Output = Instant;
    fn add(self, d: DurMs32) -> Instant {
        self + d.get()
    }
}
