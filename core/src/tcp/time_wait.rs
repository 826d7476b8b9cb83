//! A connection in TIME-WAIT reduced to what its rules need (RFC 9293
//! §3.10.7.4: re-ACK a retransmitted FIN and restart 2×MSL, ignore RST per
//! RFC 1337, a new SYN may reopen per RFC 6191, PAWS per RFC 7323).
//!
//! The stack keeps an orphan's TIME-WAIT as this record instead of a whole
//! [`Connection`]. The rules are not copied here: a segment for the record
//! rebuilds the connection ([`Connection::from_time_wait`]), which processes
//! it in the one place those rules live, and is compacted again once its
//! answer is out.

use crate::tcp::connection::{
    CloseReason, ConnConfig, Connection, EV_CLOSED, EV_CONNECTED, EV_PEER_CLOSED,
};
use crate::tcp::options::Negotiated;
use crate::tcp::state::State;
use crate::tcp::timers::Ms32;
use crate::tcp::SeqNum;
use crate::time::Instant;

/// Everything TIME-WAIT needs; the 4-tuple is the owner's (the stack's demux key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWait {
    /// When 2×MSL ends.
    expiry: Instant,
    /// Our ISS: the timestamp clock offset derives from it.
    iss: SeqNum,
    /// SND.NXT = SND.UNA = SND.MAX: everything, our FIN included, is acked.
    snd_nxt: SeqNum,
    snd_wnd: u32,
    /// RCV.NXT, just past the peer's FIN.
    rcv_nxt: SeqNum,
    rcv_adv: SeqNum,
    last_ack_sent: SeqNum,
    ts_recent: u32,
    ts_recent_at: Ms32,
    /// Receive buffer limit: the window our ACKs advertise.
    recv_limit: u32,
    neg: Negotiated,
}

impl TimeWait {
    /// When the record expires (the owner frees it then).
    pub fn expiry(&self) -> Instant {
        self.expiry
    }
}

impl Connection {
    /// The compact record of this connection, if it is in TIME-WAIT with
    /// nothing left to tell or send: no event, segment, buffered byte or
    /// in-flight state pending.
    pub fn time_wait_record(&self) -> Option<TimeWait> {
        let quiet = self.state == State::TimeWait
            && !self.has_events()
            && !self.wants_transmit()
            && self.fl.holds_no_data()
            && self.snd_una == self.snd_max
            && self.snd_nxt == self.snd_max
            && self.timers.close != Instant::MAX;
        quiet.then(|| TimeWait {
            expiry: self.timers.close,
            iss: self.iss,
            snd_nxt: self.snd_nxt,
            snd_wnd: self.snd_wnd,
            rcv_nxt: self.rcv_nxt,
            rcv_adv: self.rcv_adv,
            last_ack_sent: self.last_ack_sent,
            ts_recent: self.ts_recent,
            ts_recent_at: self.ts_recent_at,
            recv_limit: u32::try_from(self.fl.recv_limit()).unwrap_or(u32::MAX),
            neg: self.neg,
        })
    }

    /// The connection a TIME-WAIT record stands for, closed by the
    /// application, ready to take the next segment (`now`: the current time).
    pub fn from_time_wait(cfg: &ConnConfig, tw: &TimeWait, now: Instant) -> Connection {
        let mut c = Connection::new(cfg, tw.iss, now, State::TimeWait);
        c.snd_una = tw.snd_nxt;
        c.snd_nxt = tw.snd_nxt;
        c.snd_max = tw.snd_nxt;
        c.snd_wl1 = tw.rcv_nxt;
        c.snd_wl2 = tw.snd_nxt;
        c.snd_wnd = tw.snd_wnd;
        c.max_snd_wnd = tw.snd_wnd;
        // No data is kept: our FIN is stream offset 0 and is acked.
        c.snd_una_off = 1;
        c.fin_queued = true;
        c.rcv_nxt = tw.rcv_nxt;
        c.irs = tw.rcv_nxt;
        c.rcv_adv = tw.rcv_adv;
        c.last_ack_sent = tw.last_ack_sent;
        c.ts_recent = tw.ts_recent;
        c.ts_recent_at = tw.ts_recent_at;
        c.neg = tw.neg;
        c.update_effective_mss();
        c.set_recv_buffer(tw.recv_limit);
        c.timers.close = tw.expiry;
        c.app_closed = true;
        c.close_reason = Some(CloseReason::Orderly);
        // Every once-only event was delivered before.
        c.events_emitted = EV_CONNECTED | EV_PEER_CLOSED | EV_CLOSED;
        c
    }
}
