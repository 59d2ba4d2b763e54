# shellcheck shell=bash
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
# write_sh_script FILE   the busybox sh start-up workload: 1000 lines of an
#                        `expr` and a `test` (busybox runs both as applets:
#                        each command substitution forks, nothing execs)
# cc1_riscv64_args ARRAY TOOLROOT SRC OUT
#                        sets ARRAY to the arguments gcc-14's driver gives
#                        the riscv64 cc1 for `gcc -O2 -S SRC -o OUT` with
#                        TOOLROOT as its sysroot (`gcc -###`, less the
#                        temporary names)

# Python writes its bytecode cache (__pycache__ in the cached sysroot) on
# its first run, as an installed Debian python has it from py3compile; a
# PYTHONDONTWRITEBYTECODE in the caller's environment would make every
# python row compile its modules from source instead (twice the guest
# instructions), so the rows would not compare with earlier figures.
unset PYTHONDONTWRITEBYTECODE

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

write_sh_script() {
    local i
    for ((i = 0; i < 1000; i++)); do
        echo "x=\$(expr $i + 1); test \$x -gt 0 || echo bad"
    done > "$1"
}

cc1_riscv64_args() {
    local -n args_out=$1
    # shellcheck disable=SC2034  # args_out is the caller's array
    args_out=(-quiet -imultiarch riscv64-linux-gnu -isysroot "$2"
        -march=rv64imafdc_zicsr_zifencei -mabi=lp64d -O2 "$3" -o "$4")
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
