#!/usr/bin/env bash
# Python package tests (make test-python): build and install the package with
# pip (maturin from PyPI as the build backend) into a venv, then run pytest
# with warnings as errors: the contract, exceptions, asyncio driver, pcap read
# back by tshark, stubtest, and the examples.
#
# Env: TCPKIT_PY_VENV (default python/.venv), TCPKIT_PY_PROFILE (cargo profile
# for the extension, default "dev" to keep the build short; "release" for speed),
# TCPKIT_PY_PYTHON (interpreter for the venv, default python3; any >= 3.9).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${TCPKIT_PY_VENV:-$ROOT/python/.venv}
PROFILE=${TCPKIT_PY_PROFILE:-dev}
PYTHON=${TCPKIT_PY_PYTHON:-python3}
PIP_QUIET=(-q --disable-pip-version-check)

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install "${PIP_QUIET[@]}" pytest mypy
echo "python tests: building the extension (cargo profile $PROFILE) and installing with pip"
MATURIN_PEP517_ARGS="--profile $PROFILE" \
  "$VENV/bin/python" -m pip install "${PIP_QUIET[@]}" --force-reinstall --no-deps "$ROOT/python"

# Run from a directory without a tcpkit/ source folder, so the installed
# package (with its native module) is the one imported.
cd "$ROOT/python/tests"
export TCPKIT_REPO="$ROOT"
export PATH="$VENV/bin:$PATH"
exec timeout 600 "$VENV/bin/pytest" -c "$ROOT/python/pyproject.toml" --rootdir "$ROOT/python" "$ROOT/python/tests" "$@"
