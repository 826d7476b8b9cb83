//! cargo-fuzz target `stack_feed`: the body is `tcpkit_fuzz::targets::stack_feed`, which the
//! stable driver core/tests/hostile_fuzz.rs also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tcpkit_fuzz::targets::stack_feed(data);
});
