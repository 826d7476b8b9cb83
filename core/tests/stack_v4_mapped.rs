//! IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) stay off the wire (RFC 4291
//! §2.5.5.2): the stack refuses them as local or remote addresses and drops
//! IPv6 packets that carry one, since the demux keeps IPv4 flows in that
//! form and such a packet would otherwise alias an IPv4 flow.

#[path = "stack_util.rs"]
mod util;

use tcpkit::stack::{Error, ListenAddr};
use tcpkit::Instant;
use util::*;

const MAPPED_B4: &str = "::ffff:192.0.2.2";
const MAPPED_A4: &str = "::ffff:192.0.2.1";

/// A SYN to port 80 over IPv6 from `src` to `dst`.
fn syn6(src: &str, dst: &str) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&40000u16.to_be_bytes());
    t[2..4].copy_from_slice(&80u16.to_be_bytes());
    t[4..8].copy_from_slice(&1000u32.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = 0x02;
    t[14..16].copy_from_slice(&65535u16.to_be_bytes());
    ipv6_packet(src, dst, 6, &t, Some(16))
}

#[test]
fn a_mapped_address_is_neither_local_nor_remote() {
    let mut s = stack_with(config(1), &[B4, B6]);
    assert_eq!(s.add_address(ip(MAPPED_B4)), Err(Error::InvalidArgument));
    assert_eq!(
        s.connect(Instant::ZERO, sa(MAPPED_A4, 80), 0).err(),
        Some(Error::InvalidArgument),
        "an IPv4 peer is connected to by its IPv4 address"
    );
    assert_eq!(
        s.udp_bind(sa(MAPPED_B4, 53)).err(),
        Some(Error::AddrNotAvailable),
        "not one of the stack's addresses"
    );
    assert_eq!(s.counters().connections_active, 0);
}

#[test]
fn an_ipv6_packet_from_a_mapped_source_is_dropped_as_malformed() {
    let mut s = stack_with(config(1), &[B4, B6]);
    let l = s.listen(ListenAddr::Any, 80, 8).expect("listen");
    let before = *s.counters();
    assert!(s.feed(Instant::ZERO, &syn6(MAPPED_A4, B6)).is_err());
    let after = *s.counters();
    assert_eq!(after.dropped_malformed, before.dropped_malformed + 1);
    assert_eq!(after.rst_sent, before.rst_sent, "no answer to it");
    let mut buf = [0u8; 1500];
    assert!(
        s.poll_transmit(Instant::ZERO, &mut buf).is_err(),
        "nothing to send"
    );
    assert!(s.accept(l).is_err());
    // The same SYN from a real IPv6 source opens a connection.
    s.feed(Instant::ZERO, &syn6(A6, B6))
        .expect("a proper IPv6 SYN");
    assert!(s.poll_transmit(Instant::ZERO, &mut buf).is_ok(), "SYN-ACK");
}

#[test]
fn an_ipv6_packet_to_a_mapped_destination_is_not_for_us() {
    let mut cfg = config(1);
    cfg.accept_any_destination = true;
    let mut s = stack_with(cfg, &[B4, B6]);
    s.listen(ListenAddr::Any, 80, 8).expect("listen");
    let before = *s.counters();
    assert!(s.feed(Instant::ZERO, &syn6(A6, MAPPED_B4)).is_err());
    assert_eq!(
        s.counters().dropped_not_for_us,
        before.dropped_not_for_us + 1
    );
    let mut buf = [0u8; 1500];
    assert!(s.poll_transmit(Instant::ZERO, &mut buf).is_err());
}
