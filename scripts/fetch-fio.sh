#!/usr/bin/env bash
# Fetch Debian trixie's riscv64 fio with the shared libraries it loads and
# pack them as an initramfs layer for benches/virtio_blk.py.
#
# Usage: scripts/fetch-fio.sh [CACHE_DIR]     (default: <repo>/.cache/guests)
#
# Prints the path of fio.cpio.gz on stdout.  Layout, under CACHE_DIR/fio:
#
#   apt/         a private apt configuration (scripts/debian-apt.sh) with its
#                own lists, so that it never races fetch-guests.sh over CACHE/apt
#   debs/        the .deb files
#   sysroot/     every package extracted with dpkg -x
#   fio.cpio.gz  a gzip'ed newc cpio of /usr/bin/fio, the DT_NEEDED closure of
#                it (each library under its soname, in the directory it was
#                found in) and /lib/ld-linux-riscv64-lp64d.so.1.  Appended to
#                the virtio initramfs (scripts/fetch-virtio-images.sh) it puts
#                fio in the guest: Linux unpacks concatenated archives in turn
#   stamp        the cache key (this script's text): a second run is an
#                offline no-op
#
# Debian builds fio with its rbd, rados, glusterfs, nfs, nbd and RDMA engines
# linked in, so the closure holds Ceph's and GlusterFS's client libraries
# (about 45 MB unpacked) although the benchmark uses only libaio.  Needs
# readelf (binutils) on the host to walk the closure.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${1:-$REPO/.cache/guests}"
SUITE=trixie
ARCH=riscv64
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# fio and the packages holding the DT_NEEDED closure of /usr/bin/fio (not the
# whole Depends closure, which adds python3 and the maintainer-script tools).
PACKAGES=(fio libc6 libgcc-s1 libstdc++6 libatomic1
    libaio1t64 libnuma1 zlib1g libibverbs1 librdmacm1t64 libnl-3-200 libnl-route-3-200
    libnfs14 libnbd0 libgnutls30t64 libhogweed6t64 libnettle8t64 libgmp10 libidn2-0 libunistring5
    libp11-kit0 libffi8 libtasn1-6
    libgfapi0 libgfrpc0 libgfxdr0 libglusterfs0 libtirpc3t64 libgssapi-krb5-2 libkrb5-3
    libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1 libacl1 libuuid1 libxml2 liblzma5
    librados2 librbd1 libboost-iostreams1.83.0 libboost-thread1.83.0 libbz2-1.0 libfmt10
    libssl3t64 libzstd1 libudev1 libcap2 libcryptsetup12 libdevmapper1.02.1 libblkid1
    libselinux1 libpcre2-8-0 libjson-c5)
LOADER=lib/ld-linux-riscv64-lp64d.so.1
# Where the loader looks (Debian's multiarch directories) and Ceph's RUNPATH.
LIBDIRS=(usr/lib/riscv64-linux-gnu usr/lib usr/lib/riscv64-linux-gnu/ceph)

die() { echo "fetch-fio.sh: error: $*" >&2; exit 1; }
log() { echo "fetch-fio.sh: $*" >&2; }

mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd)"
OUT="$CACHE/fio"
STAMP="$OUT/stamp"
KEY="script=$(sha256sum < "${BASH_SOURCE[0]}" | cut -d' ' -f1) suite=$SUITE arch=$ARCH"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$KEY" && -s "$OUT/fio.cpio.gz" ]]; then
    echo "$OUT/fio.cpio.gz"
    exit 0
fi
READELF=$(command -v readelf || command -v riscv64-linux-gnu-readelf || true)
[[ -n "$READELF" ]] || die "readelf not found (apt-get install binutils)"

# shellcheck source=scripts/debian-apt.sh
source "$REPO/scripts/debian-apt.sh"
private_apt "$OUT/apt"
log "archive: $URI ($SUITE, $ARCH)"
DEBS="$OUT/debs"
download_debs "$DEBS" "${PACKAGES[@]}"

ROOT="$OUT/sysroot.new"
rm -rf "$ROOT" "$OUT/tree.new"
mkdir -p "$ROOT"
for deb in "$DEBS"/*.deb; do
    dpkg -x "$deb" "$ROOT" || die "dpkg -x $deb failed"
done
# usrmerge: the loader and libraries may be under /lib in older packages.
if [[ -d "$ROOT/lib" && ! -L "$ROOT/lib" ]]; then
    mkdir -p "$ROOT/usr/lib"
    cp -a "$ROOT/lib/." "$ROOT/usr/lib/"
    rm -rf "${ROOT:?}/lib"
fi
[[ -x "$ROOT/usr/bin/fio" ]] || die "usr/bin/fio not found after extraction"

# The tree of the archive: fio, the loader, and every library in the
# DT_NEEDED closure, copied (links followed) under the name it is asked by.
TREE="$OUT/tree.new"
mkdir -p "$TREE/usr/bin" "$TREE/lib"
cp "$ROOT/usr/bin/fio" "$TREE/usr/bin/fio"
cp -L "$ROOT/usr/$LOADER" "$TREE/$LOADER" || die "$LOADER not found after extraction"
declare -A seen=()
todo=("$ROOT/usr/bin/fio")
while ((${#todo[@]})); do
    elf=${todo[-1]}
    unset 'todo[-1]'
    while read -r so; do
        [[ -n "$so" && -z "${seen[$so]:-}" ]] || continue
        seen[$so]=1
        [[ "$so" == "$(basename "$LOADER")" ]] && continue
        found=
        for d in "${LIBDIRS[@]}"; do
            if [[ -e "$ROOT/$d/$so" ]]; then
                mkdir -p "$TREE/$d"
                cp -L "$ROOT/$d/$so" "$TREE/$d/$so"
                todo+=("$ROOT/$d/$so")
                found=1
                break
            fi
        done
        [[ -n "$found" ]] || die "$so (needed by ${elf#"$ROOT/"}) is in none of the packages: add its package to PACKAGES"
    done < <("$READELF" -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
done
log "fio and ${#seen[@]} libraries"

# shellcheck source=scripts/newc.sh
source "$REPO/scripts/newc.sh"
{ newc_entries "$TREE"; newc_trailer; } | gzip -n -6 > "$OUT/fio.cpio.gz.new"
gzip -t "$OUT/fio.cpio.gz.new" || die "fio.cpio.gz is not valid gzip"
rm -rf "$OUT/sysroot" "$OUT/tree"
mv "$ROOT" "$OUT/sysroot"
mv "$TREE" "$OUT/tree"
mv "$OUT/fio.cpio.gz.new" "$OUT/fio.cpio.gz"
echo "$KEY" > "$STAMP"
log "ready: $OUT/fio.cpio.gz ($(stat -c %s "$OUT/fio.cpio.gz") bytes)"
echo "$OUT/fio.cpio.gz"
