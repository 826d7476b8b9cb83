//! TCP segments arriving at the stack: demux to a connection, or to a
//! listener (SYN queue, SYN cookies), or a RST for segments matching nothing.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::demux::FlowKey;
use super::packet::{self, TcpIn, TcpOut};
use super::syncookie::SynCookies;
use super::{
    bookkeep, Books, Outgoing, PacketError, Stack, State, F_ORPHAN, F_SYN_QUEUED, F_UNACCEPTED,
    TW_BIT,
};
use crate::tcp::connection::{timestamp_clock, Connection, Segment, SegmentOutcome};
use crate::tcp::options::window_shift_for;
use crate::tcp::SeqNum;
use crate::wire::tcp::{TcpFlags, TcpOptions};

/// SEG.LEN: payload plus one for each of SYN and FIN (RFC 9293 §3.4).
fn seg_len(seg: &TcpIn) -> u32 {
    (seg.payload.len() as u32)
        .wrapping_add(u32::from(seg.flags.syn()))
        .wrapping_add(u32::from(seg.flags.fin()))
}

fn segment<'a>(seg: &TcpIn<'a>) -> Segment<'a> {
    Segment {
        seq: SeqNum(seg.seq),
        ack: SeqNum(seg.ack),
        flags: seg.flags,
        window: seg.window,
        options: seg.options,
        payload: seg.payload,
    }
}

impl Stack {
    pub(super) fn feed_tcp(
        &mut self,
        src: &IpAddr,
        dst: &IpAddr,
        bytes: &[u8],
    ) -> Result<(), PacketError> {
        self.feed_tcp_at(*src, *dst, bytes)
    }

    /// `feed_tcp` for IPv4: the addresses arrive in registers, and the IPv6
    /// arms of everything below fold away.
    #[inline(never)]
    pub(super) fn feed_tcp_v4(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        bytes: &[u8],
    ) -> Result<(), PacketError> {
        self.feed_tcp_at(IpAddr::V4(src), IpAddr::V4(dst), bytes)
    }

    #[inline(always)]
    fn feed_tcp_at(&mut self, src: IpAddr, dst: IpAddr, bytes: &[u8]) -> Result<(), PacketError> {
        // The payload's checksum is verified by the connection (fused with
        // its copy into the receive ring) or below, before anything else.
        // Used in place: moving the parsed segment out of the Result copies
        // it with wide loads of just-written narrow stores (a stall per packet).
        let parsed = packet::parse_tcp_deferred(src, dst, bytes);
        let (seg, partial) = match &parsed {
            Ok((seg, partial)) => (seg, *partial),
            Err(e) => return Err(*e),
        };
        if seg.src_port == 0 || seg.dst_port == 0 {
            return Err(match packet::payload_checksum_ok(partial, seg.payload) {
                true => PacketError::Malformed,
                false => PacketError::Checksum,
            });
        }
        let (local, remote) = (
            SocketAddr::new(dst, seg.dst_port),
            SocketAddr::new(src, seg.src_port),
        );
        self.counters.work_hash_lookups += 1;
        // Segments come in trains of one flow: the last hit first (and the
        // key is built only past it).
        let last = self.last_lookup;
        let found = match self.conns.at(last) {
            Some(s) if s.key.matches(local, remote) => Some(last),
            _ => self.lookup(&FlowKey::new(local, remote)),
        };
        if let Some(found) = found {
            let idx = if found & TW_BIT != 0 {
                // Verified first: a segment failing its checksum must not
                // rebuild the connection.
                if !packet::payload_checksum_ok(partial, seg.payload) {
                    return Err(PacketError::Checksum);
                }
                // A compacted TIME-WAIT: rebuild it to apply the rules.
                match self.revive_time_wait(found & !TW_BIT) {
                    Some(idx) => idx,
                    None => return Ok(()),
                }
            } else {
                self.last_lookup = found;
                found
            };
            let now = self.now;
            if self.completes_into_full_accept_queue(idx, seg) {
                // Counted only for an intact segment (the connection verifies
                // the others' checksums itself).
                if !packet::payload_checksum_ok(partial, seg.payload) {
                    return Err(PacketError::Checksum);
                }
                self.counters.listen_overflows += 1;
                return Ok(());
            }
            // One slab lookup for the segment and the bookkeeping after it.
            let Some((slot, generation)) = self.conns.at_mut_with_generation(idx) else {
                return Ok(());
            };
            self.counters.work_conn_visits += 1;
            let challenges_before = slot.conn.challenge_acks_sent();
            let prefilled = slot.conn.prefill_in_flight(&mut self.inflight_pool);
            let Ok(outcome) = slot
                .conn
                .handle_segment_unverified(now, &segment(seg), partial)
            else {
                // A failed segment changes nothing: the box goes back.
                if prefilled {
                    slot.conn.recycle_in_flight(&mut self.inflight_pool);
                }
                return Err(PacketError::Checksum);
            };
            // RFC 5961 challenge ACKs are decided inside the connection.
            self.counters.challenge_acks_sent += slot
                .conn
                .challenge_acks_sent()
                .saturating_sub(challenges_before);
            // The application may still hold a TIME-WAIT connection's handle
            // (valid until close): then the SYN is ignored and the peer retries.
            let held = slot.flags & F_ORPHAN == 0;
            if outcome != SegmentOutcome::ReopenFromTimeWait || held {
                let change = bookkeep(slot, idx, generation, true, books!(self));
                if change.any() {
                    self.after_state_change(idx, change);
                }
                return Ok(());
            }
            // RFC 9293 §3.10.7.4 / RFC 6191: a new SYN may reuse a TIME-WAIT 4-tuple.
            self.free_slot(idx);
        } else if !packet::payload_checksum_ok(partial, seg.payload) {
            return Err(PacketError::Checksum);
        }
        self.tcp_no_connection(FlowKey::new(local, remote), dst, seg);
        Ok(())
    }

    /// Linux's default (tcp_abort_on_overflow = 0): an ACK that would move a
    /// passive connection out of SYN-RECEIVED while its listener's accept
    /// queue is full is dropped, keeping the half-open entry; the peer's next
    /// ACK (its data, or its answer to our SYN-ACK retransmission) completes
    /// it once the application made room. Only an acceptable ACK
    /// (SEG.ACK = ISS+1, RFC 9293 §3.10.7.4) counts; RST and SYN still go through.
    fn completes_into_full_accept_queue(&self, idx: u32, seg: &TcpIn) -> bool {
        let Some(slot) = self.conns.at(idx) else {
            return false;
        };
        let f = seg.flags;
        if slot.flags & F_SYN_QUEUED == 0
            || slot.conn.state() != State::SynReceived
            || !f.ack()
            || f.rst()
            || f.syn()
            || SeqNum(seg.ack) != slot.snd_max
        {
            return false;
        }
        let (li, lg) = slot.listener();
        self.listeners
            .get(li, lg)
            .is_some_and(|l| l.accept_queue.len() >= l.backlog as usize)
    }

    /// A segment that matched no connection: listeners, cookies, or a RST.
    fn tcp_no_connection(&mut self, key: FlowKey, dst: IpAddr, seg: &TcpIn) {
        let flags = seg.flags;
        if flags.rst() {
            return; // RFC 9293 §3.10.7.1: an incoming RST matching nothing is discarded.
        }
        let listener = self.find_listener(dst, seg.dst_port);
        match (listener, flags.syn(), flags.ack()) {
            // SYN+FIN is a scanner's probe, never a real open: dropped, like Linux.
            (Some(_), true, false) if flags.fin() => {}
            (Some(li), true, false) => self.listener_syn(li, key, seg),
            (Some(li), false, true) if self.syn_cookie_ack(li, key, seg) => {}
            // RFC 9293 §3.10.7.2 (LISTEN, "fourth"): neither SYN nor ACK (nor RST) is dropped.
            (Some(_), false, false) => {}
            (None, true, false) => {
                self.counters.dropped_no_listener += 1;
                self.reset_stray(key, seg);
            }
            _ => self.reset_stray(key, seg),
        }
    }

    /// RFC 9293 §3.10.7.1: a segment for no connection gets a RST:
    /// <SEQ=SEG.ACK><CTL=RST> if it has ACK, else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    #[cold]
    #[inline(never)]
    fn reset_stray(&mut self, key: FlowKey, seg: &TcpIn) {
        let hdr = if seg.flags.ack() {
            TcpOut {
                seq: seg.ack,
                ack: 0,
                flags: TcpFlags::RST,
                window: 0,
                options: TcpOptions::default(),
            }
        } else {
            TcpOut {
                seq: 0,
                ack: seg.seq.wrapping_add(seg_len(seg)),
                flags: TcpFlags::RST | TcpFlags::ACK,
                window: 0,
                options: TcpOptions::default(),
            }
        };
        self.queue_outgoing(Outgoing::Tcp { key, hdr });
    }

    /// RFC 9293 §3.10.7.2: a SYN to a listener. Half-open connections count
    /// against `syn_backlog`; beyond it the SYN-ACK carries a cookie (RFC 4987 §3.6).
    fn listener_syn(&mut self, li: u32, key: FlowKey, seg: &TcpIn) {
        let Some(lg) = self.listeners.generation(li) else {
            return;
        };
        let Some(l) = self.listeners.at(li) else {
            return;
        };
        if l.accept_queue.len() >= l.backlog as usize {
            // Like Linux: with the accept queue full, drop the SYN; the peer retries.
            self.counters.dropped_listen_overflow += 1;
            return;
        }
        if l.syn_count >= self.config.syn_backlog_clamped() {
            self.send_syn_cookie(key, seg);
            return;
        }
        if self.conn_count() >= self.config.max_connections as usize {
            self.counters.dropped_connection_limit += 1;
            return;
        }
        let iss = self.isn.isn(self.now, &key);
        let tmpl = if key.local().is_ipv6() {
            &self.tmpl_v6
        } else {
            &self.tmpl_v4
        };
        let conn = Connection::accept_with(tmpl, iss, &segment(seg), self.now);
        match self.insert_conn(conn, key, F_UNACCEPTED | F_SYN_QUEUED, (li, lg)) {
            Ok(idx) => {
                if let Some(l) = self.listeners.at_mut(li) {
                    l.syn_count += 1;
                }
                self.after(idx);
            }
            Err(_) => self.counters.dropped_connection_limit += 1,
        }
    }

    /// RFC 4987 §3.6: answer with a stateless SYN-ACK whose ISN is a cookie.
    /// Window scale and SACK can only be offered when timestamps carry them back.
    #[cold]
    #[inline(never)]
    fn send_syn_cookie(&mut self, key: FlowKey, seg: &TcpIn) {
        let peer_mss = seg.options.mss.unwrap_or(536);
        let isn = self.cookies.make_isn(self.now, &key, seg.seq, peer_mss);
        let cfg = if key.local().is_ipv6() {
            &self.cfg_v6
        } else {
            &self.cfg_v4
        };
        let mut options = TcpOptions {
            mss: Some(cfg.mss),
            ..TcpOptions::default()
        };
        if let (true, Some((tsval, _))) = (cfg.enable_timestamps, seg.options.timestamps) {
            let peer_ws = if cfg.enable_window_scale {
                seg.options.window_scale
            } else {
                None
            };
            let sack = cfg.enable_sack && seg.options.sack_permitted;
            // The clock the connection built from this cookie will use (PAWS-consistent).
            let clock = timestamp_clock(SeqNum(isn), self.now);
            options.timestamps = Some((SynCookies::encode_tsval(clock, peer_ws, sack), tsval));
            options.sack_permitted = sack;
            if peer_ws.is_some() {
                options.window_scale = Some(window_shift_for(cfg.recv_buffer));
            }
        }
        let hdr = TcpOut {
            seq: isn,
            ack: seg.seq.wrapping_add(1),
            flags: TcpFlags::SYN | TcpFlags::ACK,
            window: cfg.recv_buffer.min(65535) as u16,
            options,
        };
        if self.queue_outgoing(Outgoing::Tcp { key, hdr }) {
            self.counters.syn_cookies_sent += 1;
        }
    }

    /// An ACK for no connection may complete a cookie handshake (RFC 4987 §3.6).
    /// Returns false when it is not a valid cookie (the caller sends a RST).
    #[cold]
    #[inline(never)]
    fn syn_cookie_ack(&mut self, li: u32, key: FlowKey, seg: &TcpIn) -> bool {
        let peer_isn = seg.seq.wrapping_sub(1);
        let our_isn = seg.ack.wrapping_sub(1);
        let tsecr = seg.options.timestamps.map(|t| t.1);
        let Some(p) = self.cookies.check(self.now, &key, peer_isn, our_isn, tsecr) else {
            if self.counters.syn_cookies_sent > 0 {
                self.counters.syn_cookies_failed += 1;
            }
            return false;
        };
        let Some(lg) = self.listeners.generation(li) else {
            return false;
        };
        let full = self
            .listeners
            .at(li)
            .map_or(true, |l| l.accept_queue.len() >= l.backlog as usize);
        // Drop silently, as for a SYN-RECEIVED entry: the peer will retransmit.
        if full {
            self.counters.listen_overflows += 1;
            return true;
        }
        if self.conn_count() >= self.config.max_connections as usize {
            self.counters.dropped_connection_limit += 1;
            return true;
        }
        let peer_syn = TcpOptions {
            mss: Some(p.mss),
            window_scale: p.peer_wscale,
            sack_permitted: p.sack,
            timestamps: if p.timestamps {
                seg.options.timestamps
            } else {
                None
            },
            ..TcpOptions::default()
        };
        let cfg = if key.local().is_ipv6() {
            &self.cfg_v6
        } else {
            &self.cfg_v4
        };
        let s = segment(seg);
        let mut conn = Connection::from_syn_cookie(
            cfg,
            SeqNum(our_isn),
            SeqNum(peer_isn),
            &peer_syn,
            &s,
            self.now,
        );
        if !seg.payload.is_empty() || seg.flags.fin() {
            conn.prefill_in_flight(&mut self.inflight_pool);
            conn.handle_segment(self.now, &s);
        }
        match self.insert_conn(conn, key, F_UNACCEPTED | F_SYN_QUEUED, (li, lg)) {
            Ok(idx) => {
                if let Some(l) = self.listeners.at_mut(li) {
                    l.syn_count += 1;
                }
                self.counters.syn_cookies_accepted += 1;
                self.after(idx);
            }
            Err(_) => self.counters.dropped_connection_limit += 1,
        }
        true
    }
}
