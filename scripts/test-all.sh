#!/usr/bin/env bash
# Runs every test of the project: the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

# The end-to-end tests drive the real relay binary; build it with the rest of
# the workspace so they need not build it again on their own.
cargo build --workspace --bins
export SAFESPACES_RELAY_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/safespaces-relay"
cargo test --workspace

# The uniffi bindings, from real Python and Kotlin (Maven, JVM), and the
# generated Swift checked for its declarations.
mobile-ffi/scripts/test-bindings.sh

# Outside input never panics: fuzz the envelope opener for a bounded time.
scripts/fuzz.sh "${SAFESPACES_FUZZ_SECONDS:-30}"
