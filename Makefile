# tcpkit — build, test, demo. `make help` lists the targets.
SHELL := /bin/bash
CARGO ?= cargo
PREFIX ?= /usr/local
export CARGO_TERM_COLOR ?= never

.PHONY: help setup build demo test test-rust lint test-c test-python test-kernel bench soak fuzz install clean header

help:
	@echo "make setup    install what a fresh machine lacks (apt, pip, cbindgen)"
	@echo "make demo     the main job: two stacks transfer data over a lossy in-memory link"
	@echo "make test     every test level: lint, Rust tests, C, Python, kernel (as root)"
	@echo "make bench    benchmarks against smoltcp (figures, not tests)"
	@echo "make soak     long seeded fault sweep"
	@echo "make fuzz     fuzz targets"
	@echo "make install  PREFIX=... libraries, header, pkg-config file"

setup:
	bash .ci/setup

build:
	$(CARGO) build --workspace --release

demo:
	bash examples/run-demo.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) build -p tcpkit --no-default-features

test-rust:
	timeout 1200 $(CARGO) test --workspace --exclude tcpkit-python --all-features

# Each level below is skipped with one clear line when its script does not exist yet.
test-c:
	@if [ -f ffi/tests/run.sh ]; then timeout 900 bash ffi/tests/run.sh; else echo "test-c: no C tests yet (ffi/tests/run.sh missing)"; fi

test-python:
	@if [ -f python/tests/run.sh ]; then timeout 900 bash python/tests/run.sh; else echo "test-python: no Python tests yet (python/tests/run.sh missing)"; fi

test-kernel:
	@if [ -f examples/tests/run-kernel.sh ]; then timeout 900 bash examples/tests/run-kernel.sh; else echo "test-kernel: no kernel interop tests yet (examples/tests/run-kernel.sh missing)"; fi
	timeout 600 bash examples/tests/run-rust-tun.sh

test: lint test-rust test-c test-python test-kernel

bench:
	@if [ -f core/benches/run.sh ]; then bash core/benches/run.sh; else $(CARGO) bench -p tcpkit; fi

soak:
	TCPKIT_SOAK_SEEDS=$${TCPKIT_SOAK_SEEDS:-100000} $(CARGO) test --release -p tcpkit --all-features --test soak -- --nocapture
	TCPKIT_FLOOD_SYNS=$${TCPKIT_FLOOD_SYNS:-1000000} TCPKIT_FLOOD_SEGMENTS=$${TCPKIT_FLOOD_SEGMENTS:-1000000} \
	  $(CARGO) test --release -p tcpkit --all-features --test hostile_attacks -- --nocapture

fuzz:
	@if [ -f fuzz/run.sh ]; then bash fuzz/run.sh; else echo "fuzz: no fuzz targets yet"; fi

install:
	@if [ -f ffi/install.sh ]; then bash ffi/install.sh "$(PREFIX)"; else echo "install: not available yet"; exit 1; fi

clean:
	$(CARGO) clean
