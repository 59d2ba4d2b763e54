#!/usr/bin/env bash
# Fetch riscv64 guest programs from Debian's archive into a private sysroot.
#
# Usage: scripts/fetch-guests.sh [CACHE_DIR]     (default: <repo>/.cache/guests)
#
# Uses a private apt configuration (its own lists and sources.list), so the
# host's apt state is never touched and no root is needed.  The archive URI is
# read at run time from this machine's own apt configuration
# (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list).
# The result is cached: a stamp file keyed by the package list makes a second
# run a no-op that works offline.  Prints the sysroot path on stdout.
#
# It then runs scripts/fetch-system-images.sh on the same cache (the kernel,
# OpenSBI and the busybox initramfs for full-system tests, in CACHE/system;
# cached the same way); CRANEMU_NO_SYSTEM_IMAGES=1 skips that step.  Then
# scripts/fetch-cpython.sh (python3.13 with its stdlib and test suite, in a
# sysroot of its own, CACHE/cpython/sysroot); CRANEMU_NO_CPYTHON=1 skips it.
# And scripts/fetch-toolchain.sh (gcc-14, binutils, make, in
# CACHE/toolchain/sysroot); CRANEMU_NO_TOOLCHAIN=1 skips it.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${1:-$REPO/.cache/guests}"
SUITE=trixie
ARCH=riscv64
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# busybox-static: the static multi-call binary the busybox tests run.
# libc6 libgcc-s1: the sysroot for dynamically linked guests.
# xz-utils liblzma5, python3.13-minimal libpython3.13-minimal libexpat1
# zlib1g: dynamically linked programs that use threads (xz -T, threading).
# 7zip libstdc++6: 7zr (/usr/lib/7zip/7zr; /usr/bin/7zr is a shell wrapper).
# sysbench and stress-ng: the packages that hold the libraries in the
# DT_NEEDED closure of /usr/bin/sysbench and /usr/bin/stress-ng (not their
# whole Depends closure, which pulls in LLVM, Mesa and X11; those are only
# loaded with dlopen, by stressors the tests do not run).
PACKAGES=(busybox-static libc6 libgcc-s1 xz-utils liblzma5 python3.13-minimal libpython3.13-minimal libexpat1 zlib1g
    7zip libstdc++6
    sysbench libaio1t64 libluajit-5.1-2 libmariadb3 libpq5 libssl3t64 libzstd1
    libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1 libldap2 libsasl2-2
    stress-ng libacl1 libapparmor1 libbsd0 libmd0 libcrypt1 libegl1 libgles2 libglvnd0 libgbm1 libdrm2
    libgmp10 libmpfr6 libjpeg62-turbo libjudydebian1 libkmod2 libsctp1 libxxhash0)
# The dynamically linked programs whose DT_NEEDED closure must resolve inside
# the sysroot (checked after extraction when readelf is available).
PROGRAMS=(usr/bin/xz usr/bin/python3.13 usr/lib/7zip/7zr usr/bin/sysbench usr/bin/stress-ng)

die() { echo "fetch-guests.sh: error: $*" >&2; exit 1; }
log() { echo "fetch-guests.sh: $*" >&2; }

mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd)"
SYSROOT="$CACHE/sysroot"
STAMP="$CACHE/stamp"
STAMP_KEY="suite=$SUITE arch=$ARCH packages=${PACKAGES[*]}"

# The full-system boot images (kernel, firmware, initramfs) under
# CACHE/system, and the virtio tests' initramfs and root tree under
# CACHE/system/virtio; see scripts/fetch-system-images.sh and
# scripts/fetch-virtio-images.sh.  Skipped when CRANEMU_NO_SYSTEM_IMAGES=1.
system_images() {
    [[ "${CRANEMU_NO_SYSTEM_IMAGES:-}" == 1 ]] && return
    "$REPO/scripts/fetch-system-images.sh" "$CACHE" >/dev/null \
        || die "scripts/fetch-system-images.sh failed"
    "$REPO/scripts/fetch-virtio-images.sh" "$CACHE" >/dev/null \
        || die "scripts/fetch-virtio-images.sh failed"
}

# CPython's full standard library and regression tests under
# CACHE/cpython; see scripts/fetch-cpython.sh.  Skipped when
# CRANEMU_NO_CPYTHON=1.
cpython() {
    [[ "${CRANEMU_NO_TOOLCHAIN:-}" == 1 ]] || "$REPO/scripts/fetch-toolchain.sh" "$CACHE" >/dev/null || die "scripts/fetch-toolchain.sh failed"
    [[ "${CRANEMU_NO_CPYTHON:-}" == 1 ]] && return
    "$REPO/scripts/fetch-cpython.sh" "$CACHE" >/dev/null \
        || die "scripts/fetch-cpython.sh failed"
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_KEY" && -x "$SYSROOT/usr/bin/busybox" ]]; then
    system_images
    cpython
    echo "$SYSROOT"
    exit 0
fi

# shellcheck source=scripts/debian-apt.sh
source "$REPO/scripts/debian-apt.sh"
APT_DIR="$CACHE/apt"
DEBS="$CACHE/debs"
private_apt "$APT_DIR"
log "archive: $URI ($SUITE, $ARCH)"
mkdir -p "$DEBS"

download_debs "$DEBS" "${PACKAGES[@]}"

# Extract into a fresh sysroot, then move it into place, so an interrupted run
# never leaves a half-built sysroot that looks complete.
extract_sysroot "$DEBS" "$SYSROOT.new"
[[ -x "$SYSROOT.new/usr/bin/busybox" ]] || die "busybox not found at $SYSROOT.new/usr/bin/busybox after extraction"

# Every shared library that the programs need (DT_NEEDED, transitively) must
# be in the sysroot: a package dropped from PACKAGES, or a new soname in a
# newer Debian build, fails here rather than in a test.
check_needed "$SYSROOT.new" "usr/lib/riscv64-linux-gnu usr/lib" "${PROGRAMS[@]}"

rm -rf "$SYSROOT"
mv "$SYSROOT.new" "$SYSROOT"
echo "$STAMP_KEY" > "$STAMP"
log "sysroot ready"
system_images
cpython
echo "$SYSROOT"
