//! The eleven TCP connection states (RFC 9293 §3.3.2).

/// Connection state; the discriminants are the C ABI values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum State {
    Closed = 0,
    Listen = 1,
    SynSent = 2,
    SynReceived = 3,
    Established = 4,
    FinWait1 = 5,
    FinWait2 = 6,
    CloseWait = 7,
    Closing = 8,
    LastAck = 9,
    TimeWait = 10,
}

impl State {
    /// Synchronized states: both ISNs are known and an ACK is expected (RFC 9293 §3.5.2).
    pub const fn is_synchronized(self) -> bool {
        !matches!(
            self,
            State::Closed | State::Listen | State::SynSent | State::SynReceived
        )
    }

    /// States in which the peer may still send data (RFC 9293 §3.10.7.4, seventh step).
    pub const fn can_receive_data(self) -> bool {
        matches!(
            self,
            State::SynReceived | State::Established | State::FinWait1 | State::FinWait2
        )
    }

    /// States in which the application may still queue data (RFC 9293 §3.10.2).
    pub const fn can_send_data(self) -> bool {
        matches!(
            self,
            State::SynSent | State::SynReceived | State::Established | State::CloseWait
        )
    }

    /// States after our FIN was queued.
    pub const fn fin_queued(self) -> bool {
        matches!(
            self,
            State::FinWait1 | State::FinWait2 | State::Closing | State::LastAck | State::TimeWait
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_values_are_fixed() {
        assert_eq!(State::Closed as u8, 0);
        assert_eq!(State::Established as u8, 4);
        assert_eq!(State::TimeWait as u8, 10);
        assert!(State::CloseWait.is_synchronized());
        assert!(!State::SynReceived.is_synchronized());
    }
}
