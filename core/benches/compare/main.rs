//! tcpkit against smoltcp 0.12 on the same in-memory link, and the byte-work
//! floor. One binary, one run, every figure printed with the ratio
//! tcpkit/smoltcp and the median of several runs (`make bench`).
//!
//! Fairness: both implementations run two hosts in one thread on virtual time
//! (the clock jumps to the next deadline only when nothing else can happen),
//! packets are handed over directly (no loss, no queueing delay), packet
//! buffers are reused on both sides, checksums are computed and verified by
//! both, buffer sizes, MTU and data are the same.
//!
//! Environment (all optional):
//! - `TCPKIT_BENCH_RUNS` runs per figure (median quoted), default 5
//! - `TCPKIT_BENCH_MB` megabytes per bulk run, default 64
//! - `TCPKIT_BENCH_CYCLES` connect+1KB+close cycles per run, default 20000
//! - `TCPKIT_BENCH_SCALE_MAX` largest concurrent-connection count, default 100000
//! - `TCPKIT_BENCH_SCALE_MIN` smallest concurrent-connection count, default 10
//! - `TCPKIT_BENCH_SCALE_NS` comma list of connection counts, default 10,1000,10000,100000
//!   (e.g. 100000: only the 100k row, for callgrind)
//! - `TCPKIT_BENCH_SMOL_SCALE_MAX` largest count for smoltcp, default 10000
//! - `TCPKIT_BENCH_IDLE` idle connections for the RSS figure, default 1000000
//! - `TCPKIT_BENCH_ONLY` comma list of sections: bulk,floor,cycles,scale,idle
//! - `TCPKIT_BENCH_IMPL` tcpkit|smoltcp: one side only of bulk and cycles, for profiling;
//!   `TCPKIT_BENCH_MTUS` e.g. 1500: bulk subset

mod smol;
mod tk;

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::time::Instant as Wall;

use tcpkit::wire::checksum;

#[path = "../../tests/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::LIVE;

pub fn live_heap() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Resident set size of this process in bytes (VmRSS), 0 if unreadable.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// A stopwatch on this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so
/// other processes' load on the shared machine does not count; wall time if
/// that clock fails.
#[derive(Debug)]
pub struct Clock {
    cpu: Option<f64>,
    wall: Wall,
}

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

extern "C" {
    fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
}

/// Linux's CLOCK_THREAD_CPUTIME_ID.
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

fn thread_cpu_secs() -> Option<f64> {
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec (x86_64/aarch64 Linux layout).
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9)
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            cpu: thread_cpu_secs(),
            wall: Wall::now(),
        }
    }

    /// Seconds since `start`.
    pub fn secs(&self) -> f64 {
        match (self.cpu, thread_cpu_secs()) {
            (Some(a), Some(b)) => b - a,
            _ => self.wall.elapsed().as_secs_f64(),
        }
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn section(name: &str) -> bool {
    match std::env::var("TCPKIT_BENCH_ONLY") {
        Ok(list) => list.split(',').any(|s| s.trim() == name),
        Err(_) => true,
    }
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The deterministic test pattern both implementations send.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn row(name: &str, unit: &str, tk: f64, sm: Option<f64>) {
    match sm {
        Some(s) if s.is_finite() && s > 0.0 => {
            println!("{name:<44} {tk:>12.3} {s:>12.3} {:>8.2}  {unit}", tk / s)
        }
        _ => println!("{name:<44} {tk:>12.3} {:>12} {:>8}  {unit}", "-", "-"),
    }
}

fn header(title: &str) {
    println!();
    println!("== {title}");
    println!(
        "{:<44} {:>12} {:>12} {:>8}  unit",
        "figure (median)", "tcpkit", "smoltcp", "ratio"
    );
}

/// Bulk goodput in Gbit/s of payload, median of `runs`.
fn bench_bulk(runs: usize, bytes: usize) -> f64 {
    header(&format!(
        "bulk goodput, {} MB per run, 256 KiB buffers, median of {runs}",
        bytes >> 20
    ));
    let mut tk1500 = 0.0;
    // TCPKIT_BENCH_MTUS=1500,9000 limits the MTUs (for profiling).
    let mtus: Vec<usize> = std::env::var("TCPKIT_BENCH_MTUS")
        .ok()
        .map(|v| v.split(',').filter_map(|m| m.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1500, 9000, 65535]);
    for mtu in mtus {
        // TCPKIT_BENCH_IMPL=tcpkit|smoltcp runs one side only (for profiling).
        let only = std::env::var("TCPKIT_BENCH_IMPL").unwrap_or_default();
        // One untimed run each first: page faults of a fresh heap are not the stack's cost.
        let t: Vec<f64> = (0..=runs)
            .filter(|_| only != "smoltcp")
            .map(|_| tk::bulk(mtu, bytes))
            .collect();
        let s: Vec<f64> = (0..=runs)
            .filter(|_| only != "tcpkit")
            .map(|_| smol::bulk(mtu, bytes))
            .collect();
        let (t, s) = (
            t.get(1..).unwrap_or(&[]).to_vec(),
            s.get(1..).unwrap_or(&[]).to_vec(),
        );
        let (t, s) = (median(t), median(s));
        if mtu == 1500 {
            tk1500 = t;
        }
        row(&format!("goodput MTU {mtu}"), "Gbit/s", t, Some(s));
    }
    tk1500
}

/// Scalar reference: one byte at a time, no library routine.
#[inline(never)]
fn scalar_copy(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = black_box(*s);
    }
}

/// Scalar reference checksum: 16-bit words summed one by one.
#[inline(never)]
fn scalar_sum(data: &[u8], mut sum: u32) -> u32 {
    let mut it = data.chunks_exact(2);
    for w in &mut it {
        sum = black_box(sum.wrapping_add(u32::from(u16::from_be_bytes([w[0], w[1]]))));
        sum = (sum & 0xffff) + (sum >> 16);
    }
    if let [b] = it.remainder() {
        sum += u32::from(*b) << 8;
    }
    sum
}

/// Scalar fused copy + checksum.
#[inline(never)]
fn scalar_copy_sum(dst: &mut [u8], src: &[u8], sum: u32) -> u32 {
    scalar_copy(dst, src);
    scalar_sum(dst, sum)
}

/// The per-byte work of one transfer at MSS `mss`: app -> send ring copy,
/// ring -> packet fused copy+checksum, receive checksum+copy into the
/// receive ring (fused), ring -> app copy. Returns Gbit/s of payload.
fn floor_run(mss: usize, bytes: usize, fast: bool) -> f64 {
    let app = pattern(64 * 1024);
    let mut ring_tx = vec![0u8; 256 * 1024];
    let mut ring_rx = vec![0u8; 256 * 1024];
    let mut pkt = vec![0u8; mss];
    let mut app_rx = vec![0u8; 64 * 1024];
    let mut done = 0usize;
    let t0 = Clock::start();
    let mut acc = 0u32;
    while done < bytes {
        // 64 KiB app write, split into MSS packets, then a 64 KiB app read.
        let tx_off = done % ring_tx.len();
        let tx = &mut ring_tx[tx_off..tx_off + app.len()];
        if fast {
            tx.copy_from_slice(&app);
        } else {
            scalar_copy(tx, &app);
        }
        for (i, chunk) in tx.chunks(mss).enumerate() {
            let p = &mut pkt[..chunk.len()];
            let rx = &mut ring_rx[tx_off + i * mss..tx_off + i * mss + chunk.len()];
            if fast {
                acc = acc.wrapping_add(checksum::copy_with_checksum(p, chunk, 0));
                acc = acc.wrapping_add(checksum::copy_with_checksum(rx, p, 0));
            } else {
                acc = acc.wrapping_add(scalar_copy_sum(p, chunk, 0));
                acc = acc.wrapping_add(scalar_copy_sum(rx, p, 0));
            }
        }
        let rx = &ring_rx[tx_off..tx_off + app_rx.len()];
        if fast {
            app_rx.copy_from_slice(rx);
        } else {
            scalar_copy(&mut app_rx, rx);
        }
        black_box(&app_rx);
        done += app.len();
    }
    black_box(acc);
    let secs = t0.secs();
    assert_eq!(app_rx, app, "floor loop moved the data");
    done as f64 * 8.0 / secs / 1e9
}

fn bench_floor(runs: usize, bytes: usize, tk1500: Option<f64>) {
    println!();
    println!("== byte-work floor (copies + checksums only), median of {runs}");
    println!(
        "{:<44} {:>12} {:>12}  unit",
        "figure (median)", "fast", "scalar"
    );
    for mss in [1460usize, 8960, 65495] {
        let f = median((0..runs).map(|_| floor_run(mss, bytes, true)).collect());
        let s = median(
            (0..runs)
                .map(|_| floor_run(mss, bytes / 4, false))
                .collect(),
        );
        println!(
            "{:<44} {f:>12.3} {s:>12.3}  Gbit/s",
            format!("floor MSS {mss}")
        );
        if mss == 1460 {
            if let Some(t) = tk1500 {
                println!(
                    "{:<44} {:>12.3} {:>12.3}  fraction",
                    "tcpkit goodput MTU 1500 / floor",
                    t / f,
                    t / s
                );
            }
        }
    }
}

fn bench_cycles(runs: usize, cycles: usize) {
    header(&format!(
        "connect + 1 KB + close (incl. TIME-WAIT expiry), {cycles} cycles per run, median of {runs}"
    ));
    // TCPKIT_BENCH_IMPL=tcpkit|smoltcp runs one side only (for profiling).
    let only = std::env::var("TCPKIT_BENCH_IMPL").unwrap_or_default();
    let t = median(
        (0..runs)
            .filter(|_| only != "smoltcp")
            .map(|_| tk::cycles(cycles))
            .collect(),
    );
    let s = median(
        (0..runs)
            .filter(|_| only != "tcpkit")
            .map(|_| smol::cycles(cycles))
            .collect(),
    );
    row("cycles per second", "cycles/s", t, Some(s));
}

fn bench_scale(runs: usize, min: usize, max: usize, smol_max: usize) {
    header(&format!(
        "one 100-byte request/response exchange, N concurrent connections, 2 KiB buffers, median of {runs}"
    ));
    let mut tk_at = Vec::new();
    // TCPKIT_BENCH_SCALE_NS=10,1000,... replaces the default counts (for probing where the caches end).
    let counts: Vec<usize> = match std::env::var("TCPKIT_BENCH_SCALE_NS") {
        Ok(list) => list
            .split(',')
            .filter_map(|x| x.trim().parse().ok())
            .collect(),
        Err(_) => vec![10, 1_000, 10_000, 100_000],
    };
    for n in counts.into_iter().filter(|n| *n >= min && *n <= max) {
        let (t_ns, t_heap, (timer_ops, visits)) = tk::scale(n, runs);
        let s = if n <= smol_max {
            Some(smol::scale(n, runs))
        } else {
            None
        };
        row(
            &format!("exchange cost, {n} conns"),
            "µs/exchange",
            t_ns / 1e3,
            s.map(|(ns, _)| ns / 1e3),
        );
        row(
            &format!("heap per established conn end, {n} conns"),
            "bytes",
            t_heap,
            s.map(|(_, h)| h),
        );
        println!(
            "{:<44} {timer_ops:>12.2} {visits:>12.2}  (tcpkit: timer-queue ops, connection visits)",
            format!("work per exchange, {n} conns")
        );
        tk_at.push((n, t_ns));
    }
    if smol_max < max {
        println!("smoltcp stops at {smol_max} connections here (TCPKIT_BENCH_SMOL_SCALE_MAX): its poll visits every socket, so setup and each exchange are O(N), and each socket preallocates both buffers");
    }
    let at = |k: usize| tk_at.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
    if let (Some(a), Some(b)) = (at(10_000), at(100_000)) {
        println!(
            "{:<44} {:>12.3}              (target <= 1.5)",
            "tcpkit cost at 100k / cost at 10k",
            b / a
        );
    }
}

fn bench_idle(n: usize) {
    println!();
    println!("== idle established connections in one stack (tcpkit)");
    let (heap_per, rss, secs) = tk::idle(n);
    use std::mem::size_of;
    use tcpkit::tcp;
    // Where the per-connection bytes are (public parts of tcp::Connection).
    for (name, size) in [
        ("size_of::<tcp::Connection>()", size_of::<tcp::Connection>()),
        (
            "  of which tcp::timers::Timers",
            size_of::<tcp::timers::Timers>(),
        ),
        (
            "  of which tcp::cc::Controller",
            size_of::<tcp::cc::Controller>(),
        ),
        (
            "  of which tcp::rtt::RttEstimator",
            size_of::<tcp::rtt::RttEstimator>(),
        ),
        (
            "  of which tcp::options::Negotiated",
            size_of::<tcp::options::Negotiated>(),
        ),
        (
            "  of which tcp::options::Offer",
            size_of::<tcp::options::Offer>(),
        ),
        (
            "boxed while in flight: tcp::send::SendBuffer",
            size_of::<tcp::send::SendBuffer>(),
        ),
        (
            "boxed while in flight: tcp::send::Scoreboard",
            size_of::<tcp::send::Scoreboard>(),
        ),
        (
            "boxed while in flight: tcp::recv::RecvBuffer",
            size_of::<tcp::recv::RecvBuffer>(),
        ),
        (
            "TIME-WAIT record tcp::time_wait::TimeWait",
            size_of::<tcp::time_wait::TimeWait>(),
        ),
        (
            "stack::demux::FlowKey",
            size_of::<tcpkit::stack::demux::FlowKey>(),
        ),
        (
            "stack::timer::Entry",
            size_of::<tcpkit::stack::timer::Entry>(),
        ),
    ] {
        println!("{name:<44} {size:>12}  bytes");
    }
    println!("{:<44} {n:>12}", "connections (ends in the measured stack)");
    println!(
        "{:<44} {heap_per:>12.1}  bytes (target <= 512)",
        "heap per idle connection end"
    );
    println!(
        "{:<44} {:>12.1}  MiB (whole process: both stacks)",
        "VmRSS",
        rss as f64 / (1024.0 * 1024.0)
    );
    println!("{:<44} {secs:>12.1}  s", "setup time");
}

fn main() {
    let runs = env_usize("TCPKIT_BENCH_RUNS", 5).max(1);
    let bytes = env_usize("TCPKIT_BENCH_MB", 64).max(1) << 20;
    println!(
        "tcpkit {} vs smoltcp 0.12, release build, {} runs per figure",
        env!("CARGO_PKG_VERSION"),
        runs
    );
    let mut tk1500 = None;
    if section("bulk") {
        tk1500 = Some(bench_bulk(runs, bytes));
    }
    if section("floor") {
        bench_floor(runs, bytes, tk1500);
    }
    if section("cycles") {
        bench_cycles(runs, env_usize("TCPKIT_BENCH_CYCLES", 20_000));
    }
    if section("scale") {
        bench_scale(
            runs,
            env_usize("TCPKIT_BENCH_SCALE_MIN", 10),
            env_usize("TCPKIT_BENCH_SCALE_MAX", 100_000),
            env_usize("TCPKIT_BENCH_SMOL_SCALE_MAX", 10_000),
        );
    }
    if section("idle") {
        bench_idle(env_usize("TCPKIT_BENCH_IDLE", 1_000_000));
    }
}
