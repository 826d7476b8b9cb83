//! cargo-fuzz target `icmpv6`: the body is `tcpkit_fuzz::targets::icmpv6`, which the
//! stable driver core/tests/hostile_fuzz.rs also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tcpkit_fuzz::targets::icmpv6(data);
});
