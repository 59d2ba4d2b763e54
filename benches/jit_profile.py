#!/usr/bin/env python3
"""Where translated code spends its time, host instruction by host instruction.

Usage: benches/jit_profile.py [--top N] LOG IPS

LOG is the `-d out_asm -D LOG` log of a cranemu run, and IPS the sampled
instruction pointers of the same run, one hexadecimal address a line:

    perf record -o perf.data -F 4000 \\
        target/release/cranemu run -d out_asm -D LOG PROGRAM ARGS...
    perf script -i perf.data -F ip > IPS
    benches/jit_profile.py LOG IPS

(The log and the samples must come from one run: code addresses differ
from run to run.)  Each sample inside translated code is matched to the
host instruction the log lists at that address, and counted in one of:

    first:*        first-tier code (`template`), all of it as body
    cl:prologue    Cranelift code before the function's first interrupt
                   check (frame set-up, callee-saved stores)
    cl:irqcheck    the load of `exit_request` and the two instructions
                   after it
    cl:chainload   the load and test of a direct exit's slot
    cl:epilogue    callee-saved reloads, frame tear-down, `ret`, `jmp rN`
    cl:body        everything else: the guest code's own work
    non-jit        samples outside translated code (the runtime, the
                   kernel, Cranelift compiling)

and the N hottest instructions are listed with the guest pc of their TB or
region.  A sample lands on the instruction after the one that stalled
(skid), so read the categories as neighbourhoods.  The instruction
patterns are those of cranemu's x86-64 code (the CPU state at `rdi`,
`exit_request` at offset 0x228): a change to either needs a change here.
"""

import bisect
import collections
import re
import sys

OUT_RE = re.compile(r"OUT: (0x[0-9a-f]+) \[size=(\d+)\] host (0x[0-9a-f]+)(.*)")
INSN_RE = re.compile(r"\s+(0x[0-9a-f]+):\s+(.*)")
EXIT_REQUEST = "+ 0x228]"
EPILOGUE_RE = re.compile(
    r"pop rbp|mov rsp, rbp|add rsp|jmp r\d+$|^ret|mov r(bx|1[2-5]), qword ptr \[rsp"
)
CHAIN_RE = re.compile(r"mov r10, qword ptr \[rax\]$|test r10, r10$")


def parse_log(path):
    """The translated functions of LOG: (host start, host end, first tier?,
    guest pc, [(host address, instruction text)]), sorted by start."""
    blocks = []
    cur = None
    with open(path, errors="replace") as f:
        for line in f:
            m = OUT_RE.match(line)
            if m:
                start = int(m.group(3), 16)
                cur = (start, start + int(m.group(2)), "first tier" in m.group(4),
                       m.group(1), [])
                blocks.append(cur)
                continue
            m = INSN_RE.match(line)
            if m and cur is not None:
                cur[4].append((int(m.group(1), 16), m.group(2)))
            elif not line.startswith(" "):
                cur = None
    blocks.sort()
    return blocks


def category(insns, k):
    """The category of the k-th instruction of a Cranelift function."""
    text = insns[k][1]
    first_check = next((i for i, (_, t) in enumerate(insns) if EXIT_REQUEST in t), None)
    if first_check is not None and k < first_check:
        return "cl:prologue"
    if any(EXIT_REQUEST in insns[i][1] for i in range(max(0, k - 2), k + 1)):
        return "cl:irqcheck"
    if EPILOGUE_RE.search(text):
        return "cl:epilogue"
    if CHAIN_RE.search(text):
        return "cl:chainload"
    return "cl:body"


def main(argv):
    top = 25
    if len(argv) > 2 and argv[0] == "--top":
        top = int(argv[1])
        argv = argv[2:]
    if len(argv) != 2:
        sys.exit(__doc__.strip().splitlines()[2])
    blocks = parse_log(argv[0])
    starts = [b[0] for b in blocks]
    index = [{a: k for k, (a, _) in enumerate(b[4])} for b in blocks]
    cats = collections.Counter()
    hot = collections.Counter()
    with open(argv[1]) as f:
        for line in f:
            try:
                ip = int(line.split()[0], 16)
            except (IndexError, ValueError):
                continue
            i = bisect.bisect_right(starts, ip) - 1
            if i < 0 or ip >= blocks[i][1]:
                cats["non-jit"] += 1
                continue
            start, _, first, pc, insns = blocks[i]
            k = index[i].get(ip)
            if k is None:
                cats["first:unknown" if first else "cl:unknown"] += 1
                continue
            cats["first:body" if first else category(insns, k)] += 1
            hot[(pc, insns[k][1])] += 1
    total = sum(cats.values()) or 1
    for name, n in cats.most_common():
        print(f"{name:16s} {n:8d} {100 * n / total:5.1f}%")
    print("\nhottest instructions (samples, guest pc of the TB or region, host code):")
    for (pc, text), n in hot.most_common(top):
        print(f"{n:8d}  {pc}  {text}")


if __name__ == "__main__":
    main(sys.argv[1:])
