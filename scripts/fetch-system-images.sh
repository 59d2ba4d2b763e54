#!/usr/bin/env bash
# Fetch the boot images for full-system tests (Debian trixie's riscv64 Linux
# kernel and OpenSBI) and build a busybox initramfs for them.
#
# Usage: scripts/fetch-system-images.sh [CACHE_DIR]   (default: <repo>/.cache/guests)
#
# scripts/fetch-guests.sh runs this after it has built CACHE_DIR/sysroot (the
# initramfs takes its busybox from there: Debian's busybox-static).  Prints
# the system directory on stdout.  Layout, under CACHE_DIR/system:
#
#   Image               the kernel: a copy of root/boot/vmlinux-RELEASE, a flat
#                       RISC-V Image (64-byte Image header, "RSC\x05" at 0x38)
#   fw_dynamic.bin      OpenSBI's generic-platform firmware (for -bios)
#   initramfs.cpio.gz   a gzip'ed newc cpio: busybox and /init (below)
#   initramfs/          the tree that initramfs.cpio.gz holds (for reference,
#                       and for tests that compare files with the guest's)
#   kernel-release      the kernel's release, e.g. 6.12.117+deb13-riscv64
#   root/               the two packages extracted: boot/, the kernel's
#                       modules (usr/lib/modules/RELEASE, .ko.xz), OpenSBI
#   debs/               the .deb files
#   stamp, initramfs.stamp   cache keys (see below)
#
# The kernel package is the one that the metapackage linux-image-riscv64
# depends on (linux-image-6.12.*+deb13-riscv64), resolved with apt at fetch
# time.  It uses the same private apt configuration as fetch-guests.sh
# (CACHE_DIR/apt; see scripts/debian-apt.sh).  Cached: the fetch is keyed by
# the package list in `stamp`, the initramfs by this script's own text and
# busybox's hash in `initramfs.stamp`, so a second run is a fast offline no-op.
#
# /init mounts proc, sysfs and devtmpfs, prints the line
#   cranemu-initramfs: ready
# on the console, and then runs an interactive busybox shell there (as root,
# with the console as its controlling terminal), which reads commands from the
# emulator's stdin.  The archive is written by this script itself (no cpio on
# a fresh Debian, no root needed for /dev/console): every entry has uid 0 and
# mtime 0, so the same inputs give the same bytes.
#
# Boot it with, e.g.:
#   qemu-system-riscv64 -M virt -m 256M -nographic -bios S/fw_dynamic.bin \
#       -kernel S/Image -initrd S/initramfs.cpio.gz -append "console=ttyS0 panic=-1"
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${1:-$REPO/.cache/guests}"
SUITE=trixie
ARCH=riscv64
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# linux-image-riscv64 is a metapackage: the package fetched is its dependency.
KERNEL_META=linux-image-riscv64
PACKAGES=(opensbi "$KERNEL_META")
FIRMWARE=usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin
MARKER="cranemu-initramfs: ready"

die() { echo "fetch-system-images.sh: error: $*" >&2; exit 1; }
log() { echo "fetch-system-images.sh: $*" >&2; }

mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd)"
SYS="$CACHE/system"
BUSYBOX="$CACHE/sysroot/usr/bin/busybox"
[[ -x "$BUSYBOX" ]] || die "$BUSYBOX not found: run scripts/fetch-guests.sh (it fetches busybox-static, then runs this)"
mkdir -p "$SYS"

# --- 1. The kernel and the firmware -----------------------------------------

STAMP="$SYS/stamp"
STAMP_KEY="suite=$SUITE arch=$ARCH packages=${PACKAGES[*]}"

# The Image header: "RSC\x05" (magic2) at offset 0x38.
is_image() {
    [[ -f "$1" && "$(od -An -tx1 -j56 -N4 "$1" | tr -d ' \n')" == "52534305" ]]
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_KEY" ]] && is_image "$SYS/Image" \
    && [[ -f "$SYS/fw_dynamic.bin" && -s "$SYS/kernel-release" ]]; then
    :
else
    # shellcheck source=scripts/debian-apt.sh
    source "$REPO/scripts/debian-apt.sh"
    APT_DIR="$CACHE/apt"
    private_apt "$APT_DIR"
    log "archive: $URI ($SUITE, $ARCH)"
    log "apt-get update (private lists in $APT_DIR/lists)"
    apt-get "${APT_OPTS[@]}" update >&2 \
        || die "apt-get update failed for '$URI $SUITE' (network down, or no $ARCH port there?)"

    # linux-image-riscv64 -> linux-image-6.12.N+deb13-riscv64
    kpkg="$(apt-cache "${APT_OPTS[@]}" depends --no-recommends --no-suggests "$KERNEL_META" \
        | sed -n 's/^[[:space:]]*Depends:[[:space:]]*\(linux-image-[^[:space:]<>]*\)[[:space:]]*$/\1/p' \
        | head -n1)"
    [[ -n "$kpkg" ]] || die "cannot resolve the kernel package that $KERNEL_META depends on"
    release="${kpkg#linux-image-}"
    log "kernel: $kpkg (release $release)"

    debs=(opensbi "$kpkg")
    log "apt-get download ${debs[*]}"
    mkdir -p "$SYS/debs"
    rm -f "$SYS/debs"/*.deb
    (cd "$SYS/debs" && apt-get "${APT_OPTS[@]}" download "${debs[@]}" >&2) \
        || die "apt-get download failed for: ${debs[*]}"

    # Extract into fresh directories, then move into place, so an interrupted
    # run never leaves a half-built tree that looks complete.
    rm -rf "$SYS/root.new"
    mkdir -p "$SYS/root.new"
    for deb in "$SYS/debs"/*.deb; do
        log "extract $(basename "$deb")"
        dpkg -x "$deb" "$SYS/root.new" || die "dpkg -x $deb failed"
    done
    vmlinux="$SYS/root.new/boot/vmlinux-$release"
    is_image "$vmlinux" || die "$vmlinux is missing or not a RISC-V Image (no RSC\\x05 at 0x38)"
    [[ -f "$SYS/root.new/$FIRMWARE" ]] || die "$FIRMWARE not found in the opensbi package"

    rm -rf "$SYS/root" "$SYS/Image" "$SYS/fw_dynamic.bin" "$STAMP"
    mv "$SYS/root.new" "$SYS/root"
    cp "$SYS/root/boot/vmlinux-$release" "$SYS/Image"
    cp "$SYS/root/$FIRMWARE" "$SYS/fw_dynamic.bin"
    echo "$release" > "$SYS/kernel-release"
    echo "$STAMP_KEY" > "$STAMP"
    log "kernel and firmware ready"
fi

# --- 2. The initramfs --------------------------------------------------------

ISTAMP="$SYS/initramfs.stamp"
ISTAMP_KEY="script=$(sha256sum < "${BASH_SOURCE[0]}" | cut -d' ' -f1) busybox=$(sha256sum < "$BUSYBOX" | cut -d' ' -f1)"
if [[ -f "$ISTAMP" && "$(cat "$ISTAMP")" == "$ISTAMP_KEY" && -s "$SYS/initramfs.cpio.gz" ]]; then
    echo "$SYS"
    exit 0
fi

log "build initramfs.cpio.gz"
TREE="$SYS/initramfs.new"
rm -rf "$TREE"
mkdir -p "$TREE"/{bin,dev,proc,sys,tmp,root,etc}
cp "$BUSYBOX" "$TREE/bin/busybox"
chmod 755 "$TREE/bin/busybox"
cat > "$TREE/init" <<EOF
#!/bin/busybox sh
# cranemu's test initramfs (built by scripts/fetch-system-images.sh).
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
# A link in /bin for every applet (busybox finds itself through /proc).
/bin/busybox --install -s /bin
export PATH=/bin HOME=/root TERM=vt100
cd /root
echo "$MARKER"
# An interactive shell with the console as its controlling terminal; if it
# ever exits, power off rather than panic.
setsid cttyhack sh -l
poweroff -f
EOF
chmod 755 "$TREE/init"
echo 'PS1="# "' > "$TREE/etc/profile"

# The archive (scripts/newc.sh), with the one device node: /dev/console,
# which the kernel opens for init's stdio before devtmpfs is mounted.
# shellcheck source=scripts/newc.sh
source "$REPO/scripts/newc.sh"
{
    newc_entries "$TREE"
    newc_header dev/console $((8#020600)) 0 5 1
    newc_trailer
} | gzip -n -9 > "$SYS/initramfs.cpio.gz.new"
gzip -t "$SYS/initramfs.cpio.gz.new" || die "initramfs.cpio.gz.new is not valid gzip"

rm -rf "$SYS/initramfs" "$ISTAMP"
mv "$TREE" "$SYS/initramfs"
mv "$SYS/initramfs.cpio.gz.new" "$SYS/initramfs.cpio.gz"
echo "$ISTAMP_KEY" > "$ISTAMP"
log "initramfs ready: $SYS/initramfs.cpio.gz ($(stat -c %s "$SYS/initramfs.cpio.gz") bytes)"
echo "$SYS"
