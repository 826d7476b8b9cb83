//! UDP sockets (RFC 768): bind, send_to, recv_from with a bounded queue per
//! socket, and ICMP port unreachable for closed ports (RFC 1122 §4.1.3.1).

use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use alloc::collections::VecDeque;

use super::demux::addr16;
use super::handle::{self, Kind};
use super::packet;
use super::{
    is_unicast, Error, EventKind, Outgoing, PacketError, Stack, UdpHandle, UdpSocket,
    UDP_QUEUE_BYTES, UDP_QUEUE_DATAGRAMS,
};
use crate::time::Instant;

/// The 16-byte key of the IPv4 unspecified address (binds every IPv4 address).
fn any_v4() -> [u8; 16] {
    addr16(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

impl Stack {
    pub(super) fn feed_udp(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        bytes: &[u8],
        packet: &[u8],
    ) -> Result<(), PacketError> {
        let (sport, dport, data) = packet::parse_udp(src, dst, bytes)?;
        self.counters.udp_in += 1;
        let Some(i) = self.find_udp(dst, dport) else {
            self.counters.dropped_no_listener += 1;
            if sport != 0 {
                self.send_port_unreachable(src, dst, packet);
            }
            return Ok(());
        };
        let mut copy = self.buffer(data.len());
        copy.copy_from_slice(data);
        let handle = self.udp_handle(i);
        let Some(sock) = self.udp.at_mut(i) else {
            return Ok(());
        };
        if sock.queue.len() >= UDP_QUEUE_DATAGRAMS
            || sock.queued_bytes + data.len() > UDP_QUEUE_BYTES
        {
            self.counters.dropped_udp_queue_full += 1;
            self.recycle(copy);
            return Ok(());
        }
        let was_empty = sock.queue.is_empty();
        sock.queued_bytes += data.len();
        sock.queue.push_back((SocketAddr::new(src, sport), copy));
        if was_empty {
            self.events
                .push(&mut sock.pending, EventKind::Readable, handle, None);
        }
        Ok(())
    }

    fn udp_handle(&self, i: u32) -> u64 {
        handle::encode(Kind::Udp, i, self.udp.generation(i).unwrap_or(0))
    }

    /// Exact address first, then the family's unspecified address, then `::` (both families).
    fn find_udp(&self, dst: IpAddr, port: u16) -> Option<u32> {
        if let Some(i) = self.udp_map.get(&(addr16(dst), port)) {
            return Some(*i);
        }
        if dst.is_ipv4() {
            if let Some(i) = self.udp_map.get(&(any_v4(), port)) {
                return Some(*i);
            }
        }
        self.udp_map.get(&([0; 16], port)).copied()
    }

    fn udp_index(&self, u: UdpHandle) -> Result<u32, Error> {
        let (i, g) = handle::decode(Kind::Udp, u.raw()).ok_or(Error::InvalidHandle)?;
        self.udp.get(i, g).map(|_| i).ok_or(Error::InvalidHandle)
    }

    /// Binds a UDP socket. An unspecified address binds every address of its
    /// family (`::` binds IPv4 too); port 0 picks an ephemeral port.
    pub fn udp_bind(&mut self, local: SocketAddr) -> Result<UdpHandle, Error> {
        let ip = local.ip();
        if !ip.is_unspecified() && (!is_unicast(ip) || !self.is_local(ip)) {
            return Err(Error::AddrNotAvailable);
        }
        let a = addr16(ip);
        let mut port = local.port();
        if port == 0 {
            let map = &self.udp_map;
            port = self.ports.pick(ip, None, |p| map.contains_key(&(a, p)))?;
        }
        if self.udp_map.contains_key(&(a, port)) {
            return Err(Error::AddrInUse);
        }
        let sock = UdpSocket {
            local: SocketAddr::new(ip, port),
            queue: VecDeque::new(),
            queued_bytes: 0,
            pending: 0,
        };
        let (i, g) = self.udp.insert(sock).ok_or(Error::Limit)?;
        self.udp_map.insert((a, port), i);
        Ok(UdpHandle(handle::encode(Kind::Udp, i, g)))
    }

    /// The address a UDP socket is bound to (port filled in when it was 0).
    pub fn udp_local_endpoint(&self, u: UdpHandle) -> Result<SocketAddr, Error> {
        let i = self.udp_index(u)?;
        self.udp.at(i).map(|s| s.local).ok_or(Error::InvalidHandle)
    }

    /// Sends one datagram. It must fit the MTU (no fragmentation on output):
    /// larger is InvalidArgument; WouldBlock when the output queue is full.
    pub fn udp_send_to(
        &mut self,
        now: Instant,
        u: UdpHandle,
        to: SocketAddr,
        data: &[u8],
    ) -> Result<(), Error> {
        self.touch(now);
        let i = self.udp_index(u)?;
        let local = self
            .udp
            .at(i)
            .map(|s| s.local)
            .ok_or(Error::InvalidHandle)?;
        if !is_unicast(to.ip()) || to.port() == 0 {
            return Err(Error::InvalidArgument);
        }
        let src = if local.ip().is_unspecified() {
            if local.is_ipv4() && to.is_ipv6() {
                return Err(Error::InvalidArgument);
            }
            self.first_address(to.is_ipv6())
                .ok_or(Error::AddrNotAvailable)?
        } else if local.is_ipv6() != to.is_ipv6() {
            return Err(Error::InvalidArgument);
        } else {
            local.ip()
        };
        let len = packet::udp_packet_len(to.is_ipv6(), data.len());
        if len > self.config.mtu as usize {
            return Err(Error::InvalidArgument);
        }
        if self.outgoing.len() >= super::MAX_OUTGOING {
            return Err(Error::WouldBlock);
        }
        let id = self.next_ip_id();
        let mut p = self.buffer(len);
        packet::emit_udp(&mut p, SocketAddr::new(src, local.port()), to, id, data);
        self.queue_outgoing(Outgoing::Raw(p));
        self.counters.udp_out += 1;
        Ok(())
    }

    /// Receives one datagram; the part beyond `buf` is discarded (like a UDP socket).
    pub fn udp_recv_from(
        &mut self,
        u: UdpHandle,
        buf: &mut [u8],
    ) -> Result<(usize, SocketAddr), Error> {
        let i = self.udp_index(u)?;
        if buf.is_empty() {
            return Err(Error::InvalidArgument);
        }
        let sock = self.udp.at_mut(i).ok_or(Error::InvalidHandle)?;
        let (from, data) = sock.queue.pop_front().ok_or(Error::WouldBlock)?;
        sock.queued_bytes -= data.len();
        let n = data.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), data.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.recycle(data);
        Ok((n, from))
    }

    pub fn udp_close(&mut self, u: UdpHandle) -> Result<(), Error> {
        let i = self.udp_index(u)?;
        if let Some(sock) = self.udp.remove(i) {
            self.udp_map
                .remove(&(addr16(sock.local.ip()), sock.local.port()));
        }
        Ok(())
    }
}
