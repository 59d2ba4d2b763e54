#!/usr/bin/env bash
# Runs every test: fetches the riscv64 guest packages (cached; a no-op once
# done), then the workspace's unit and whole-program tests in release mode.
#
# Usage: scripts/test.sh [extra cargo test args...]
#   e.g. scripts/test.sh --test busybox
#        scripts/test.sh -- --nocapture
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

"$REPO/scripts/fetch-guests.sh" >/dev/null

exec cargo test --workspace --release "$@"
