# shellcheck shell=bash
# A newc ("070701") cpio archive writer in shell, for the initramfs images
# the fetch scripts build (a fresh Debian has no cpio).  Sourced; the caller
# defines die.  Each entry: a 110-byte ASCII header of 8-digit hex fields,
# the NUL-terminated name, padding to a multiple of 4, the data, padding to
# a multiple of 4; every entry has uid 0, gid 0 and mtime 0, so the same
# tree always gives the same bytes.  Usage, on stdout:
#
#   newc_entries TREE                          every entry under TREE
#   newc_header NAME MODE SIZE [MAJOR MINOR]   one more entry (a device node)
#   newc_trailer                               the end of the archive

newc_ino=0

# Zero bytes up to the next multiple of 4 after N bytes.
pad4() { local n=$(( (4 - $1 % 4) % 4 )); ((n == 0)) || head -c "$n" /dev/zero; }

newc_header() { # NAME MODE SIZE [RDEVMAJOR RDEVMINOR]
    local name=$1 mode=$2 size=$3 namesize=$(( ${#1} + 1 ))
    newc_ino=$((newc_ino + 1))
    printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
        "$newc_ino" "$mode" 0 0 1 0 "$size" 0 0 "${4:-0}" "${5:-0}" "$namesize" 0
    printf '%s\0' "$name"
    pad4 $((110 + namesize))
}

# Directories (0755), regular files (0755 if executable, else 0644) and
# symbolic links under TREE, in byte order of their paths.
newc_entries() { # TREE
    local tree=$1 path rel mode size target
    (cd "$tree" && find . -mindepth 1 | LC_ALL=C sort) | while read -r path; do
        rel=${path#./}
        path="$tree/$rel"
        if [[ -L "$path" ]]; then
            target=$(readlink "$path")
            newc_header "$rel" $((8#0120777)) ${#target}
            printf '%s' "$target"
            pad4 ${#target}
        elif [[ -d "$path" ]]; then
            newc_header "$rel" $((8#040755)) 0
        elif [[ -f "$path" ]]; then
            size=$(stat -c %s "$path")
            if [[ -x "$path" ]]; then mode=$((8#0100755)); else mode=$((8#0100644)); fi
            newc_header "$rel" "$mode" "$size"
            cat "$path"
            pad4 "$size"
        else
            die "$path: not a file, directory or symbolic link"
        fi
    done
}

newc_trailer() { newc_header TRAILER!!! 0 0; }
