#!/usr/bin/env bash
# Runs the cargo-fuzz targets for a bounded time each (default 30 seconds):
#   scripts/fuzz.sh [SECONDS]
# cargo-fuzz needs a nightly compiler for its sanitizer flags; the machine
# image carries one. Without it, stable is told to accept them
# (RUSTC_BOOTSTRAP), which works for this use.
set -euo pipefail
cd "$(dirname "$0")/.."
budget="${1:-30}"

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
cd fuzz
for target in $(cargo "${toolchain[@]}" fuzz list); do
    echo "fuzz: $target for ${budget}s"
    cargo "${toolchain[@]}" fuzz run "$target" -- -max_total_time="$budget" -rss_limit_mb=4096
done
