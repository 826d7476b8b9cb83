//! The boxed in-flight part of a connection: released when idle, rebuilt on
//! use, with both streams continuing exactly where they stood.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod tcp_support;
use tcp_support::*;
use tcpkit::tcp::State;

#[test]
fn released_in_flight_part_is_rebuilt_where_the_streams_stood() {
    let mut h = Harness::established_client(&plain_cfg(), 1000, 9000, 60000);
    h.conn.set_nodelay(true);
    let data: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
    assert_eq!(h.conn.send(&data), Ok(2000));
    assert_eq!(h.out().len(), 2);
    h.feed(A | P, 1, 2001, 60000, b"hi");
    assert_eq!(h.read_all(), b"hi".to_vec());
    h.advance(ms(500));
    h.out();
    h.events();
    assert!(h.conn.holds_idle_buffers());
    h.conn.release_idle_buffers();
    assert_eq!(h.conn.heap_bytes(), 0, "nothing held while idle");
    let i = h.conn.info();
    assert_eq!((i.bytes_acked, i.bytes_received), (2000, 2));
    assert_eq!(
        (i.bytes_unsent, i.bytes_unacked, i.bytes_readable),
        (0, 0, 0)
    );
    // Options changed while released apply once it is rebuilt.
    h.conn.set_recv_buffer(40_000);
    assert_eq!(h.conn.recv_buffer(), 40_000);
    assert_eq!(h.conn.info().rcv_wnd, 40_000);
    assert_eq!(h.conn.heap_bytes(), 0, "setting a limit allocates nothing");
    // Both streams continue at the right sequence numbers.
    assert_eq!(h.conn.send(b"more"), Ok(4));
    let seg = h.out();
    assert_eq!(seg.len(), 1);
    assert_eq!((seg[0].seq, seg[0].ack), (2001, 3));
    assert_eq!(seg[0].payload, b"more".to_vec());
    h.feed(A | P, 3, 2005, 60000, b"xyz");
    assert_eq!(h.read_all(), b"xyz".to_vec());
    let i = h.conn.info();
    assert_eq!((i.bytes_acked, i.bytes_received), (2004, 5));
    assert_eq!(h.conn.state(), State::Established);
}
