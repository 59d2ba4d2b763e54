#!/usr/bin/env bash
# Full-system benchmark: cranemu against qemu-system-riscv64 booting Debian's
# riscv64 Linux (OpenSBI, the `virt` machine) to the busybox initramfs of
# scripts/fetch-system-images.sh, on the same images and arguments:
#
#   EMULATOR -M virt -m 256M -nographic -bios fw_dynamic.bin -kernel Image \
#       -initrd initramfs.cpio.gz -append "console=ttyS0 panic=-1"
#
# (EMULATOR is `cranemu system` or `qemu-system-riscv64`).  The two run
# alternately, RUNS sessions each.  In each session the script measures, on
# the host's clock:
#   boot     from the start to the initramfs's `cranemu-initramfs: ready` line
#   sha256   the guest's `dd if=/dev/zero bs=1M count=SHA_MIB | sha256sum`,
#            from writing the command line to reading its end marker; the
#            guest's own figure (from /proc/uptime, 10 ms steps) is shown too
#   off      from writing `poweroff -f` to the emulator's exit (status 0)
# and prints each session, then the medians and the ratio cranemu / qemu
# (below 1: cranemu is faster).
#
# Usage: benches/system_boot.sh [RUNS] [SHA_MIB]      (defaults: 5, 64)
# Environment:
#   CRANEMU     the cranemu binary (default: $CARGO_TARGET_DIR/release/cranemu,
#               or target/release/cranemu)
#   QEMU_SYSTEM qemu-system-riscv64 (default: from PATH)
#   EMULATORS   which to run, in order (default: "cranemu qemu"; "qemu" alone
#               measures the reference only)
#   MEM         the guest's RAM (default: 256M)
#   SMP         harts (-smp; default: 1)
#   INITRD      the initramfs (default: the cache's initramfs.cpio.gz)
#   GUEST_CMD   a command run after the sha256 workload whose output lines
#               starting with `@@R ` are printed with the session's figures
#   TIMEOUT     seconds allowed for each step (default: 600)
# Needs: a release build (cargo build --release), qemu-system-riscv64
# (apt-get install qemu-system-misc), the images (scripts/fetch-guests.sh).
set -euo pipefail

RUNS=${1:-5}
SHA_MIB=${2:-64}
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$REPO/scripts/fetch-guests.sh" >/dev/null
SYS="$REPO/.cache/guests/system"
[[ -n "${CRANEMU_GUEST_CACHE:-}" ]] && SYS="$CRANEMU_GUEST_CACHE/system"
CRANEMU="${CRANEMU:-${CARGO_TARGET_DIR:-$REPO/target}/release/cranemu}"
QEMU_SYSTEM="${QEMU_SYSTEM:-$(command -v qemu-system-riscv64 || true)}"
read -r -a EMULATORS <<< "${EMULATORS:-cranemu qemu}"
MEM=${MEM:-256M}
SMP=${SMP:-1}
GUEST_CMD=${GUEST_CMD:-}
TIMEOUT=${TIMEOUT:-600}
MARKER="cranemu-initramfs: ready"

for e in "${EMULATORS[@]}"; do
    case $e in
        cranemu) [[ -x "$CRANEMU" ]] || { echo "build first: cargo build --release ($CRANEMU)" >&2; exit 1; } ;;
        qemu) [[ -n "$QEMU_SYSTEM" ]] || { echo "qemu-system-riscv64 not found (apt-get install qemu-system-misc)" >&2; exit 1; } ;;
        *) echo "unknown emulator '$e' in EMULATORS (cranemu, qemu)" >&2; exit 1 ;;
    esac
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# One session: boots EMULATOR, runs the sha256 workload, powers off.  Prints
# "boot_ms sha_ms guest_sha_ms off_ms"; on failure, says why (with the last
# console lines) on stderr and returns 1.
session() {
    local emu=$1 log="$WORK/console.$1" cmd line t0 t_boot t1 t_sha guest_cs t2 t_off status
    case $emu in
        cranemu) cmd=("$CRANEMU" system) ;;
        qemu) cmd=("$QEMU_SYSTEM") ;;
    esac
    cmd+=(-M virt -smp "$SMP" -m "$MEM" -nographic -bios "$SYS/fw_dynamic.bin" -kernel "$SYS/Image"
        -initrd "${INITRD:-$SYS/initramfs.cpio.gz}" -append "console=ttyS0 panic=-1")
    : > "$log"
    t0=$(now_ms)
    coproc EMU { exec "${cmd[@]}" 2>"$WORK/stderr.$emu"; }
    local out in pid=$EMU_PID
    # Copies of the coproc's pipe ends: bash closes its own ones as soon as
    # it reaps the coproc, which races with reading the last console lines.
    exec {out}<&"${EMU[0]}" {in}>&"${EMU[1]}"

    fail() {
        echo "system_boot.sh: $emu: $1" >&2
        echo "--- stderr:" >&2; tail -n 20 "$WORK/stderr.$emu" >&2
        echo "--- last 40 console lines:" >&2; tail -n 40 "$log" >&2
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        return 1
    }
    # wait_line REGEX: reads console lines until one matches (sets line).
    wait_line() {
        local deadline=$(( $(now_ms) + TIMEOUT * 1000 )) left
        while :; do
            left=$(( (deadline - $(now_ms)) / 1000 ))
            ((left > 0)) || { fail "timed out (${TIMEOUT} s) waiting for /$1/"; return 1; }
            if ! IFS= read -r -t "$left" line <&"$out"; then
                if ((${#line} == 0)); then
                    fail "console closed or timed out waiting for /$1/"; return 1
                fi
            fi
            line=${line%$'\r'}
            printf '%s\n' "$line" >> "$log"
            [[ $line =~ $1 ]] && return 0
        done
    }

    wait_line "^$MARKER\$" || return 1
    t_boot=$(( $(now_ms) - t0 ))

    # Centiseconds of guest uptime around the workload.
    t1=$(now_ms)
    printf '%s\n' "a=\$(cut -d' ' -f1 /proc/uptime | tr -d .); dd if=/dev/zero bs=1M count=$SHA_MIB 2>/dev/null | sha256sum; b=\$(cut -d' ' -f1 /proc/uptime | tr -d .); echo \"@@\"\"T \$((b - a))\"" >&"$in"
    wait_line '^@@T [0-9]+$' || return 1
    t_sha=$(( $(now_ms) - t1 ))
    guest_cs=${line#@@T }
    grep -q "^$(head -c $((SHA_MIB << 20)) /dev/zero | sha256sum | cut -d' ' -f1)  -\$" "$log" \
        || { fail "the guest's sha256sum of $SHA_MIB MiB of zeros is not the host's"; return 1; }

    if [[ -n "$GUEST_CMD" ]]; then
        printf '%s; echo "@@""DONE"\n' "$GUEST_CMD" >&"$in"
        while wait_line '^(@@R |@@DONE)'; do
            [[ $line == @@DONE ]] && break
            echo "$emu $line" >> "$WORK/results"
        done
    fi

    t2=$(now_ms)
    printf 'poweroff -f\n' >&"$in"
    # Drain the console until the emulator closes it, then reap it.
    while IFS= read -r -t "$TIMEOUT" line <&"$out"; do printf '%s\n' "${line%$'\r'}" >> "$log"; done
    status=0
    wait "$pid" || status=$?
    t_off=$(( $(now_ms) - t2 ))
    exec {out}<&- {in}>&-
    ((status == 0)) || { fail "exited with status $status after poweroff -f"; return 1; }
    echo "$t_boot $t_sha $((guest_cs * 10)) $t_off"
}

declare -A boot sha gsha off
echo "images: $SYS ($(cat "$SYS/kernel-release" 2>/dev/null || echo '?')), -m $MEM, -smp $SMP, sha256 of $SHA_MIB MiB"
for ((i = 1; i <= RUNS; i++)); do
    for e in "${EMULATORS[@]}"; do
        r=$(session "$e") || { echo "run $i: $e failed" >&2; exit 1; }
        read -r b s g o <<< "$r"
        boot[$e]+="$b "; sha[$e]+="$s "; gsha[$e]+="$g "; off[$e]+="$o "
        printf 'run %d %-8s boot %6d ms   sha256 %6d ms (guest %6d ms)   poweroff %5d ms\n' "$i" "$e" "$b" "$s" "$g" "$o"
        if [[ -s "$WORK/results" ]]; then
            sed 's/^/    /' "$WORK/results"
            rm -f "$WORK/results"
        fi
    done
done

med() { tr ' ' '\n' <<< "$1" | grep . | median; }
echo
printf '%-10s %12s %14s %14s %12s %14s\n' median "boot (ms)" "sha256 (ms)" "guest (ms)" "off (ms)" "boot+off (ms)"
for e in "${EMULATORS[@]}"; do
    mb=$(med "${boot[$e]}"); ms=$(med "${sha[$e]}"); mg=$(med "${gsha[$e]}"); mo=$(med "${off[$e]}")
    printf '%-10s %12d %14d %14d %12d %14d\n' "$e" "$mb" "$ms" "$mg" "$mo" $((mb + mo))
    eval "M_${e}_boot=$mb M_${e}_sha=$ms M_${e}_total=$((mb + mo))"
done
if [[ " ${EMULATORS[*]} " == *" cranemu "* && " ${EMULATORS[*]} " == *" qemu "* ]]; then
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
    echo
    echo "cranemu / qemu: boot $(ratio "$M_cranemu_boot" "$M_qemu_boot")," \
        "boot+poweroff $(ratio "$M_cranemu_total" "$M_qemu_total")," \
        "sha256 $(ratio "$M_cranemu_sha" "$M_qemu_sha")"
fi
