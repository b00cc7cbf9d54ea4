#!/usr/bin/env bash
# cargo-deny with deny.toml: the licences, bans and sources of every locked
# dependency always, and the RustSec advisories whenever the advisory
# database can be had. Installs the pinned cargo-deny from crates.io when it
# is missing (measured: about 3 minutes of CPU on this project's 2-core
# machine kind, once per machine).
set -euo pipefail
cd "$(dirname "$0")/.."

DENY_VERSION=0.20.2
if ! cargo deny --version 2>/dev/null | grep -qx "cargo-deny $DENY_VERSION"; then
    echo "deny: installing cargo-deny $DENY_VERSION from crates.io" >&2
    cargo install --locked --quiet cargo-deny --version "$DENY_VERSION"
fi

# Several versions of one crate (deny.toml warns) are hundreds of lines of
# noise here; `cargo deny check bans` by hand lists them.
cargo deny --locked check --hide-inclusion-graph -A duplicate bans licenses sources

# The advisory database is a git repository on GitHub, which CI machines of
# this project cannot reach (only package registries). Fetch it when
# possible; otherwise use a copy already on the machine (cargo-deny keeps
# one under $CARGO_HOME/advisory-dbs); otherwise say plainly that advisories
# were not checked. A stale copy is named with its date.
db_dir="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
if timeout 120 cargo deny --locked fetch db >/dev/null 2>&1; then
    cargo deny --locked --offline check advisories
elif copy=$(ls -d "$db_dir"/advisory-db-* 2>/dev/null | head -n 1) && [ -n "$copy" ]; then
    updated=$(git -C "$copy" log -1 --format=%cs 2>/dev/null || echo "an unknown date")
    echo "deny: the advisory database could not be fetched; checking against the copy in $copy, last updated $updated" >&2
    cargo deny --locked --offline check advisories
else
    echo "deny: *** advisories NOT CHECKED: the RustSec advisory database could not be fetched and no copy is in $db_dir ***" >&2
fi
