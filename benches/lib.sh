# Helpers that the benchmark scripts share; sourced, not run:
#
#   source "$REPO/benches/lib.sh"
#
# now_ns                 nanoseconds since the epoch
# median                 the median of the numbers on stdin, one a line (the
#                        lower middle one for an even count)
# ratio A B [DIGITS]     A / B with DIGITS decimals (default 2); "n/a" when
#                        either is empty or not a number, or B is zero
# time_ms CMD...         milliseconds of one run of CMD, its stdout discarded
# measure OUT CMD...     one run of CMD with stdout to OUT: prints
#                        "MS MAXRSS_KIB EXIT_STATUS" (benches/measure.py)
# make_input FILE MIB    writes MIB MiB of deterministic, compressible but
#                        not trivial text to FILE: a repeated line of words
#                        and numbers, each ending in 16 pseudo-random hex
#                        digits (SHAKE-128 of a fixed seed), so every run and
#                        every machine compress and hash the same bytes

BENCH_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

now_ns() { date +%s%N; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

ratio() {
    awk -v a="${1:-}" -v b="${2:-}" -v d="${3:-2}" 'BEGIN {
        num = "^[0-9]+([.][0-9]*)?$"
        if (a !~ num || b !~ num || b + 0 == 0) print "n/a"
        else printf "%.*f\n", d, a / b
    }'
}

time_ms() {
    local t0
    t0=$(now_ns)
    "$@" > /dev/null
    echo $(( ($(now_ns) - t0) / 1000000 ))
}

measure() {
    local out=$1
    shift
    python3 "$BENCH_LIB_DIR/measure.py" "$out" "$@"
}

make_input() {
    python3 - "$1" "$2" <<'PY'
import hashlib, sys
path, size = sys.argv[1], int(sys.argv[2]) << 20
words = "the quick brown fox " + " ".join(str(i) for i in range(1, 41)) + " "
line_len = len(words) + 17
noise = hashlib.shake_128(b"cranemu benchmark input").hexdigest((size // line_len + 1) * 8)
with open(path, "w") as f:
    written = 0
    for i in range(0, len(noise), 16):
        line = words + noise[i:i + 16] + "\n"
        if written + len(line) >= size:
            f.write(line[: size - written])
            break
        f.write(line)
        written += len(line)
PY
}
