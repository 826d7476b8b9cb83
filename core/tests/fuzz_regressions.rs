//! Inputs the fuzz targets (fuzz/src/targets.rs) once failed on, replayed on
//! stable through the same target bodies.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

#[path = "../../fuzz/src/targets.rs"]
mod targets;

use targets::*;

/// `stack_feed` input of one raw packet (mode 0).
fn raw(pkt: &[u8]) -> Vec<u8> {
    let len = u16::try_from(pkt.len()).expect("short packet");
    [&[0u8][..], &len.to_be_bytes(), pkt].concat()
}

/// A TCP segment from the client address to the server, header + payload,
/// with its checksum made wrong by flipping one payload bit.
fn bad_checksum_segment(src_port: u16, dst_port: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut tcp = vec![0u8; 20];
    tcp[0..2].copy_from_slice(&src_port.to_be_bytes());
    tcp[2..4].copy_from_slice(&dst_port.to_be_bytes());
    tcp[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    tcp[12] = 0x50;
    tcp[13] = flags;
    tcp[14..16].copy_from_slice(&1000u16.to_be_bytes());
    tcp.extend_from_slice(payload);
    let mut pkt = LiveFixture::ipv4_tcp(CLIENT4, &tcp);
    let last = pkt.len() - 1;
    pkt[last] ^= 0x40;
    pkt
}

/// Fuzzing (`make fuzz`, libFuzzer, stack_feed) found: a TCP segment whose
/// checksum fails is found out only after the demux lookup (the payload is
/// verified last, fused with its copy into the receive ring), so a refused
/// packet moved `work_hash_lookups` (and, on a connection's 4-tuple,
/// `work_conn_visits`), which the target's "a refused packet moves only its
/// drop counter" check did not allow. The work counters count work done;
/// the drop accounting must still be exact.
#[test]
fn segments_failing_their_checksum_after_the_lookup() {
    let f = LiveFixture::new();
    let port = f.client_port;
    drop(f);
    // No connection on this 4-tuple (the listener's port, another client port).
    stack_feed(&raw(&bad_checksum_segment(
        port ^ 1,
        LISTEN_PORT,
        0x14,
        &[1, 2, 3],
    )));
    // The established connection's 4-tuple, with data.
    stack_feed(&raw(&bad_checksum_segment(
        port,
        LISTEN_PORT,
        0x18,
        &[7; 100],
    )));
    // The input libFuzzer reported, reduced to the packet that failed.
    let mut pkt = bad_checksum_segment(8001, 59122, 0x14, &[]);
    pkt.resize(199, 0);
    stack_feed(&raw(&pkt));
}
