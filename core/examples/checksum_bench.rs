//! Throughput of the Internet checksum on a 1460-byte payload (one Ethernet
//! MSS): plain sum, fused copy + sum, a plain memcpy, and smoltcp's checksum
//! for comparison. Run: `cargo run --release -p tcpkit --example checksum_bench`.
//! `TCPKIT_BENCH_ITERS` sets the iterations per measurement (default 2_000_000).

use std::hint::black_box;
use std::time::Instant;

use tcpkit::wire::checksum;

const LEN: usize = 1460;

fn measure(name: &str, iters: u64, mut f: impl FnMut() -> u32) {
    // Warm up, then take the best of 5 runs to damp noise from a shared machine.
    for _ in 0..iters / 10 {
        black_box(f());
    }
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(f());
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    let gbps = (iters as f64 * LEN as f64) / best / 1e9;
    let ns = best * 1e9 / iters as f64;
    println!("{name:<28} {gbps:7.2} GB/s  {ns:7.1} ns/packet");
}

fn main() {
    let iters: u64 = std::env::var("TCPKIT_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let src: Vec<u8> = (0..LEN as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut dst = vec![0u8; LEN];
    println!("payload {LEN} bytes, {iters} iterations, best of 5");
    measure("checksum (tcpkit)", iters, || {
        checksum::ones_complement_sum(black_box(&src), 0)
    });
    measure("copy+checksum fused (tcpkit)", iters, || {
        checksum::copy_with_checksum(black_box(&mut dst), black_box(&src), 0)
    });
    measure("memcpy (copy_from_slice)", iters, || {
        black_box(&mut dst).copy_from_slice(black_box(&src));
        u32::from(dst[LEN - 1])
    });
    // smoltcp does not export its data checksum; its TCP verify_checksum
    // sums the pseudo-header and the whole (here 1460-byte) segment.
    let a = smoltcp::wire::IpAddress::v4(10, 0, 0, 1);
    let b = smoltcp::wire::IpAddress::v4(10, 0, 0, 2);
    let seg = smoltcp::wire::TcpPacket::new_unchecked(&src[..]);
    measure("TCP verify_checksum (smoltcp)", iters, || {
        u32::from(black_box(&seg).verify_checksum(&a, &b))
    });
    let v4 = core::net::Ipv4Addr::new(10, 0, 0, 1);
    let w4 = core::net::Ipv4Addr::new(10, 0, 0, 2);
    let ours = tcpkit::wire::TcpPacket::new_unchecked(&src[..]);
    measure("TCP verify_checksum (tcpkit)", iters, || {
        u32::from(black_box(&ours).verify_checksum_v4(v4, w4))
    });
    assert_eq!(seg.verify_checksum(&a, &b), ours.verify_checksum_v4(v4, w4));
}
