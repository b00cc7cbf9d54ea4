#!/usr/bin/env bash
# Runs every test of the project: the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
cargo test --workspace

# Outside input never panics: fuzz the envelope opener for a bounded time.
scripts/fuzz.sh "${SAFESPACES_FUZZ_SECONDS:-30}"
