#!/usr/bin/env bash
# `make bench`: tcpkit against smoltcp on one in-memory link, the byte-work
# floor, and the same bulk transfer through the C ABI and through Python.
# Figures, not tests. Env knobs: see core/benches/compare/main.rs
# (TCPKIT_BENCH_RUNS, TCPKIT_BENCH_MB, ...); TCPKIT_BENCH_PY=0 skips building
# (re)building the Python package (the row then uses whatever is installed in
# target/bench/pyvenv, or is skipped).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
OUT=$ROOT/target/bench
mkdir -p "$OUT"
RUNS=${TCPKIT_BENCH_RUNS:-5}
MB=${TCPKIT_BENCH_MB:-64}

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "times are thread CPU time (CLOCK_THREAD_CPUTIME_ID), so other processes' load mostly cancels"

# ---- 1. Rust: tcpkit vs smoltcp, floor, cycles, scale, memory ----
timeout 900 cargo build --release -p tcpkit --bench compare -q 2>&1 | grep -v '^$' || true
BIN=$(ls -t target/release/deps/compare-* 2>/dev/null | grep -v '\.d$' | head -1)
if [ -z "$BIN" ]; then
  echo "bench: the compare harness did not build"
  exit 1
fi
timeout 1200 "$BIN" | tee "$OUT/compare.txt"
RUST=$(awk '/^goodput MTU 1500 /{print $4}' "$OUT/compare.txt")

# The binding rows run minutes after the Rust table, under whatever load the
# shared machine has then; their ratios use a Rust figure measured right
# beside them (same command as the table's MTU 1500 tcpkit row), so the
# ratio compares like with like.
RUST_TABLE=$RUST
NEAR=$(TCPKIT_BENCH_ONLY=bulk TCPKIT_BENCH_MTUS=1500 TCPKIT_BENCH_IMPL=tcpkit timeout 600 "$BIN" |
  awk '/^goodput MTU 1500 /{print $4}')
RUST=${NEAR:-$RUST}
echo
echo "== bindings: bulk goodput MTU 1500, $MB MB per run, median of $RUNS (fraction of the Rust figure ${RUST:-?} Gbit/s, re-measured beside them; table: ${RUST_TABLE:-?})"
# ---- 2. C ABI ----
C_ROW=""
if timeout 900 cargo build --release -p tcpkit-ffi -q 2>"$OUT/ffi-build.log" &&
  [ -f target/release/libtcpkit_ffi.a ] && [ -f include/tcpkit.h ] &&
  cc -O2 -std=c11 -Wall -Wextra -Iinclude ffi/benches/bulk.c target/release/libtcpkit_ffi.a \
    -lpthread -ldl -lm -o "$OUT/bulk_c" 2>>"$OUT/ffi-build.log"; then
  C=$(timeout 600 "$OUT/bulk_c" 1500 "$MB" "$RUNS" | awk '/^c_abi_goodput_gbps/{print $2}')
  C_ROW=$C
  printf '%-44s %12s  Gbit/s  %s of Rust\n' "C ABI (ffi/benches/bulk.c, libtcpkit.a)" "${C:-failed}" \
    "$(awk -v a="${C:-0}" -v b="${RUST:-0}" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "?" }')"
else
  echo "C ABI row skipped: libtcpkit or include/tcpkit.h did not build (see $OUT/ffi-build.log)"
fi

# ---- 3. Python ----
PY=$OUT/pyvenv/bin/python
# Rebuilt every time (incremental, shares target/), so the row measures this tree.
if [ "${TCPKIT_BENCH_PY:-1}" != 0 ]; then
  echo "building the Python package (release) into $OUT/pyvenv ..."
  { [ -x "$PY" ] || python3 -m venv "$OUT/pyvenv"; } &&
    MATURIN_PEP517_ARGS="--profile release" CARGO_TARGET_DIR="$ROOT/target" \
      timeout 900 "$PY" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps ./python >"$OUT/py-build.log" 2>&1 ||
    echo "(Python build failed, see $OUT/py-build.log)"
fi
P_ROW=""
if "$PY" -c 'import tcpkit' 2>/dev/null; then
  P=$(cd "$OUT" && timeout 900 "$PY" "$ROOT/python/benches/bulk.py" 1500 "$MB" "$RUNS" | awk '/^python_goodput_gbps/{print $2}')
  P_ROW=$P
  printf '%-44s %12s  Gbit/s  %s of Rust\n' "Python (python/benches/bulk.py, batched)" "${P:-failed}" \
    "$(awk -v a="${P:-0}" -v b="${RUST:-0}" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "?" }')"
else
  echo "Python row skipped: the tcpkit package is not built/importable (TCPKIT_BENCH_PY=0 or build failed)"
fi

# ---- 4. targets ----
echo
echo "== targets"
f() { awk "/^$1/{print \$$2}" "$OUT/compare.txt" | head -1; }
check() { # name, expression value, condition text, awk condition
  local ok
  ok=$(awk -v v="$2" "BEGIN{ if (v != \"\" && ($4)) print \"holds\"; else print \"FAILS\" }")
  printf '%-52s %-6s (%s; measured %s)\n' "$1" "$ok" "$3" "${2:-n/a}"
}
R1500=$(f "goodput MTU 1500 " 6)
check "goodput MTU 1500 >= 1.5x smoltcp" "$R1500" "ratio" "v >= 1.5"
FL=$(f "tcpkit goodput MTU 1500 \\/ floor" 7)
check "goodput MTU 1500 >= 50% of the floor" "$FL" "fraction" "v >= 0.5"
CY=$(f "cycles per second" 6)
check "connect+1KB+close cycles/s >= 2x smoltcp" "$CY" "ratio" "v >= 2"
SC=$(f "tcpkit cost at 100k \\/ cost at 10k" 9)
check "exchange cost at 100k <= 1.5x at 10k" "$SC" "ratio" "v <= 1.5"
HP=$(f "heap per idle connection end" 6)
check "heap per idle connection <= 512 B" "$HP" "bytes" "v <= 512"
CR=$(awk -v a="${C_ROW:-}" -v b="${RUST:-0}" 'BEGIN{ if (a != "" && b > 0) printf "%.3f", a / b }')
check "C ABI >= 90% of Rust" "$CR" "fraction" "v >= 0.9"
check "Python >= 2 Gbit/s" "${P_ROW:-}" "Gbit/s" "v >= 2"
