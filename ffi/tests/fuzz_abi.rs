//! Stable seeded random-input fuzzing of the C ABI (the body cargo-fuzz
//! runs as `c_abi`, from `fuzz/src/abi.rs`): programs of C calls with
//! arbitrary handles, lengths, options, endpoints, strings and NULLs on two
//! linked stacks. `TCPKIT_FUZZ_ITERS` / `TCPKIT_FUZZ_SECONDS` /
//! `TCPKIT_FUZZ_SEED` as in core/tests/hostile_fuzz.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The C ABI's code as a Rust library under the name abi.rs uses
// (tcpkit-ffi builds only the C products; see ffi/Cargo.toml).
extern crate tcpkit_ffi_rs as tcpkit_ffi;

#[path = "../../fuzz/src/abi.rs"]
mod abi;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

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
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Hand-written programs that open a connection and move data, so that
/// mutations start from live handles (see the op encoding in abi.rs).
fn seeds() -> Vec<Vec<u8>> {
    let cfg = [7u8, 7]; // both stacks: default config
    let listen_b = [0x80 | 9, 0, 0x30, 0, 0, 8, 0, 0, 0];
    let connect_a = [12u8, 0, 0x30, 0, 0, 0, 0];
    let burst = [26u8, 0];
    let events_b = [0x80 | 4, 0];
    let events_a = [4u8, 0];
    let accept_b = [0x80 | 10, 0, 0x01];
    let mut s1 = cfg.to_vec();
    for part in [
        &listen_b[..],
        &connect_a,
        &burst,
        &events_a,
        &events_b,
        &accept_b,
        &[14, 0, 0x05, 0x00, 0x10],
        &burst,
        &[0x80 | 15, 0, 0x09, 0x00, 0x10],
        &[16, 0, 0x05, 0],
        &burst,
        &events_b,
        &[17, 0, 0x05],
        &[18, 0, 0x05, 1, 2, 0x10, 0, 0, 0],
        &[5, 0, 0],
    ] {
        s1.extend_from_slice(part);
    }
    let udp = vec![
        7,
        7,
        19,
        0,
        0x30,
        0,
        0,
        0x80 | 19,
        0,
        0x30,
        0,
        0,
        20,
        0,
        0x01,
        0x30,
        0,
        0,
        0x20,
        0,
        26,
        0,
        0x80 | 21,
        0,
        0x02,
        0,
        4,
    ];
    let strings = vec![
        0, 0, 7, 0, 14, b'1', b'9', b'2', b'.', b'0', b'.', b'2', b'.', b'1', b':', b'8', b'0',
        b'8', b'0', 7, 0, 8, b'[', b':', b':', b'1', b']', b':', b'1', b'0', 8, 0, 0x31, 0, 0, 10,
        23, 0, 3, b'1', b':', b'2', 24, 0, 99, 0, 0, 0, 25, 0,
    ];
    vec![s1, udp, strings]
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

#[test]
fn fuzz_c_abi() {
    let seed = env_u64("TCPKIT_FUZZ_SEED").unwrap_or(0xabcd_0001);
    let iters = env_u64("TCPKIT_FUZZ_ITERS").unwrap_or(3000);
    let budget = env_u64("TCPKIT_FUZZ_SECONDS").map(Duration::from_secs);
    let mut rng = Rng(seed);
    let seeds = seeds();
    let mut queue = seeds.clone();
    let start = Instant::now();
    let mut execs = 0u64;
    loop {
        let done = match budget {
            Some(b) => start.elapsed() >= b,
            None => execs >= iters,
        };
        if done {
            break;
        }
        let input = queue.pop().unwrap_or_else(|| {
            if rng.below(4) == 0 {
                let n = rng.below(400);
                (0..n).map(|_| rng.next() as u8).collect()
            } else {
                let mut v = seeds[rng.below(seeds.len())].clone();
                for _ in 0..=rng.below(6) {
                    let len = v.len();
                    match rng.below(5) {
                        0 if len > 0 => {
                            let i = rng.below(len);
                            v[i] = rng.next() as u8;
                        }
                        1 if len > 0 => {
                            let i = rng.below(len);
                            v[i] ^= 1 << rng.below(8);
                        }
                        2 => {
                            let i = rng.below(len + 1);
                            v.insert(i, rng.next() as u8);
                        }
                        3 if len > 0 => {
                            v.remove(rng.below(len));
                        }
                        _ => {
                            // Append a copy of a random slice (repeats whole calls).
                            let a = rng.below(len + 1);
                            let b = a + rng.below(len - a + 1);
                            let part = v[a..b].to_vec();
                            v.extend_from_slice(&part);
                        }
                    }
                }
                v
            }
        });
        if catch_unwind(AssertUnwindSafe(|| abi::c_abi(&input))).is_err() {
            panic!(
                "c_abi failed (TCPKIT_FUZZ_SEED={seed}, execution {execs}); input hex: {}",
                input.iter().map(|b| format!("{b:02x}")).collect::<String>()
            );
        }
        execs += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "fuzz c_abi: {execs} executions in {secs:.2} s ({:.0}/s), seed {seed}",
        execs as f64 / secs.max(1e-9)
    );
    assert!(execs > 0);
}

/// The seed program really opens a connection (so mutations start from live handles).
#[test]
fn seed_program_opens_a_connection() {
    let st = abi::c_abi_stats(&seeds()[0]);
    println!("{st:?}");
    assert_eq!(st.accepted, 1, "{st:?}");
    assert!(st.bytes_sent > 0 && st.bytes_received > 0, "{st:?}");
}

/// The committed corpus `fuzz/corpus/c_abi/seed-*` holds the seed programs;
/// `TCPKIT_WRITE_CORPUS=1` rewrites it.
#[test]
fn committed_corpus_matches_the_seeds() {
    let write = std::env::var("TCPKIT_WRITE_CORPUS").as_deref() == Ok("1");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/c_abi");
    for (i, s) in seeds().iter().enumerate() {
        let path = format!("{dir}/seed-{i:03}");
        if write {
            std::fs::create_dir_all(dir).unwrap();
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
