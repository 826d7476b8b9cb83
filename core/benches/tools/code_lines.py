#!/usr/bin/env python3
"""Instruction-cache footprint of one benchmark iteration, from two callgrind runs.

Usage: code_lines.py RUN_SMALL.out N_SMALL RUN_LARGE.out N_LARGE [TOP]

Both files come from `valgrind --tool=callgrind --dump-instr=yes` of the same
binary with N_SMALL and N_LARGE iterations (e.g. TCPKIT_BENCH_CYCLES=2000 and
4000). A 64-byte code line counts as part of one iteration's footprint when the
larger run executed it at least (N_LARGE - N_SMALL) more instructions' worth,
i.e. about once per iteration or more. Prints the footprint in KiB and the
functions owning most of it: a loop whose footprint exceeds the L1
instruction cache (32 KiB here) refetches code every iteration.
"""
import collections
import re
import sys


def _move(addr, pos):
    if pos.startswith("0x"):
        return int(pos, 16)
    if pos.startswith("+"):
        return addr + int(pos[1:], 0)
    if pos.startswith("-"):
        return addr - int(pos[1:], 0)
    return addr  # "*": same position


def code_lines(path):
    """Self Ir per (object, 64-byte line) and the function owning each line."""
    cost = collections.Counter()
    owner = {}
    names = {}
    addr, obj, fn, skip_next = 0, "", "", False
    with open(path) as f:
        for line in f:
            if line.startswith("ob="):
                obj = line.strip()
                continue
            named = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line.strip())
            if named:
                if named.group(2):
                    names[named.group(1)] = named.group(2)
                if line.startswith("fn="):
                    fn = names.get(named.group(1), named.group(1))
                continue
            if line.startswith("calls="):
                skip_next = True  # the next line carries a call's inclusive cost
                continue
            if not line or line[0] not in "0123456789+-*":
                continue
            parts = line.split()
            addr = _move(addr, parts[0])
            if skip_next:
                skip_next = False
                continue
            if len(parts) > 2:
                key = (obj, addr >> 6)
                cost[key] += int(parts[2])
                owner[key] = fn
    return cost, owner


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    small, n_small = code_lines(sys.argv[1])[0], int(sys.argv[2])
    large, owner = code_lines(sys.argv[3])
    n_large = int(sys.argv[4])
    top = int(sys.argv[5]) if len(sys.argv) > 5 else 15
    per_iter = [k for k, v in large.items() if v - small.get(k, 0) >= n_large - n_small]
    by_fn = collections.Counter(owner[k] for k in per_iter)
    print(f"code touched per iteration: {len(per_iter)} lines = {len(per_iter) * 64 / 1024:.1f} KiB")
    for name, n in by_fn.most_common(top):
        print(f"{n * 64 / 1024:6.2f} KiB  {name[:110]}")


if __name__ == "__main__":
    main()
