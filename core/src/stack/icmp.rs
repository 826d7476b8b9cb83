//! ICMP and ICMPv6: echo replies (RFC 792, RFC 4443 §4.2), rate-limited
//! destination unreachable (RFC 1812 §4.3.2.8, RFC 4443 §2.4(f)), and errors
//! delivered to the connection they quote after RFC 5927 §4.1 validation;
//! fragmentation-needed / packet-too-big lower the path MSS (RFC 1191, RFC 8201).

use core::net::{IpAddr, SocketAddr};

use super::demux::FlowKey;
use super::packet::{self, IcmpIn};
use super::{Outgoing, PacketError, Stack};
use crate::tcp::connection::Connection;
use crate::tcp::SeqNum;
use crate::time::{Duration, Instant};

/// Token bucket for ICMP errors we send: 100 per second, bursts of 50 (Linux-like).
#[derive(Debug)]
pub struct RateLimiter {
    tokens: u32,
    last: Instant,
}

const RATE_PER_SEC: u64 = 100;
const BURST: u32 = 50;

impl RateLimiter {
    pub fn new() -> Self {
        RateLimiter {
            tokens: BURST,
            last: Instant::ZERO,
        }
    }

    /// RFC 1812 §4.3.2.8 / RFC 4443 §2.4(f): limit the rate of ICMP errors.
    pub fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        let interval = Duration::from_micros(1_000_000 / RATE_PER_SEC);
        let add = elapsed.as_micros() / interval.as_micros();
        if add > 0 {
            self.tokens = (u64::from(self.tokens) + add).min(u64::from(BURST)) as u32;
            self.last = now;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

/// ICMPv4 types and codes used here.
const V4_ECHO_REPLY: u8 = 0;
const V4_DEST_UNREACH: u8 = 3;
const V4_PROTO_UNREACH: u8 = 2;
const V4_PORT_UNREACH: u8 = 3;
const V4_FRAG_NEEDED: u8 = 4;
/// Communication administratively prohibited: network, host (RFC 1122), any (RFC 1812 §5.2.7.1).
const V4_NET_PROHIBITED: u8 = 9;
const V4_HOST_PROHIBITED: u8 = 10;
const V4_ADMIN_PROHIBITED: u8 = 13;
const V4_ECHO_REQUEST: u8 = 8;
const V4_TIME_EXCEEDED: u8 = 11;
const V4_PARAM_PROBLEM: u8 = 12;
/// ICMPv6 types and codes used here.
const V6_DEST_UNREACH: u8 = 1;
const V6_PACKET_TOO_BIG: u8 = 2;
const V6_TIME_EXCEEDED: u8 = 3;
const V6_PARAM_PROBLEM: u8 = 4;
const V6_ADMIN_PROHIBITED: u8 = 1;
const V6_PORT_UNREACH: u8 = 4;
/// Source address failed ingress/egress policy; reject route to destination (RFC 4443 §3.1).
const V6_POLICY_FAILED: u8 = 5;
const V6_REJECT_ROUTE: u8 = 6;
/// Parameter problem: unrecognized Next Header (RFC 4443 §3.4), IPv6's protocol unreachable.
const V6_UNRECOGNIZED_NEXT_HEADER: u8 = 1;
const V6_ECHO_REQUEST: u8 = 128;
const V6_ECHO_REPLY: u8 = 129;

/// What a validated ICMP error means for the connection it quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IcmpError {
    /// Fragmentation needed / packet too big, with the next-hop MTU.
    PathMtu(u32),
    /// Any other destination unreachable, time exceeded or parameter problem.
    Unreachable { hard: bool },
}

/// RFC 1122 §4.2.3.9 / RFC 5461 §4 / RFC 4443 §3: hard errors say the peer
/// will never answer (protocol or port unreachable, administratively
/// prohibited, and their IPv6 equivalents); everything else (net or host
/// unreachable, time exceeded, ...) is soft and may be transient.
fn is_hard_error(v6: bool, ty: u8, code: u8) -> bool {
    if v6 {
        matches!(
            (ty, code),
            (
                V6_DEST_UNREACH,
                V6_ADMIN_PROHIBITED | V6_PORT_UNREACH | V6_POLICY_FAILED | V6_REJECT_ROUTE
            ) | (V6_PARAM_PROBLEM, V6_UNRECOGNIZED_NEXT_HEADER)
        )
    } else {
        ty == V4_DEST_UNREACH
            && matches!(
                code,
                V4_PROTO_UNREACH
                    | V4_PORT_UNREACH
                    | V4_NET_PROHIBITED
                    | V4_HOST_PROHIBITED
                    | V4_ADMIN_PROHIBITED
            )
    }
}

/// RFC 1191 §3: never go below 576 (IPv4); RFC 8201 §4: never below 1280 (IPv6).
const MIN_PMTU_V4: u32 = 576;
const MIN_PMTU_V6: u32 = 1280;

/// RFC 5927 §4.1: an ICMP error about TCP is believed only if the sequence
/// number it quotes is in flight: SND.UNA <= seq < SND.MAX. The stack knows
/// SND.MAX from the segments it emitted; SND.UNA is SND.MAX minus the unacked
/// bytes (with one sequence number of slack each for SYN and FIN).
fn quoted_seq_in_flight(conn: &Connection, snd_max: SeqNum, seq: SeqNum) -> bool {
    let unacked = conn.info().bytes_unacked.min(u64::from(u32::MAX / 2)) as u32;
    let una = snd_max - unacked.saturating_add(2);
    seq >= una && seq < snd_max
}

impl Stack {
    pub(super) fn feed_icmp(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        bytes: &[u8],
    ) -> Result<(), PacketError> {
        let m = packet::parse_icmp(src, dst, bytes)?;
        self.counters.icmp_in += 1;
        match (src.is_ipv6(), m.ty) {
            (false, V4_ECHO_REQUEST) | (true, V6_ECHO_REQUEST) if m.code == 0 => {
                self.echo_reply(src, dst, &m)
            }
            (false, V4_DEST_UNREACH) if m.code == V4_FRAG_NEEDED => {
                let mtu = u32::from(u16::from_be_bytes([m.rest[2], m.rest[3]]));
                self.icmp_error_to_tcp(false, &m, IcmpError::PathMtu(mtu));
            }
            (true, V6_PACKET_TOO_BIG) => {
                let mtu = u32::from_be_bytes(m.rest);
                self.icmp_error_to_tcp(true, &m, IcmpError::PathMtu(mtu));
            }
            (false, V4_DEST_UNREACH | V4_TIME_EXCEEDED | V4_PARAM_PROBLEM)
            | (true, V6_DEST_UNREACH | V6_TIME_EXCEEDED | V6_PARAM_PROBLEM) => {
                let hard = is_hard_error(src.is_ipv6(), m.ty, m.code);
                self.icmp_error_to_tcp(src.is_ipv6(), &m, IcmpError::Unreachable { hard });
            }
            _ => {}
        }
        Ok(())
    }

    /// RFC 792 / RFC 4443 §4.2: answer an echo request with the same identifier, sequence and data.
    fn echo_reply(&mut self, src: IpAddr, dst: IpAddr, m: &IcmpIn) {
        let v6 = src.is_ipv6();
        let len = packet::icmp_packet_len(v6, m.body.len());
        if len > self.config.mtu as usize {
            return; // a reassembled request larger than the MTU: no fragmentation on output
        }
        let ty = if v6 { V6_ECHO_REPLY } else { V4_ECHO_REPLY };
        let id = self.next_ip_id();
        let mut p = self.buffer(len);
        packet::emit_icmp(&mut p, dst, src, id, ty, 0, m.rest, m.body);
        if self.queue_outgoing(Outgoing::Raw(p)) {
            self.counters.icmp_out += 1;
            self.counters.icmp_echo_replies += 1;
        }
    }

    /// Delivers an ICMP error to the TCP connection it quotes (RFC 5927 §4.1
    /// checks first): a path MTU lowers its path MSS, anything else goes to
    /// the connection's own hard/soft error rule.
    fn icmp_error_to_tcp(&mut self, v6: bool, m: &IcmpIn, err: IcmpError) {
        let Some(q) = packet::parse_quoted_tcp(v6, m.body) else {
            self.counters.icmp_errors_ignored += 1;
            return;
        };
        // The quoted packet is one we sent: its source is our end.
        let key = FlowKey::new(
            SocketAddr::new(q.src, q.src_port),
            SocketAddr::new(q.dst, q.dst_port),
        );
        self.counters.work_hash_lookups += 1;
        let Some(idx) = self.lookup(&key) else {
            self.counters.icmp_errors_ignored += 1;
            return;
        };
        let Some(slot) = self.conns.at_mut(idx) else {
            return;
        };
        if !quoted_seq_in_flight(&slot.conn, slot.snd_max, SeqNum(q.seq)) {
            self.counters.icmp_errors_ignored += 1;
            return;
        }
        self.counters.icmp_errors_delivered += 1;
        match err {
            IcmpError::PathMtu(mtu) => {
                let (min, ip_len) = if v6 {
                    (MIN_PMTU_V6, 40)
                } else {
                    (MIN_PMTU_V4, 20)
                };
                // RFC 1191 §5: an MTU field of 0 (old routers) means "smaller": use the minimum.
                let mtu = if mtu == 0 { min } else { mtu.max(min) }.min(self.config.mtu);
                let mss = mtu.saturating_sub(ip_len + 20).min(u32::from(u16::MAX)) as u16;
                slot.conn.set_path_mtu_mss(mss);
                self.counters.pmtu_updates += 1;
            }
            IcmpError::Unreachable { hard } => slot.conn.handle_icmp_unreachable(hard),
        }
        self.after(idx);
    }

    /// RFC 1122 §4.1.3.1 / RFC 4443 §3.1: port unreachable for a closed UDP
    /// port, quoting as much of the packet as fits in 576 (IPv4, RFC 1812
    /// §4.3.2.3) or 1280 (IPv6) bytes; rate-limited.
    pub(super) fn send_port_unreachable(&mut self, src: IpAddr, dst: IpAddr, packet: &[u8]) {
        if packet.is_empty() {
            return; // reassembled: nothing faithful to quote
        }
        if !self.icmp_limiter.allow(self.now) {
            self.counters.icmp_rate_limited += 1;
            return;
        }
        let v6 = src.is_ipv6();
        let limit = if v6 { 1280 } else { 576 };
        let room = limit - packet::icmp_packet_len(v6, 0);
        let quote = packet.get(..packet.len().min(room)).unwrap_or(&[]);
        let (ty, code) = if v6 {
            (V6_DEST_UNREACH, V6_PORT_UNREACH)
        } else {
            (V4_DEST_UNREACH, V4_PORT_UNREACH)
        };
        let len = packet::icmp_packet_len(v6, quote.len());
        let id = self.next_ip_id();
        let mut p = self.buffer(len);
        packet::emit_icmp(&mut p, dst, src, id, ty, code, [0; 4], quote);
        if self.queue_outgoing(Outgoing::Raw(p)) {
            self.counters.icmp_out += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limiter_bursts_then_refills() {
        let mut r = RateLimiter::new();
        let t = Instant::from_millis(1000);
        let allowed = (0..200).filter(|_| r.allow(t)).count();
        assert_eq!(allowed, BURST as usize);
        assert!(!r.allow(t));
        assert!(
            r.allow(t + Duration::from_millis(10)),
            "one token per 10 ms"
        );
        assert!(!r.allow(t + Duration::from_millis(10)));
    }
}
