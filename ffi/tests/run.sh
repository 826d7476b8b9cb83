#!/usr/bin/env bash
# C-level tests of the tcpkit C ABI (`make test-c`):
#   1. include/tcpkit.h is what the pinned cbindgen generates, and compiles as
#      C11 and C++17 with -Wall -Wextra -Werror -pedantic;
#   2. the examples and ffi/tests/misuse.c build with the same strict flags;
#   3. misuse, threads and the in-memory pair demo run plain, under valgrind
#      and with -fsanitize=address,undefined;
#   4. `ffi/install.sh PREFIX` and a program built outside the tree with
#      `pkg-config --cflags --libs tcpkit`;
#   5. as root: tun_echo and tun_http against the Linux kernel in a network
#      namespace (python3 sockets, curl), IPv4 and IPv6, sha256-checked.
# Usage: ffi/tests/run.sh [--regen-header]
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
OUT=$ROOT/target/c-tests
mkdir -p "$OUT"
CBINDGEN_VERSION=0.29.2
STRICT="-std=c11 -Wall -Wextra -Werror -pedantic -g"
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
VALGRIND=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

gen_header() {
  cbindgen --quiet --config ffi/cbindgen.toml --crate tcpkit-ffi --output "$1" ffi
}

if [ "${1:-}" = "--regen-header" ]; then
  gen_header include/tcpkit.h && echo "wrote include/tcpkit.h"
  exit $?
fi

failures=0
n=0
# step NAME CMD...: runs CMD with a time limit, logs its output, prints one line.
step() {
  local name=$1
  shift
  n=$((n + 1))
  local log="$OUT/step-$n.log"
  local t0=$SECONDS
  local runner=(timeout "${STEP_TIMEOUT:-90}")
  # Shell functions bound their own commands (timeouts inside); timeout(1) cannot run them.
  if [ "$(type -t "$1")" = function ]; then runner=(); fi
  if "${runner[@]}" "$@" >"$log" 2>&1; then
    echo "ok    $name ($((SECONDS - t0)) s)"
  else
    echo "FAIL  $name (see $log)"
    tail -n 25 "$log" | sed 's/^/      /'
    failures=$((failures + 1))
  fi
}
skip() { echo "skip  $*"; }

# ---- 1. header ----
check_header_fresh() {
  if ! cbindgen --version 2>/dev/null | grep -q " $CBINDGEN_VERSION\$"; then
    echo "cbindgen $CBINDGEN_VERSION is required (make setup installs it); found: $(cbindgen --version 2>&1)"
    return 1
  fi
  gen_header "$OUT/tcpkit.h" && diff -u include/tcpkit.h "$OUT/tcpkit.h"
}
step "header is up to date (cbindgen $CBINDGEN_VERSION)" check_header_fresh
printf '#include "tcpkit.h"\nint main(void) { tcpkit_config c; tcpkit_config_default(&c); return c.mtu == 1500 ? 0 : 1; }\n' >"$OUT/header_c.c"
cp "$OUT/header_c.c" "$OUT/header_cpp.cpp"
step "header compiles as C11" cc -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude -c "$OUT/header_c.c" -o "$OUT/header_c.o"
step "header compiles as C++17" c++ -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -c "$OUT/header_cpp.cpp" -o "$OUT/header_cpp.o"

# ---- 2. builds ----
PLAIN=$OUT/plain
ASAN=$OUT/asan
step "release library" make -s -C examples/c BUILD="$PLAIN" lib
# The shared library exports exactly the functions the header declares.
check_exports() {
  local lib="$PLAIN/lib/libtcpkit.so.0"
  diff <(nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | sort) \
    <(grep -vE '^ *(//|\*|/\*)' include/tcpkit.h | grep -E '\);$' | grep -oE 'tcpkit_[a-z0-9_]+\(' | tr -d '(' | sort) &&
    ! nm -D --defined-only "$lib" | awk '$2 != "T" && $2 != "U" && $2 != "w" {print}' | grep -v ' tcpkit_' | grep .
}
step "libtcpkit.so.0 exports exactly the header's functions" check_exports
step "examples, strict flags" make -s -C examples/c BUILD="$PLAIN" CFLAGS="$STRICT -O2"
step "examples, ASan+UBSan" make -s -C examples/c BUILD="$ASAN" CFLAGS="$STRICT -O1 $SAN"
build_tests() { # DIR EXTRA_CFLAGS
  cc $STRICT -O1 $2 -Iinclude -o "$1/misuse" ffi/tests/misuse.c -L"$1/lib" -ltcpkit -Wl,-rpath,"$1/lib" &&
    cc $STRICT -O1 $2 -pthread -Iinclude -o "$1/threads" ffi/tests/threads.c -L"$1/lib" -ltcpkit -Wl,-rpath,"$1/lib"
}
step "misuse.c + threads.c, strict flags" build_tests "$PLAIN" ""
step "misuse.c + threads.c, ASan+UBSan" build_tests "$ASAN" "$SAN"

# ---- 3. runs ----
step "misuse" "$PLAIN/misuse"
if command -v valgrind >/dev/null; then
  step "misuse under valgrind" "${VALGRIND[@]}" "$PLAIN/misuse"
else
  skip "valgrind runs: valgrind not installed (make setup installs it)"
fi
step "misuse with ASan+UBSan" "$ASAN/misuse"
step "threads: 4 stack pairs on 4 threads" "$PLAIN/threads"
step "threads with ASan+UBSan" "$ASAN/threads"
if command -v valgrind >/dev/null; then
  step "threads under valgrind" "${VALGRIND[@]}" "$PLAIN/threads"
fi
step "pair: 8 MB over IPv4, 2% loss + reordering" "$PLAIN/pair" --size 8388608 --seed 1
step "pair: 1 MB over IPv6, 5% loss, seed 7" "$PLAIN/pair" --size 1048576 --v6 --loss 5 --seed 7
# Every byte once, in order, intact, for many seeds (TCPKIT_C_SEEDS for more).
pair_seeds() {
  local seeds=${TCPKIT_C_SEEDS:-24} seed fam
  for seed in $(seq 1 "$seeds"); do
    fam=""
    [ $((seed % 2)) -eq 0 ] && fam=--v6
    timeout 60 "$PLAIN/pair" --quiet --size 393216 --seed "$seed" --loss $((seed % 8)) --reorder 2 $fam >"$OUT/seed.log" 2>&1 ||
      { echo "seed $seed failed:"; cat "$OUT/seed.log"; return 1; }
  done
  echo "$seeds seeds OK"
}
step "pair: ${TCPKIT_C_SEEDS:-24} seeds x 384 KB, 0-7% loss, 2% reordering, v4/v6" pair_seeds
if command -v valgrind >/dev/null; then
  step "pair under valgrind (256 KB)" "${VALGRIND[@]}" "$PLAIN/pair" --size 262144 --quiet
fi
step "pair with ASan+UBSan (1 MB)" "$ASAN/pair" --size 1048576 --quiet --seed 3

# ---- 4. install + pkg-config ----
install_and_use() {
  local prefix="$OUT/prefix" work="$OUT/outside"
  rm -rf "$prefix" "$work"
  mkdir -p "$work"
  bash ffi/install.sh "$prefix" || return 1
  for f in lib/libtcpkit.so.0.1.0 lib/libtcpkit.so.0 lib/libtcpkit.so lib/libtcpkit.a include/tcpkit.h lib/pkgconfig/tcpkit.pc; do
    [ -e "$prefix/$f" ] || { echo "missing $prefix/$f"; return 1; }
  done
  [ "$(readlink "$prefix/lib/libtcpkit.so.0")" = libtcpkit.so.0.1.0 ] || { echo "bad libtcpkit.so.0 link"; return 1; }
  if command -v readelf >/dev/null; then
    readelf -d "$prefix/lib/libtcpkit.so.0.1.0" | grep -q 'SONAME.*\[libtcpkit.so.0\]' || { echo "SONAME is not libtcpkit.so.0"; return 1; }
  fi
  cp ffi/tests/pkgconfig_client.c "$work/"
  (
    cd "$work" || exit 1
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    flags=$(pkg-config --cflags --libs tcpkit) || exit 1
    echo "pkg-config: $flags"
    # shellcheck disable=SC2086
    cc -std=c11 -Wall -Wextra -Werror -pedantic -o client pkgconfig_client.c $flags || exit 1
    LD_LIBRARY_PATH="$prefix/lib" ./client || exit 1
    # The static library through pkg-config --static.
    static=$(pkg-config --static --cflags --libs tcpkit | sed 's/-ltcpkit/-l:libtcpkit.a/') || exit 1
    # shellcheck disable=SC2086
    cc -std=c11 -Wall -Wextra -Werror -pedantic -o client_static pkgconfig_client.c $static || exit 1
    ./client_static
  )
}
if command -v pkg-config >/dev/null; then
  step "install.sh + pkg-config client (shared and static)" install_and_use
else
  skip "install test: pkg-config not installed (make setup installs it)"
fi

# ---- 5. TUN against the kernel, in a network namespace ----
NS=""
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  PIDS=()
  if [ -n "$NS" ]; then ip netns del "$NS" 2>/dev/null; fi
  NS=""
}
trap cleanup EXIT

nsx() { ip netns exec "$NS" "$@"; }

# Starts a program inside the namespace in the background; remembers its PID.
ns_bg() {
  local log=$1
  shift
  ip netns exec "$NS" "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  SERVER_LOG=$log
  PIDS+=("$SERVER_PID")
}

# Fails fast (with the server's log) when the background server already exited.
server_alive() {
  kill -0 "$SERVER_PID" 2>/dev/null && return 0
  echo "the server exited early; its log:"
  cat "$SERVER_LOG"
  return 1
}

stop_bg() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  PIDS=()
}

# Bytes tun_http serves for GET /bytes/N, to a file.
expected_bytes() {
  python3 - "$1" "$2" <<'EOF'
import struct, sys
n, path = int(sys.argv[1]), sys.argv[2]
M = (1 << 64) - 1
out = bytearray()
for i in range((n + 7) // 8):
    x = (i + 0x9E3779B97F4A7C15) & M
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M
    out += struct.pack("<Q", x ^ (x >> 31))
open(path, "wb").write(bytes(out[:n]))
EOF
}

wait_listening() { # give the example time to attach to tk0
  sleep 0.5
}

echo_client() { # HOST: 1 MB through the echo server, compared byte for byte
  server_alive || return 1
  nsx python3 - "$1" <<'EOF'
import os, socket, sys, hashlib
host = sys.argv[1]
data = os.urandom(1 << 20)
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(10)
s.connect((host, 7))
got = bytearray()
view = memoryview(data)
sent = 0
s.setblocking(False)
import select
while len(got) < len(data):
    r, w, _ = select.select([s], [s] if sent < len(data) else [], [], 30)
    if not r and not w:
        sys.exit("echo: timed out with %d of %d bytes back" % (len(got), len(data)))
    if w:
        try:
            sent += s.send(view[sent:sent + 65536])
        except BlockingIOError:
            pass
        if sent == len(data):
            s.shutdown(socket.SHUT_WR)
    if r:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
s.setblocking(True)
rest = s.recv(1)
s.close()
if bytes(got) != data or rest != b"":
    sys.exit("echo: mismatch (%d bytes back, trailing %r)" % (len(got), rest))
print("echo via %s: %d bytes, sha256 %s" % (host, len(got), hashlib.sha256(got).hexdigest()[:16]))
EOF
}

curl_check() { # URL EXPECTED_FILE [curl args...]
  local url=$1 expected=$2
  shift 2
  local got="$OUT/tun/curl.out"
  rm -f "$got"
  server_alive || return 1
  nsx curl -sS -g --connect-timeout 10 --max-time 60 -H 'Expect:' -o "$got" "$@" "$url" || return 1
  local a b
  a=$(sha256sum <"$expected" | cut -d' ' -f1)
  b=$(sha256sum <"$got" | cut -d' ' -f1)
  echo "$url: expected $a, got $b ($(stat -c %s "$got") bytes)"
  [ "$a" = "$b" ]
}

tun_tests() {
  NS="tcpkit-c-$$"
  if ! ip netns add "$NS" 2>"$OUT/netns.err"; then
    NS=""
    skip "TUN tests: cannot create a network namespace ($(head -n1 "$OUT/netns.err"))"
    return
  fi
  mkdir -p "$OUT/tun"
  step "netns $NS with tk0 (192.0.2.1/24, 2001:db8::1/64)" bash -c "
    set -e
    ip netns exec $NS ip link set lo up
    ip netns exec $NS ip tuntap add dev tk0 mode tun
    ip netns exec $NS ip link set tk0 up
    ip netns exec $NS ip addr add 192.0.2.1/24 dev tk0
    ip netns exec $NS ip -6 addr add 2001:db8::1/64 dev tk0 nodad"

  ns_bg "$OUT/tun/echo.log" timeout 120 "$PLAIN/tun_echo" tk0 7 100
  wait_listening
  step "tun_echo: 1 MB from a kernel client over IPv4" echo_client 192.0.2.2
  step "tun_echo: 1 MB from a kernel client over IPv6" echo_client 2001:db8::2
  stop_bg
  # The ASan+UBSan build of the same, which then exits on its own (time limit):
  # its exit status carries any sanitizer report.
  ns_bg "$OUT/tun/echo-asan.log" timeout 60 "$ASAN/tun_echo" tk0 7 6
  wait_listening
  step "tun_echo (ASan+UBSan): 1 MB over IPv4" echo_client 192.0.2.2
  asan_exit() { wait "$SERVER_PID"; local rc=$?; cat "$SERVER_LOG"; PIDS=(); return $rc; }
  step "tun_echo (ASan+UBSan): clean exit, no sanitizer report" asan_exit

  if command -v curl >/dev/null; then
    local size=3000000
    expected_bytes $size "$OUT/tun/expected.bin"
    ns_bg "$OUT/tun/http.log" timeout 200 "$PLAIN/tun_http" serve tk0 80 180
    wait_listening
    step "tun_http serve: curl GET 3 MB over IPv4" curl_check "http://192.0.2.2/bytes/$size" "$OUT/tun/expected.bin"
    step "tun_http serve: curl GET 3 MB over IPv6" curl_check "http://[2001:db8::2]/bytes/$size" "$OUT/tun/expected.bin"
    step "tun_http serve: curl POST 3 MB echo over IPv4" curl_check "http://192.0.2.2/echo" "$OUT/tun/expected.bin" --data-binary "@$OUT/tun/expected.bin"
    stop_bg
    # Lossy: the host loop drops 3% of packets each way; kernel and tcpkit recover.
    ns_bg "$OUT/tun/http-lossy.log" env TCPKIT_TUN_LOSS=3 TCPKIT_TUN_SEED=$$ timeout 200 "$PLAIN/tun_http" serve tk0 80 180
    wait_listening
    step "tun_http serve, 3% loss: curl GET 3 MB over IPv6" curl_check "http://[2001:db8::2]/bytes/$size" "$OUT/tun/expected.bin"
    step "tun_http serve, 3% loss: curl POST 3 MB echo over IPv4" curl_check "http://192.0.2.2/echo" "$OUT/tun/expected.bin" --data-binary "@$OUT/tun/expected.bin"
    stop_bg
  else
    skip "tun_http server tests: curl not installed (make setup installs it)"
  fi

  # tun_http as the client, the kernel's python3 http.server as the server (dual stack).
  mkdir -p "$OUT/tun/www"
  head -c 2500000 /dev/urandom >"$OUT/tun/www/file.bin"
  ns_bg "$OUT/tun/pyhttp.log" timeout 200 python3 -m http.server 8000 --bind :: --directory "$OUT/tun/www"
  sleep 1
  get_check() { # URL
    rm -f "$OUT/tun/get.out"
    nsx timeout 90 "$PLAIN/tun_http" get tk0 "$1" "$OUT/tun/get.out" || return 1
    cmp "$OUT/tun/www/file.bin" "$OUT/tun/get.out"
  }
  step "tun_http get: 2.5 MB from python3 http.server over IPv4" get_check "http://192.0.2.1:8000/file.bin"
  step "tun_http get: 2.5 MB from python3 http.server over IPv6" get_check "http://[2001:db8::1]:8000/file.bin"
  lossy_get() { (export TCPKIT_TUN_LOSS=3 TCPKIT_TUN_SEED=7 && get_check "$@"); }
  step "tun_http get, 3% loss: 2.5 MB from python3 http.server over IPv4" lossy_get "http://192.0.2.1:8000/file.bin"
  stop_bg
  cleanup
}

if [ "$(id -u)" != 0 ]; then
  skip "TUN tests: need root to create a network namespace"
elif [ ! -c /dev/net/tun ]; then
  skip "TUN tests: /dev/net/tun does not exist"
elif ! command -v ip >/dev/null || ! command -v python3 >/dev/null; then
  skip "TUN tests: need ip (iproute2) and python3"
else
  tun_tests
fi

echo "C tests: $n steps, $failures failed"
[ "$failures" -eq 0 ]
