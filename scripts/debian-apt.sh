# Sourced (not run) by scripts/fetch-guests.sh and scripts/fetch-system-images.sh:
# a private apt configuration for Debian's riscv64 port, so the host's own apt
# state is never touched and no root is needed.
#
#   source scripts/debian-apt.sh
#   private_apt APT_DIR        # sets APT_OPTS (an array) and URI
#   apt-get "${APT_OPTS[@]}" update
#
# The archive URI is read at run time from this machine's own apt
# configuration (/etc/apt/sources.list.d/debian.sources or
# /etc/apt/sources.list).  Expects SUITE, ARCH and KEYRING to be set, and a
# die function.

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
