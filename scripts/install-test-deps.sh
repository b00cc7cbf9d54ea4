#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine of the
# project's kind, and nothing when it is already there. Safe to run often.
set -euo pipefail

need=()
command -v age >/dev/null 2>&1 || need+=(age)
# `script` gives the stock age tool the terminal it reads passphrases from.
command -v script >/dev/null 2>&1 || need+=(bsdutils)
# The relay's PostgreSQL tests start a throwaway server (scripts/pg-test-server.sh).
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
# The shipped systemd unit is checked with `systemd-analyze verify` and its
# offline security review (sync-server/tests/systemd_unit.rs).
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)

if ((${#need[@]})); then
    echo "install-test-deps: installing ${need[*]}" >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
