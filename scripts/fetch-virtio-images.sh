#!/usr/bin/env bash
# Build the guest images of the virtio tests (tests/system_virtio.rs) from
# what scripts/fetch-system-images.sh fetched: Debian's kernel modules and
# busybox.  Nothing is downloaded.
#
# Usage: scripts/fetch-virtio-images.sh [CACHE_DIR]   (default: <repo>/.cache/guests)
#
# scripts/fetch-guests.sh runs this after scripts/fetch-system-images.sh.
# Prints the virtio directory on stdout.  Layout, under CACHE_DIR/system/virtio:
#
#   initramfs.cpio.gz   the system initramfs (CACHE_DIR/system/initramfs.cpio.gz)
#                       followed by a second gzip'ed newc cpio (Linux unpacks
#                       both, the second over the first) that adds
#                       /lib/modules/*.ko (decompressed here: busybox's insmod
#                       may not read .ko.xz) and replaces /init (below)
#   overlay/            the tree of that second archive
#   rootfs/             a root file system tree for `mke2fs -d`: busybox from
#                       Debian's busybox-static and /sbin/init (below)
#   stamp               cache key: this script's text, the system initramfs's
#                       and busybox's hashes, the kernel release
#
# The virtio parts of Debian's kernel are modules (CONFIG_VIRTIO_MMIO=m,
# CONFIG_VIRTIO_BLK=m, CONFIG_EXT4_FS=m, CONFIG_HW_RANDOM_VIRTIO=m,
# CONFIG_VIRTIO_NET=m with failover and net_failover); the new
# /init loads them in dependency order (the `depends=` of each .modinfo:
# ext4 needs jbd2, mbcache, crc16; ext4's metadata checksums need the crc32c
# crypto driver, crc32c_generic), then, if the command line has
# `cranemu.root=DEV`, mounts DEV (ext4, read-write) and switch_roots to its
# /sbin/init; otherwise it is the system initramfs's /init: it prints
#   cranemu-initramfs: ready
# and runs a shell on the console.  The overlay also holds a udhcpc hook,
# /usr/share/udhcpc/default.script: `udhcpc -i eth0 -s
# /usr/share/udhcpc/default.script` configures eth0, its default route and
# /etc/resolv.conf from the DHCP lease (Debian's busybox looks for its
# default hook in /etc/udhcpc, so name it with -s).
# The root file system's /sbin/init prints
#   cranemu-rootfs: ready
# and runs a shell on the console.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${1:-$REPO/.cache/guests}"
# virtio_net depends on net_failover, which depends on failover.
MODULES=(crc16 mbcache jbd2 crc32c_generic ext4 virtio_mmio virtio_blk virtio-rng failover net_failover virtio_net vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport)

die() { echo "fetch-virtio-images.sh: error: $*" >&2; exit 1; }
log() { echo "fetch-virtio-images.sh: $*" >&2; }

CACHE="$(cd "$CACHE" && pwd)"
SYS="$CACHE/system"
OUT="$SYS/virtio"
BUSYBOX="$CACHE/sysroot/usr/bin/busybox"
BASE="$SYS/initramfs.cpio.gz"
[[ -x "$BUSYBOX" ]] || die "$BUSYBOX not found: run scripts/fetch-guests.sh"
[[ -s "$BASE" && -s "$SYS/kernel-release" ]] || die "$BASE not found: run scripts/fetch-system-images.sh"
RELEASE="$(cat "$SYS/kernel-release")"
MODDIR="$SYS/root/usr/lib/modules/$RELEASE/kernel"
[[ -d "$MODDIR" ]] || die "$MODDIR not found: run scripts/fetch-system-images.sh"
command -v xz >/dev/null || die "xz not found (apt-get install xz-utils)"

STAMP="$OUT/stamp"
KEY="script=$(sha256sum < "${BASH_SOURCE[0]}" | cut -d' ' -f1) base=$(sha256sum < "$BASE" | cut -d' ' -f1) busybox=$(sha256sum < "$BUSYBOX" | cut -d' ' -f1) release=$RELEASE"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$KEY" && -s "$OUT/initramfs.cpio.gz" && -x "$OUT/rootfs/sbin/init" ]]; then
    echo "$OUT"
    exit 0
fi

log "build $OUT"
NEW="$OUT.new"
rm -rf "$NEW"
mkdir -p "$NEW/overlay/lib/modules" "$NEW/overlay/newroot"

for m in "${MODULES[@]}"; do
    f="$(find "$MODDIR" -name "$m.ko.xz" -print -quit)"
    [[ -n "$f" ]] || die "module $m.ko.xz not found under $MODDIR"
    xz -dc "$f" > "$NEW/overlay/lib/modules/$m.ko" || die "xz -d $f failed"
done

cat > "$NEW/overlay/init" <<EOF
#!/bin/busybox sh
# cranemu's virtio test initramfs (built by scripts/fetch-virtio-images.sh).
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s /bin
export PATH=/bin HOME=/root TERM=vt100
for m in ${MODULES[*]}; do
    insmod /lib/modules/\$m.ko || echo "cranemu-initramfs: insmod \$m failed"
done
root=\$(sed -n 's/.*cranemu\\.root=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
if [ -n "\$root" ]; then
    i=0
    while [ ! -b "\$root" ] && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
    if mount -t ext4 -o rw "\$root" /newroot; then
        umount /proc /sys
        mount --move /dev /newroot/dev 2>/dev/null || umount /dev
        exec switch_root /newroot /sbin/init
    fi
    echo "cranemu-initramfs: cannot mount \$root"
fi
cd /root
echo "cranemu-initramfs: ready"
setsid cttyhack sh -l
poweroff -f
EOF
chmod 755 "$NEW/overlay/init"

mkdir -p "$NEW/overlay/usr/share/udhcpc" "$NEW/overlay/etc"
cat > "$NEW/overlay/usr/share/udhcpc/default.script" <<'EOF'
#!/bin/busybox sh
# udhcpc's hook (scripts/fetch-virtio-images.sh): applies the lease.
case "$1" in
deconfig)
    ifconfig "$interface" 0.0.0.0 up
    ;;
bound|renew)
    echo "udhcpc: $1 $interface: $ip/$subnet router $router dns $dns"
    ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    ;;
esac
exit 0
EOF
chmod 755 "$NEW/overlay/usr/share/udhcpc/default.script"

mkdir -p "$NEW/rootfs"/{bin,sbin,dev,proc,sys,tmp,root,etc,data}
cp "$BUSYBOX" "$NEW/rootfs/bin/busybox"
chmod 755 "$NEW/rootfs/bin/busybox"
cat > "$NEW/rootfs/sbin/init" <<'EOF'
#!/bin/busybox sh
# The root file system of cranemu's virtio tests (scripts/fetch-virtio-images.sh).
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
# The initramfs moved its devtmpfs here; mount one if it did not.
[ -e /dev/console ] || /bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s /bin
export PATH=/bin HOME=/root TERM=vt100
cd /root
echo "cranemu-rootfs: ready"
setsid cttyhack sh -l
poweroff -f
EOF
chmod 755 "$NEW/rootfs/sbin/init"
echo 'PS1="# "' > "$NEW/rootfs/etc/profile"

# shellcheck source=scripts/newc.sh
source "$REPO/scripts/newc.sh"
{ cat "$BASE"; { newc_entries "$NEW/overlay"; newc_trailer; } | gzip -n -9; } > "$NEW/initramfs.cpio.gz"
gzip -t "$NEW/initramfs.cpio.gz" || die "initramfs.cpio.gz is not valid gzip"
echo "$KEY" > "$NEW/stamp"

rm -rf "$OUT"
mv "$NEW" "$OUT"
log "ready: $OUT/initramfs.cpio.gz ($(stat -c %s "$OUT/initramfs.cpio.gz") bytes)"
echo "$OUT"
