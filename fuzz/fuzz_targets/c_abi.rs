//! cargo-fuzz target `c_abi`: the body is `tcpkit_fuzz::abi::c_abi`, which the
//! stable driver ffi/tests/fuzz_abi.rs also runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tcpkit_fuzz::abi::c_abi(data);
});
