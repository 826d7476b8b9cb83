//! cargo-fuzz target `tcp`: the body is `tcpkit_fuzz::targets::tcp`, which the
//! stable driver core/tests/hostile_fuzz.rs also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tcpkit_fuzz::targets::tcp(data);
});
