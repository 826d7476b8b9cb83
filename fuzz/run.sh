#!/usr/bin/env bash
# make fuzz: run every fuzz target for FUZZ_SECONDS (default 60) each.
#  1. `cargo fuzz` with a nightly toolchain: libFuzzer via cargo-fuzz.
#  2. a nightly toolchain without cargo-fuzz: the same libFuzzer build done
#     by hand (sancov + ASan flags as cargo-fuzz sets them).
#  3. stable only: the seeded random-input drivers (core/tests/hostile_fuzz.rs,
#     ffi/tests/fuzz_abi.rs) for the same time budget, in release mode.
# Executions per target are printed in every mode. FUZZ_MODE=stable|nightly|cargo-fuzz forces one.
set -euo pipefail
cd "$(dirname "$0")"
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
TARGETS=(ipv4 ipv6 tcp udp icmpv4 icmpv6 stack_feed c_abi)
mode=${FUZZ_MODE:-}
if [[ -z "$mode" ]]; then
    if cargo +nightly --version >/dev/null 2>&1; then
        if cargo +nightly fuzz --version >/dev/null 2>&1; then mode=cargo-fuzz; else mode=nightly; fi
    else
        mode=stable
    fi
fi
echo "fuzz: mode $mode, ${FUZZ_SECONDS}s per target"
mkdir -p artifacts

report() { # target logfile
    local execs
    execs=$(grep -Eo '#[0-9]+' "$2" | tail -1 | tr -d '#' || true)
    echo "fuzz $1: ${execs:-0} executions in ${FUZZ_SECONDS}s"
}

case "$mode" in
cargo-fuzz)
    for t in "${TARGETS[@]}"; do
        mkdir -p "corpus/$t" "target/corpus/$t"
        log=$(mktemp)
        # New inputs go to target/corpus (first dir); the committed seeds stay as they are.
        cargo +nightly fuzz run "$t" "target/corpus/$t" "corpus/$t" -- -max_total_time="$FUZZ_SECONDS" \
            -rss_limit_mb=2048 2>&1 | tee "$log" | grep -E 'DONE|crash|panicked|ERROR' || true
        report "$t" "$log"
        if grep -q -E 'crash-|panicked|ERROR: ' "$log"; then echo "fuzz $t: FAILED (see artifacts/)"; exit 1; fi
        rm -f "$log"
    done
    ;;
nightly)
    triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
    export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Zsanitizer=address \
-Cdebug-assertions -Coverflow-checks"
    cargo +nightly build --release --target "$triple" --bins --target-dir target/libfuzzer
    for t in "${TARGETS[@]}"; do
        mkdir -p "corpus/$t" "artifacts/$t" "target/corpus/$t"
        log=$(mktemp)
        set +e
        "target/libfuzzer/$triple/release/$t" "target/corpus/$t" "corpus/$t" -max_total_time="$FUZZ_SECONDS" \
            -rss_limit_mb=2048 -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"$log" 2>&1
        rc=$?
        set -e
        report "$t" "$log"
        if [[ $rc -ne 0 ]]; then
            grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -20
            echo "fuzz $t: FAILED (rc $rc, log $log, reproducer in artifacts/$t/)"
            exit 1
        fi
        rm -f "$log"
    done
    ;;
stable)
    cd ..
    # One target at a time so each gets the whole budget.
    for t in ipv4 ipv6 tcp udp icmpv4 icmpv6 stack_feed; do
        TCPKIT_FUZZ_SECONDS=$FUZZ_SECONDS cargo test --release -p tcpkit --test hostile_fuzz "fuzz_$t" \
            -- --exact --nocapture 2>&1 | grep -E '^fuzz |panicked|FAILED' || { echo "fuzz $t: FAILED"; exit 1; }
    done
    TCPKIT_FUZZ_SECONDS=$FUZZ_SECONDS cargo test --release -p tcpkit-ffi --test fuzz_abi fuzz_c_abi \
        -- --exact --nocapture 2>&1 | grep -E '^fuzz |panicked|FAILED' || { echo "fuzz c_abi: FAILED"; exit 1; }
    ;;
*)
    echo "fuzz: unknown FUZZ_MODE $mode"; exit 2 ;;
esac
