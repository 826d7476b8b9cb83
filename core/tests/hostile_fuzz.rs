//! Stable seeded random-input fuzzing of every fuzz target (the same bodies
//! cargo-fuzz runs, from `fuzz/src/targets.rs`): random inputs and mutations
//! of kernel-captured packets. CI budget by default; more with
//! `TCPKIT_FUZZ_ITERS=<per target>` or `TCPKIT_FUZZ_SECONDS=<per target>`;
//! `TCPKIT_FUZZ_SEED=<u64>` replays a run. The seed is printed on failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../fuzz/src/targets.rs"]
mod targets;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// splitmix64: small, seedable, good enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    let stem = name.strip_suffix(".hex")?.to_string();
                    let text = std::fs::read_to_string(e.path()).ok()?;
                    Some((stem, targets::decode_hex(&text)?))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

const INTERESTING: [u8; 8] = [0, 1, 0x7f, 0x80, 0xff, 0x40, 5, 0x45];

/// One libFuzzer-style mutation (bit flip, interesting byte/u16, insert,
/// delete, truncate, extend, splice with another seed).
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    let len = input.len();
    match rng.below(9) {
        0 if len > 0 => {
            let i = rng.below(len);
            input[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            input[i] = INTERESTING[rng.below(INTERESTING.len())];
        }
        2 if len > 1 => {
            let i = rng.below(len - 1);
            let v: u16 = match rng.below(4) {
                0 => 0,
                1 => 0xffff,
                2 => len as u16,
                _ => (len as u16)
                    .wrapping_add(rng.below(16) as u16)
                    .wrapping_sub(8),
            };
            input[i..i + 2].copy_from_slice(&v.to_be_bytes());
        }
        3 => {
            let i = rng.below(len + 1);
            input.insert(i, rng.byte());
        }
        4 if len > 0 => {
            input.remove(rng.below(len));
        }
        5 => input.truncate(rng.below(len + 1)),
        6 => {
            let n = rng.below(64);
            input.extend((0..n).map(|_| rng.byte()));
        }
        7 if !seeds.is_empty() => {
            let other = &seeds[rng.below(seeds.len())];
            let from = rng.below(other.len() + 1);
            let at = rng.below(len + 1);
            input.truncate(at);
            input.extend_from_slice(&other[from..]);
        }
        _ if len > 0 => {
            let i = rng.below(len);
            input[i] = rng.byte();
        }
        _ => input.push(rng.byte()),
    }
}

/// The next input: pure random bytes, or a seed mutated 1..8 times.
fn next_input(rng: &mut Rng, seeds: &[Vec<u8>], max_len: usize) -> Vec<u8> {
    if seeds.is_empty() || rng.below(4) == 0 {
        let n = rng.below(max_len + 1);
        return (0..n).map(|_| rng.byte()).collect();
    }
    let mut v = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(8) {
        mutate(rng, &mut v, seeds);
    }
    v
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

/// Runs `target` for its iteration or time budget; returns executions.
fn drive(target: &str, default_iters: u64) -> u64 {
    let seed = env_u64("TCPKIT_FUZZ_SEED").unwrap_or(0x7c9_1c0d_e5ee_d000);
    let mut rng = Rng(seed
        ^ target
            .bytes()
            .fold(0u64, |h, b| h.rotate_left(5) ^ u64::from(b)));
    let seeds = targets::seed_inputs(target, &fixtures());
    let iters = env_u64("TCPKIT_FUZZ_ITERS").unwrap_or(default_iters);
    let budget = env_u64("TCPKIT_FUZZ_SECONDS").map(Duration::from_secs);
    let max_len = if target == "stack_feed" { 600 } else { 200 };
    let start = Instant::now();
    let mut execs = 0u64;
    // Seeds as captured first, then random and mutated inputs.
    let mut queue: Vec<Vec<u8>> = seeds.clone();
    loop {
        let done = match budget {
            Some(b) => start.elapsed() >= b,
            None => execs >= iters,
        };
        if done {
            break;
        }
        let input = queue
            .pop()
            .unwrap_or_else(|| next_input(&mut rng, &seeds, max_len));
        let r = catch_unwind(AssertUnwindSafe(|| targets::run(target, &input)));
        match r {
            Ok(true) => {}
            Ok(false) => panic!("unknown target {target}"),
            Err(_) => panic!(
                "target {target} failed (TCPKIT_FUZZ_SEED={seed}, execution {execs}); input hex: {}",
                input.iter().map(|b| format!("{b:02x}")).collect::<String>()
            ),
        }
        execs += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "fuzz {target}: {execs} executions in {secs:.2} s ({:.0}/s), {} seeds, seed {seed}",
        execs as f64 / secs.max(1e-9),
        seeds.len()
    );
    execs
}

#[test]
fn fuzz_ipv4() {
    assert!(drive("ipv4", 100_000) > 0);
}

#[test]
fn fuzz_ipv6() {
    assert!(drive("ipv6", 100_000) > 0);
}

#[test]
fn fuzz_tcp() {
    assert!(drive("tcp", 100_000) > 0);
}

#[test]
fn fuzz_udp() {
    assert!(drive("udp", 100_000) > 0);
}

#[test]
fn fuzz_icmpv4() {
    assert!(drive("icmpv4", 100_000) > 0);
}

#[test]
fn fuzz_icmpv6() {
    assert!(drive("icmpv6", 100_000) > 0);
}

#[test]
fn fuzz_stack_feed() {
    assert!(drive("stack_feed", 5_000) > 0);
}

#[test]
fn seeds_exist_for_every_target() {
    let fx = fixtures();
    assert!(fx.len() >= 20, "kernel fixtures missing: {}", fx.len());
    for t in targets::TARGETS {
        assert!(!targets::seed_inputs(t, &fx).is_empty(), "no seeds for {t}");
    }
}

/// The fixture's transfer check can fail: a corrupted byte is detected.
#[test]
fn live_fixture_detects_a_broken_connection() {
    let mut f = targets::LiveFixture::new();
    assert!(f.transfer_both_ways(2000, 3));
    f.server.abort(f.conn).unwrap();
    f.run_for(100);
    assert!(!f.transfer_both_ways(2000, 4));
}

/// An exact-sequence RST on the fixture's 4-tuple resets it (so the
/// stack_feed target's checks see real segments), a wrong one does not.
#[test]
fn live_fixture_segments_reach_the_connection() {
    let mut f = targets::LiveFixture::new();
    let info = f.server.info(f.conn).unwrap();
    let mut tcp = vec![0u8; 20];
    tcp[4..8].copy_from_slice(&12345u32.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = 0x04; // RST, far out of window
    let mut input = vec![2u8];
    input.extend_from_slice(&20u16.to_be_bytes());
    input.extend_from_slice(&tcp);
    targets::feed_into(&mut f, &input);
    let after = f.server.info(f.conn).unwrap();
    assert_eq!(after.tcp.segs_received, info.tcp.segs_received + 1);
    assert_eq!(after.tcp.state, info.tcp.state);
}

/// The committed seed corpora `fuzz/corpus/<target>/seed-*` are exactly what
/// the kernel fixtures give; `TCPKIT_WRITE_CORPUS=1` rewrites them.
#[test]
fn committed_corpus_matches_the_fixtures() {
    let write = std::env::var("TCPKIT_WRITE_CORPUS").as_deref() == Ok("1");
    let fx = fixtures();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus");
    for t in targets::TARGETS {
        let dir = format!("{root}/{t}");
        let seeds = targets::seed_inputs(t, &fx);
        if write {
            std::fs::create_dir_all(&dir).unwrap();
        }
        for (i, s) in seeds.iter().enumerate() {
            let path = format!("{dir}/seed-{i:03}");
            if write {
                std::fs::write(&path, s).unwrap();
            } else {
                let on_disk = std::fs::read(&path).unwrap_or_default();
                assert!(
                    &on_disk == s,
                    "{path} is stale: run with TCPKIT_WRITE_CORPUS=1"
                );
            }
        }
    }
}
