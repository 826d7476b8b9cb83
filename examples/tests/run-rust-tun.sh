#!/usr/bin/env bash
# Kernel interop from Rust (make test-kernel): ffi/examples/tun_http_server.rs
# runs tcpkit's Stack on a TUN device inside a network namespace made here
# (tcpkit-rt-$$, deleted on exit; the root namespace is never touched), and
# the kernel's curl downloads from it over IPv4 and IPv6; each body is
# checked by sha256 against the driver's own generator, and the driver must
# exit 0 after answering every request (no failed exchange).
#
# Env: TCPKIT_RUST_TUN_MB  size of each download in MB (default 8)
#      TCPKIT_RUST_TUN_OUT where logs go (default target/rust-tun)
set -uo pipefail

if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ] || ! command -v ip >/dev/null; then
  echo "test-kernel (rust tun): skipped: needs root, /dev/net/tun and iproute2 (ip) to make network namespaces"
  exit 0
fi
for t in curl sha256sum; do
  command -v "$t" >/dev/null || { echo "test-kernel (rust tun): FAILED: $t missing (make setup installs it)"; exit 1; }
done

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${TCPKIT_RUST_TUN_OUT:-$ROOT/target/rust-tun}
MB=${TCPKIT_RUST_TUN_MB:-8}
N=$((MB * 1048576))
NS=tcpkit-rt-$$
IN=(ip netns exec "$NS")
SRV_PID=
rm -rf "$OUT" && mkdir -p "$OUT"

cleanup() {
  if [ -n "$SRV_PID" ]; then
    kill -TERM "$SRV_PID" 2>/dev/null
    timeout 10 tail --pid="$SRV_PID" -f /dev/null 2>/dev/null
    kill -KILL "$SRV_PID" 2>/dev/null
  fi
  ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "test-kernel (rust tun): building ffi/examples/tun_http_server.rs (release)"
(cd "$ROOT" && nice ${CARGO:-cargo} build -q --release -p tcpkit-ffi --example tun_http_server) \
  >"$OUT/build.log" 2>&1 || { cat "$OUT/build.log"; echo "test-kernel (rust tun): FAILED: build"; exit 1; }
BIN=$ROOT/target/release/examples/tun_http_server

# shellcheck source=examples/tests/tun-namespace.sh
. "$ROOT/examples/tests/tun-namespace.sh"
tun_namespace_up || exit 1

# Two downloads, then the driver lingers 1 s for the FIN exchange and exits.
: >"$OUT/server.log"
"${IN[@]}" timeout 300 "$BIN" serve tk0 --port 80 --requests 2 2>"$OUT/server.log" &
SRV_PID=$!
for _ in $(seq 1 100); do
  grep -q 'serving on' "$OUT/server.log" && break
  kill -0 "$SRV_PID" 2>/dev/null || break
  sleep 0.1
done
grep -q 'serving on' "$OUT/server.log" || { cat "$OUT/server.log"; echo "FAIL  rust-tun: driver did not start"; exit 1; }

exp=$("$BIN" gen "$N" | sha256sum | cut -d' ' -f1)
ok=1
for host in 192.0.2.2 '[2001:db8::2]'; do
  w=$("${IN[@]}" timeout 120 curl -sS -g --http1.0 --connect-timeout 10 -o "$OUT/body" \
    -w '%{http_code} %{size_download} %{speed_download}' "http://$host/bytes/$N" 2>"$OUT/curl.err")
  read -r code size speed <<<"$w"
  sha=$(sha256sum "$OUT/body" 2>/dev/null | cut -d' ' -f1)
  rm -f "$OUT/body"
  if [ "$code" = 200 ] && [ "$size" = "$N" ] && [ "$sha" = "$exp" ]; then
    echo "  rust-tun $host: $N bytes, sha256 ok, $(awk -v b="$speed" 'BEGIN{printf "%.1f", b/1e6}') MB/s (curl speed_download)"
  else
    echo "  rust-tun $host: status ${code:-?}, ${size:-?} of $N bytes, sha256 $sha; curl: $(cat "$OUT/curl.err")"
    ok=0
  fi
done

# The driver exits 0 only when it answered both requests and none failed.
timeout 30 tail --pid="$SRV_PID" -f /dev/null
wait "$SRV_PID"
rc=$?
SRV_PID=
sed 's/^/  /' "$OUT/server.log"
[ "$rc" = 0 ] || { echo "  rust-tun: driver exit status $rc"; ok=0; }

FAILS=0
if [ $ok = 1 ]; then
  echo "PASS  rust-tun: curl fetches ${MB} MB over IPv4 and IPv6 from the Rust TUN driver, sha256 checked"
else
  echo "FAIL  rust-tun (logs in $OUT)"
  FAILS=$((FAILS + 1))
fi

# A full accept queue (Linux's tcp_abort_on_overflow=0): backlog 8, 40
# concurrent requests, and an application that accepts 300 ms after the
# queue became non-empty, so the queue overflows every run. tcpkit must drop
# the handshake ACKs that find the queue full (not reset them) and complete
# those connections when the clients retransmit (their backoff, as against
# Linux with a small backlog: seconds here; 100 clients on 4 take minutes).
CONC=${TCPKIT_RUST_TUN_CONC:-40}
BACKLOG=8
K=100000
ok=1
: >"$OUT/server-conc.log"
"${IN[@]}" timeout 120 "$BIN" serve tk0 --port 80 --backlog "$BACKLOG" --accept-delay-ms 300 --requests "$CONC" 2>"$OUT/server-conc.log" &
SRV_PID=$!
for _ in $(seq 1 100); do
  grep -q 'serving on' "$OUT/server-conc.log" && break
  kill -0 "$SRV_PID" 2>/dev/null || break
  sleep 0.1
done
exp=$("$BIN" gen "$K" | sha256sum | cut -d' ' -f1)
urls=()
mkdir -p "$OUT/conc"
for i in $(seq 1 "$CONC"); do
  if [ $((i % 2)) = 0 ]; then urls+=(-o "$OUT/conc/$i" "http://192.0.2.2/bytes/$K")
  else urls+=(-o "$OUT/conc/$i" "http://[2001:db8::2]/bytes/$K"); fi
done
t0=$(date +%s.%N)
"${IN[@]}" timeout 100 curl -sS -g --http1.0 -Z --parallel-immediate --parallel-max "$CONC" -m 60 \
  "${urls[@]}" 2>"$OUT/conc.curl.err" || ok=0
bad=0
for i in $(seq 1 "$CONC"); do
  [ "$(sha256sum "$OUT/conc/$i" 2>/dev/null | cut -d' ' -f1)" = "$exp" ] || bad=$((bad + 1))
done
t1=$(date +%s.%N)
rm -rf "$OUT/conc"
timeout 30 tail --pid="$SRV_PID" -f /dev/null
wait "$SRV_PID"
rc=$?
SRV_PID=
sed 's/^/  /' "$OUT/server-conc.log"
echo "  rust-tun-backlog: $CONC parallel requests of $K bytes with backlog $BACKLOG, $bad wrong or missing, $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s, driver exit $rc"
[ "$bad" = 0 ] && [ "$rc" = 0 ] || { ok=0; head -3 "$OUT/conc.curl.err"; }
grep -q 'rst_sent 0,' "$OUT/server-conc.log" || { echo "  rust-tun-backlog: no summary with rst_sent 0"; ok=0; }
grep -q 'completing ACKs dropped [1-9]' "$OUT/server-conc.log" ||
  { echo "  rust-tun-backlog: the accept queue never overflowed"; ok=0; }
if [ $ok = 1 ]; then
  echo "PASS  rust-tun-backlog: $CONC concurrent curl requests against an accept queue of $BACKLOG, no reset, every body checked"
else
  echo "FAIL  rust-tun-backlog (logs in $OUT)"
  FAILS=$((FAILS + 1))
fi

# ICMP hard errors in SYN-SENT (RFC 1122 §4.2.3.9): the kernel routes the
# documentation prefixes 203.0.113.0/24 and 2001:db8:dead::/48 to "prohibit",
# so it answers tcpkit's SYN with destination unreachable, administratively
# prohibited (ICMP code 13, ICMPv6 code 1). tcpkit must give up at once with
# REFUSED, not retransmit the SYN until its timeout (minutes). Port 80 on the
# kernel (nobody listens) gives the RST path for comparison.
"${IN[@]}" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
"${IN[@]}" ip route add prohibit 203.0.113.0/24
"${IN[@]}" ip -6 route add prohibit 2001:db8:dead::/48
ok=1
for pair in "203.0.113.5:80 refused" "[2001:db8:dead::5]:80 refused" "192.0.2.1:80 refused"; do
  read -r target want <<<"$pair"
  "${IN[@]}" timeout 60 "$BIN" connect tk0 "$target" 10 2>"$OUT/connect.log"
  line=$(grep 'connect ' "$OUT/connect.log")
  echo "  $line"
  [[ "$line" == *": $want after "* ]] || { ok=0; cat "$OUT/connect.log"; }
done
if [ $ok = 1 ]; then
  echo "PASS  rust-tun-icmp: the kernel's ICMP/ICMPv6 administratively prohibited ends SYN-SENT with REFUSED"
else
  echo "FAIL  rust-tun-icmp (logs in $OUT)"
  FAILS=$((FAILS + 1))
fi
[ "$FAILS" = 0 ]
