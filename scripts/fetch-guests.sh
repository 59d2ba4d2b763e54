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

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_KEY" && -x "$SYSROOT/usr/bin/busybox" ]]; then
    echo "$SYSROOT"
    exit 0
fi

for tool in apt-get dpkg; do
    command -v "$tool" >/dev/null || die "'$tool' not found; this script needs a Debian-based host"
done
[[ -r "$KEYRING" ]] || die "$KEYRING not found (install the debian-archive-keyring package)"

# The first Debian archive URI of the machine's apt configuration (not the
# security archive, which does not carry the release's packages).
find_uri() {
    local f uri
    f=/etc/apt/sources.list.d/debian.sources
    if [[ -r "$f" ]]; then
        uri="$(awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' "$f" \
            | grep -v -- '-security' | head -n1 || true)"
        [[ -n "$uri" ]] && { echo "$uri"; return; }
    fi
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r "$f" ]] || continue
        # deb [options] URI suite components...
        uri="$(sed -E -n 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' "$f" \
            | grep -v -- '-security' | head -n1 || true)"
        [[ -n "$uri" ]] && { echo "$uri"; return; }
    done
    return 1
}
URI="$(find_uri)" || die "no Debian archive URI found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
log "archive: $URI ($SUITE, $ARCH)"

APT_DIR="$CACHE/apt"
DEBS="$CACHE/debs"
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/archives/partial" "$DEBS"
echo "deb [arch=$ARCH signed-by=$KEYRING] $URI $SUITE main" > "$APT_DIR/sources.list"
: > "$APT_DIR/status"

APT_OPTS=(
    -o "APT::Architecture=$ARCH" -o "APT::Architectures=$ARCH"
    -o "Dir::State::Lists=$APT_DIR/lists"
    -o "Dir::State::status=$APT_DIR/status"
    -o "Dir::Cache=$APT_DIR/cache"
    -o "Dir::Cache::archives=$APT_DIR/archives"
    -o "Dir::Etc::SourceList=$APT_DIR/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::Etc::Preferences=/dev/null"
    -o "Dir::Etc::PreferencesParts=/dev/null"
    -o "Debug::NoLocking=1"
    -o "APT::Sandbox::User=$(id -un)"
    -q
)
mkdir -p "$APT_DIR/cache"

log "apt-get update (private lists in $APT_DIR/lists)"
apt-get "${APT_OPTS[@]}" update >&2 \
    || die "apt-get update failed for '$URI $SUITE' (network down, or no $ARCH port there?)"

log "apt-get download ${PACKAGES[*]}"
rm -f "$DEBS"/*.deb
(cd "$DEBS" && apt-get "${APT_OPTS[@]}" download "${PACKAGES[@]}" >&2) \
    || die "apt-get download failed for: ${PACKAGES[*]}"

# Extract into a fresh sysroot, then move it into place, so an interrupted run
# never leaves a half-built sysroot that looks complete.
rm -rf "$SYSROOT.new"
mkdir -p "$SYSROOT.new/usr/bin" "$SYSROOT.new/usr/lib"
for deb in "$DEBS"/*.deb; do
    log "extract $(basename "$deb")"
    dpkg -x "$deb" "$SYSROOT.new" || die "dpkg -x $deb failed"
done
# usrmerge layout: /lib/ld-linux-riscv64-lp64d.so.1 and /bin/sh must resolve.
for d in lib bin sbin; do
    if [[ -d "$SYSROOT.new/$d" && ! -L "$SYSROOT.new/$d" ]]; then
        mkdir -p "$SYSROOT.new/usr/$d"
        cp -a "$SYSROOT.new/$d/." "$SYSROOT.new/usr/$d/"
        rm -rf "${SYSROOT.new:?}/$d"
    fi
    mkdir -p "$SYSROOT.new/usr/$d"
    ln -sfn "usr/$d" "$SYSROOT.new/$d"
done
[[ -x "$SYSROOT.new/usr/bin/busybox" ]] || die "busybox not found at $SYSROOT.new/usr/bin/busybox after extraction"

# Every shared library that the programs need (DT_NEEDED, transitively) must
# be in the sysroot: a package dropped from PACKAGES, or a new soname in a
# newer Debian build, fails here rather than in a test.
READELF=$(command -v readelf || command -v riscv64-linux-gnu-readelf || true)
if [[ -n "$READELF" ]]; then
    libdirs=(usr/lib/riscv64-linux-gnu usr/lib)
    declare -A seen=()
    todo=()
    for prog in "${PROGRAMS[@]}"; do
        [[ -f "$SYSROOT.new/$prog" ]] || die "$prog not found in the sysroot after extraction"
        todo+=("$SYSROOT.new/$prog")
    done
    while ((${#todo[@]})); do
        f=${todo[-1]}
        unset 'todo[-1]'
        for so in $("$READELF" -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
            [[ -n "${seen[$so]:-}" ]] && continue
            seen[$so]=1
            found=
            for d in "${libdirs[@]}"; do
                if [[ -e "$SYSROOT.new/$d/$so" ]]; then found="$SYSROOT.new/$d/$so"; break; fi
            done
            [[ -n "$found" ]] || die "$so (needed by $(basename "$f")) is not in the sysroot: add its package to PACKAGES"
            todo+=("$found")
        done
    done
    log "DT_NEEDED closure of ${PROGRAMS[*]}: ${#seen[@]} libraries, all present"
else
    log "no readelf: DT_NEEDED closure not checked"
fi

rm -rf "$SYSROOT"
mv "$SYSROOT.new" "$SYSROOT"
echo "$STAMP_KEY" > "$STAMP"
log "sysroot ready"
echo "$SYSROOT"
