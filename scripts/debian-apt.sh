# shellcheck shell=bash
# Sourced (not run) by the scripts/fetch-*.sh scripts:
# a private apt configuration for Debian's riscv64 port, so the host's own apt
# state is never touched and no root is needed.
#
#   source scripts/debian-apt.sh
#   private_apt APT_DIR        # sets APT_OPTS (an array) and URI
#   apt-get "${APT_OPTS[@]}" update
#
# The archive URI is read at run time from this machine's own apt
# configuration (/etc/apt/sources.list.d/debian.sources or
# /etc/apt/sources.list).  Expects SUITE, ARCH and KEYRING to be set, and die
# and log functions.  download_debs, extract_sysroot and check_needed (below)
# are the steps every fetch script shares.

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

# private_apt APT_DIR: checks the host tools, writes APT_DIR/sources.list and
# an empty dpkg status, and sets APT_OPTS and URI.
private_apt() {
    local apt_dir=$1 tool
    for tool in apt-get apt-cache dpkg; do
        command -v "$tool" >/dev/null || die "'$tool' not found; this script needs a Debian-based host"
    done
    [[ -r "$KEYRING" ]] || die "$KEYRING not found (install the debian-archive-keyring package)"
    URI="$(find_uri)" || die "no Debian archive URI found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/cache"
    echo "deb [arch=$ARCH signed-by=$KEYRING] $URI $SUITE main" > "$apt_dir/sources.list"
    : > "$apt_dir/status"
    APT_OPTS=(
        -o "APT::Architecture=$ARCH" -o "APT::Architectures=$ARCH"
        -o "Dir::State::Lists=$apt_dir/lists"
        -o "Dir::State::status=$apt_dir/status"
        -o "Dir::Cache=$apt_dir/cache"
        -o "Dir::Cache::archives=$apt_dir/archives"
        -o "Dir::Etc::SourceList=$apt_dir/sources.list"
        -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::Etc::Preferences=/dev/null"
        -o "Dir::Etc::PreferencesParts=/dev/null"
        -o "Debug::NoLocking=1"
        -o "APT::Sandbox::User=$(id -un)"
        -q
    )
}

# download_debs DEBS PACKAGE...: refreshes the private package lists, then
# downloads exactly PACKAGE... (no dependencies) as .deb files into DEBS
# (emptied of .debs first).  Needs private_apt first.
download_debs() {
    local debs=$1
    shift
    log "apt-get update (private lists)"
    apt-get "${APT_OPTS[@]}" update >&2 \
        || die "apt-get update failed for '$URI $SUITE' (network down, or no $ARCH port there?)"
    mkdir -p "$debs"
    rm -f "$debs"/*.deb
    log "apt-get download $*"
    (cd "$debs" && apt-get "${APT_OPTS[@]}" download "$@" >&2) \
        || die "apt-get download failed for: $*"
}

# extract_sysroot DEBS DEST: extracts every .deb in DEBS into DEST (removed
# first) in the merged-/usr layout: /lib, /bin and /sbin become links into
# /usr, so /lib/ld-linux-riscv64-lp64d.so.1 and /bin/sh resolve.  Callers
# extract into a new directory and move it into place, so an interrupted
# run never leaves a half-built sysroot that looks complete.
extract_sysroot() {
    local debs=$1 dest=$2 deb d
    rm -rf "$dest"
    mkdir -p "$dest/usr/bin" "$dest/usr/lib"
    for deb in "$debs"/*.deb; do
        dpkg -x "$deb" "$dest" || die "dpkg -x $deb failed"
    done
    for d in lib bin sbin; do
        if [[ -d "$dest/$d" && ! -L "$dest/$d" ]]; then
            mkdir -p "$dest/usr/$d"
            cp -a "$dest/$d/." "$dest/usr/$d/"
            rm -rf "${dest:?}/$d"
        fi
        mkdir -p "$dest/usr/$d"
        ln -sfn "usr/$d" "$dest/$d"
    done
}

# check_needed ROOT LIBDIRS PROGRAM...: every shared library in the DT_NEEDED
# closure of PROGRAM... (paths relative to ROOT) must be in one of LIBDIRS (a
# space-separated list of directories relative to ROOT), so that a package
# dropped from a list, or a new soname in a newer Debian build, fails the
# fetch rather than the program.  Needs readelf; logs and returns when there
# is none.
check_needed() {
    local root=$1 libdirs=$2 prog f so d found readelf
    shift 2
    readelf=$(command -v readelf || command -v riscv64-linux-gnu-readelf || true)
    [[ -n "$readelf" ]] || { log "no readelf: DT_NEEDED closure not checked"; return 0; }
    local -A seen=()
    local todo=()
    for prog in "$@"; do
        [[ -f "$root/$prog" ]] || die "$prog not found in $root after extraction"
        todo+=("$root/$prog")
    done
    while ((${#todo[@]})); do
        f=${todo[-1]}
        unset 'todo[-1]'
        for so in $("$readelf" -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
            [[ -n "${seen[$so]:-}" ]] && continue
            seen[$so]=1
            found=
            for d in $libdirs; do
                if [[ -e "$root/$d/$so" ]]; then found="$root/$d/$so"; break; fi
            done
            [[ -n "$found" ]] || die "$so (needed by $(basename "$f")) is not in $root: add its package to the list"
            todo+=("$found")
        done
    done
    log "DT_NEEDED closure of $# programs: ${#seen[@]} libraries, all present"
}
