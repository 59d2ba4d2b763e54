#!/usr/bin/env bash
# The host's store, load and add throughput, in cycles (benches/hostcpu/stores.c
# says how); for reading issue 12's profiles. Needs a C compiler (cc).
# Usage: benches/hostcpu.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(mktemp)
trap 'rm -f "$bin"' EXIT
cc -O1 -o "$bin" "$here/hostcpu/stores.c"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); $(date -u +%Y-%m-%d)"
for i in 1 2 3; do
    echo "run $i:"
    "$bin"
done
