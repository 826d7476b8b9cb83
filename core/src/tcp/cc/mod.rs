//! Congestion control behind one small trait, dispatched through an enum
//! (no `Box`, no vtable): NewReno (RFC 5681) and CUBIC (RFC 9438), both
//! with HyStart++ (RFC 9406) in the initial slow start unless configured off.
//!
//! Windows are in bytes. The connection owns loss detection and recovery; it
//! tells the controller what happened and may override `cwnd` during
//! recovery (RFC 6582 / RFC 6937) through [`CongestionControl::set_cwnd`].

use crate::tcp::seq::SeqNum;
use crate::time::{Duration, Instant};

pub mod cubic;
pub mod hystart;
pub mod newreno;
pub mod prr;

/// The controller's view of the connection's events.
pub trait CongestionControl {
    /// New data was cumulatively acknowledged outside loss recovery.
    fn on_ack(&mut self, now: Instant, acked_bytes: u32, srtt: Option<Duration>);
    /// Loss detected by duplicate ACKs or SACK: sets ssthresh and sets
    /// `cwnd = ssthresh` (read `cwnd()` before calling if the pre-loss value
    /// is needed, e.g. for PRR's RecoverFS).
    fn on_congestion_event(&mut self, now: Instant, flight_size: u32);
    /// The retransmission timer expired: cwnd collapses to one segment.
    fn on_retransmission_timeout(&mut self, now: Instant, flight_size: u32);
    /// Called when sending resumes after an idle period longer than `rto`:
    /// cwnd is limited to the restart window (RFC 5681 §4.1).
    fn on_idle_restart(&mut self, now: Instant, rto: Duration);
    /// The sender MSS changed (e.g. path MTU lowered).
    fn set_mss(&mut self, mss: u32);
    fn cwnd(&self) -> u32;
    fn ssthresh(&self) -> u32;
    /// Overwrite cwnd (used by fast recovery / PRR).
    fn set_cwnd(&mut self, cwnd: u32);
    /// Every RTT measurement, not only SRTT: HyStart++ tracks per-round minima (RFC 9406 §4.2).
    fn on_rtt_sample(&mut self, _rtt: Duration) {}
    /// The cumulative ACK advanced to `ack` with `snd_nxt` sent, before
    /// `on_ack`: marks HyStart++ rounds (RFC 9406 §4.2).
    fn on_ack_round(&mut self, _ack: SeqNum, _snd_nxt: SeqNum) {}
}

/// Which algorithm a connection uses. Values equal the C ABI's `TCPKIT_CC_*`
/// (one byte: it is kept in every connection's options).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Congestion {
    NewReno = 1,
    #[default]
    Cubic = 2,
}

impl Congestion {
    /// From the C ABI value (`TCPKIT_CC_NEWRENO` = 1, `TCPKIT_CC_CUBIC` = 2).
    pub fn from_raw(v: u64) -> Option<Congestion> {
        match v {
            1 => Some(Congestion::NewReno),
            2 => Some(Congestion::Cubic),
            _ => None,
        }
    }
}

/// A congestion controller of either kind.
#[derive(Clone, Debug)]
pub enum Controller {
    NewReno(newreno::NewReno),
    Cubic(cubic::Cubic),
}

impl Controller {
    /// A controller with the initial window for `initial_window_segments` (RFC 6928 when 10).
    /// HyStart++ is on (see [`Controller::with_hystart`]).
    pub fn new(kind: Congestion, mss: u32, initial_window_segments: u32) -> Self {
        Self::with_hystart(kind, mss, initial_window_segments, true)
    }

    /// As [`Controller::new`], with HyStart++ (RFC 9406) on or off.
    pub fn with_hystart(
        kind: Congestion,
        mss: u32,
        initial_window_segments: u32,
        hystart: bool,
    ) -> Self {
        match kind {
            Congestion::NewReno => Controller::NewReno(newreno::NewReno::with_hystart(
                mss,
                initial_window_segments,
                hystart,
            )),
            Congestion::Cubic => Controller::Cubic(cubic::Cubic::with_hystart(
                mss,
                initial_window_segments,
                hystart,
            )),
        }
    }

    /// Where HyStart++ is (for diagnostics and tests).
    pub fn hystart_phase(&self) -> hystart::Phase {
        match self {
            Controller::NewReno(c) => c.hystart_phase(),
            Controller::Cubic(c) => c.hystart_phase(),
        }
    }

    /// The algorithm in use.
    pub fn kind(&self) -> Congestion {
        match self {
            Controller::NewReno(_) => Congestion::NewReno,
            Controller::Cubic(_) => Congestion::Cubic,
        }
    }
}

impl CongestionControl for Controller {
    fn on_ack(&mut self, now: Instant, acked_bytes: u32, srtt: Option<Duration>) {
        match self {
            Controller::NewReno(c) => c.on_ack(now, acked_bytes, srtt),
            Controller::Cubic(c) => c.on_ack(now, acked_bytes, srtt),
        }
    }
    fn on_congestion_event(&mut self, now: Instant, flight_size: u32) {
        match self {
            Controller::NewReno(c) => c.on_congestion_event(now, flight_size),
            Controller::Cubic(c) => c.on_congestion_event(now, flight_size),
        }
    }
    fn on_retransmission_timeout(&mut self, now: Instant, flight_size: u32) {
        match self {
            Controller::NewReno(c) => c.on_retransmission_timeout(now, flight_size),
            Controller::Cubic(c) => c.on_retransmission_timeout(now, flight_size),
        }
    }
    fn on_idle_restart(&mut self, now: Instant, rto: Duration) {
        match self {
            Controller::NewReno(c) => c.on_idle_restart(now, rto),
            Controller::Cubic(c) => c.on_idle_restart(now, rto),
        }
    }
    fn set_mss(&mut self, mss: u32) {
        match self {
            Controller::NewReno(c) => c.set_mss(mss),
            Controller::Cubic(c) => c.set_mss(mss),
        }
    }
    fn cwnd(&self) -> u32 {
        match self {
            Controller::NewReno(c) => c.cwnd(),
            Controller::Cubic(c) => c.cwnd(),
        }
    }
    fn ssthresh(&self) -> u32 {
        match self {
            Controller::NewReno(c) => c.ssthresh(),
            Controller::Cubic(c) => c.ssthresh(),
        }
    }
    fn set_cwnd(&mut self, cwnd: u32) {
        match self {
            Controller::NewReno(c) => c.set_cwnd(cwnd),
            Controller::Cubic(c) => c.set_cwnd(cwnd),
        }
    }
    fn on_rtt_sample(&mut self, rtt: Duration) {
        match self {
            Controller::NewReno(c) => c.on_rtt_sample(rtt),
            Controller::Cubic(c) => c.on_rtt_sample(rtt),
        }
    }
    fn on_ack_round(&mut self, ack: SeqNum, snd_nxt: SeqNum) {
        match self {
            Controller::NewReno(c) => c.on_ack_round(ack, snd_nxt),
            Controller::Cubic(c) => c.on_ack_round(ack, snd_nxt),
        }
    }
}

/// Initial window in bytes: RFC 6928 §2 for 10 segments, else `segments * mss` (RFC 5681 §3.1 otherwise).
pub fn initial_window(mss: u32, segments: u32) -> u32 {
    let mss = mss.max(1);
    if segments == 10 {
        // RFC 6928 §2: min(10*MSS, max(2*MSS, 14600)).
        mss.saturating_mul(10)
            .min(mss.saturating_mul(2).max(14_600))
    } else {
        mss.saturating_mul(segments.max(1))
    }
}

/// Slow-start increase with appropriate byte counting, L = 2*SMSS (RFC 3465 §2.2, RFC 5681 §3.1).
pub fn slow_start_increase(acked_bytes: u32, mss: u32) -> u32 {
    acked_bytes.min(mss.saturating_mul(2))
}

/// ssthresh after loss: max(FlightSize / 2, 2*SMSS) (RFC 5681 §3.1 eq. 4).
pub fn reno_ssthresh(flight_size: u32, mss: u32) -> u32 {
    (flight_size / 2).max(mss.saturating_mul(2))
}

/// Restart window after idle: min(IW, cwnd) (RFC 5681 §4.1).
pub fn restart_window(cwnd: u32, iw: u32) -> u32 {
    cwnd.min(iw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6928_initial_window() {
        assert_eq!(initial_window(1460, 10), 14_600);
        assert_eq!(initial_window(536, 10), 5_360);
        // Large MSS is limited to max(2*MSS, 14600).
        assert_eq!(initial_window(9000, 10), 18_000);
        assert_eq!(initial_window(4000, 10), 14_600);
        assert_eq!(initial_window(1460, 4), 5_840);
        assert_eq!(initial_window(1460, 0), 1_460);
        assert_eq!(initial_window(u32::MAX, u32::MAX), u32::MAX);
    }

    #[test]
    fn controller_dispatches_by_kind() {
        for kind in [Congestion::NewReno, Congestion::Cubic] {
            let mut c = Controller::new(kind, 1000, 10);
            assert_eq!(c.kind(), kind);
            assert_eq!(c.cwnd(), 10_000);
            c.on_retransmission_timeout(Instant::ZERO, 20_000);
            assert_eq!(c.cwnd(), 1000);
        }
        assert_eq!(Congestion::from_raw(1), Some(Congestion::NewReno));
        assert_eq!(Congestion::from_raw(2), Some(Congestion::Cubic));
        assert_eq!(Congestion::from_raw(3), None);
        assert_eq!(Congestion::default(), Congestion::Cubic);
    }

    mod random_events {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]
            /// Any event sequence keeps the RFC floors: ssthresh >= 2 SMSS after
            /// a loss, cwnd = 1 SMSS right after an RTO, cwnd <= IW after idle.
            #[test]
            fn random_event_sequences_keep_invariants(
                kind in prop_oneof![Just(Congestion::NewReno), Just(Congestion::Cubic)],
                mss in 1u32..9000,
                iw in 0u32..20,
                events in proptest::collection::vec((0u8..5, any::<u32>(), 0u64..5_000_000), 1..200),
            ) {
                let mut c = Controller::new(kind, mss, iw);
                prop_assert_eq!(c.cwnd(), initial_window(mss, iw));
                let mut now = Instant::ZERO;
                for (ev, x, dt) in events {
                    now += Duration::from_micros(dt);
                    match ev {
                        0 | 1 => {
                            let before = c.cwnd();
                            c.on_ack(now, x % (4 * mss), Some(Duration::from_micros(dt / 10 + 1)));
                            prop_assert!(c.cwnd() >= before, "ACK shrank cwnd");
                        }
                        2 => {
                            c.on_congestion_event(now, x);
                            prop_assert!(c.ssthresh() >= 2 * mss);
                            prop_assert_eq!(c.cwnd(), c.ssthresh());
                        }
                        3 => {
                            c.on_retransmission_timeout(now, x);
                            prop_assert_eq!(c.cwnd(), mss);
                            prop_assert!(c.ssthresh() >= 2 * mss);
                        }
                        _ => {
                            let before = c.cwnd();
                            c.on_idle_restart(now, Duration::from_secs(1));
                            prop_assert_eq!(c.cwnd(), before.min(initial_window(mss, iw)));
                        }
                    }
                }
            }
        }
    }
}
