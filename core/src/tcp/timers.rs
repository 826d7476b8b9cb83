//! Per-connection timer deadlines; `Instant::MAX` means "not armed".

use crate::time::Instant;

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
    /// RACK reordering timer (RFC 8985 §6.3).
    pub rack: Instant,
    /// Tail loss probe timeout, PTO (RFC 8985 §7.2).
    pub probe: Instant,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            rexmit: Instant::MAX,
            persist: Instant::MAX,
            keepalive: Instant::MAX,
            delack: Instant::MAX,
            close: Instant::MAX,
            rack: Instant::MAX,
            probe: Instant::MAX,
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
            .min(self.rack)
            .min(self.probe)
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
