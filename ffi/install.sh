#!/usr/bin/env bash
# Installs libtcpkit under PREFIX (make install PREFIX=...):
#   lib/libtcpkit.so.0.1.0 (+ libtcpkit.so.0, libtcpkit.so symlinks), lib/libtcpkit.a,
#   include/tcpkit.h, lib/pkgconfig/tcpkit.pc
set -euo pipefail
PREFIX=${1:?usage: ffi/install.sh PREFIX}
cd "$(dirname "$0")/.."
ROOT=$PWD
case "$PREFIX" in /*) ;; *) PREFIX="$ROOT/$PREFIX" ;; esac
CARGO=${CARGO:-cargo}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)
[ -n "$VERSION" ] || { echo "install: cannot read the version from Cargo.toml" >&2; exit 1; }
SOVERSION=${VERSION%%.*}

"$CARGO" build --release -q -p tcpkit-ffi
# The system libraries a static link of Rust's std needs (rustc --print native-static-libs).
LIBS_PRIVATE="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"

install -d "$PREFIX/lib/pkgconfig" "$PREFIX/include"
install -m 0755 "$TARGET_DIR/release/libtcpkit_ffi.so" "$PREFIX/lib/libtcpkit.so.$VERSION"
ln -sf "libtcpkit.so.$VERSION" "$PREFIX/lib/libtcpkit.so.$SOVERSION"
ln -sf "libtcpkit.so.$SOVERSION" "$PREFIX/lib/libtcpkit.so"
install -m 0644 "$TARGET_DIR/release/libtcpkit_ffi.a" "$PREFIX/lib/libtcpkit.a"
install -m 0644 include/tcpkit.h "$PREFIX/include/tcpkit.h"
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@VERSION@|$VERSION|g" -e "s|@LIBS_PRIVATE@|$LIBS_PRIVATE|g" \
  ffi/tcpkit.pc.in >"$PREFIX/lib/pkgconfig/tcpkit.pc"
echo "installed tcpkit $VERSION into $PREFIX"
