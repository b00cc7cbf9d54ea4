#!/usr/bin/env bash
# Live sync beside the automerge-repo sync server (BENCHMARKS.md, "Live sync").
#
#   scripts/bench-converge.sh [converge] [idle]     both when neither is named
#
# converge: N devices x M edits on one space converge, ours (the release
#   `converge-bench` against the release relay, encrypted and signed, every
#   write durable) and the anchor (the automerge-repo sync server and its
#   load script from /work/shared/anchors, plaintext), alternating run by
#   run, for 2x1000, 8x250 and 32x50; prints every run, the medians and
#   ours/anchor. Ours runs once per edit kind in EDITS each round (a new
#   session, or an offer to lead a planned session: the anchor's shape of
#   edit, one small entry in a shared map), beside the same anchor run.
# idle: requests and WebSocket frames per idle device-hour in live mode
#   (3 spaces, journal sync on, 60 s window).
#
# Environment:
#   RUNS=3                  runs of each side per workload
#   WORKLOADS="2x1000 8x250 32x50"
#   EDITS="session offer"   converge-bench --edit kinds, each its own row
#   AMREPO_DIR=DIR          an installed anchor (DIR/node_modules and the two
#                           .mjs files); installed into a temporary directory
#                           with npm when unset
#   ANCHORS=/work/shared/anchors
#   NO_BUILD=1              skip `cargo build --release`
#   IDLE_SECS=60            the idle window
#   PROFILES=DIR            where device profiles go (passed as --profiles)
#   LIMIT=120               seconds before a run of ours counts as DNF (--limit)
# Every JSON line is also kept in $OUT (default: a temporary file, named at
# the end).
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
WORKLOADS=${WORKLOADS:-"2x1000 8x250 32x50"}
EDITS=${EDITS:-"session offer"}
ANCHORS=${ANCHORS:-/work/shared/anchors}
IDLE_SECS=${IDLE_SECS:-60}
OUT=${OUT:-$(mktemp -t bench-converge.XXXXXX.jsonl)}
PROFILE_ARGS=()
[ -n "${PROFILES:-}" ] && PROFILE_ARGS=(--profiles "$PROFILES")

parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(converge idle)
wants() { local p; for p in "${parts[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }

if [ -z "${NO_BUILD:-}" ]; then
    cargo build --release -p safespaces-relay --bins -p safespaces-e2e --bin converge-bench >&2
fi
export SAFESPACES_RELAY_BIN=$PWD/target/release/safespaces-relay
BENCH=$PWD/target/release/converge-bench

SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true; }
trap cleanup EXIT

install_anchor() {
    AMREPO_DIR=$(mktemp -d -t amrepo.XXXXXX)
    echo "installing the anchor into $AMREPO_DIR" >&2
    (cd "$AMREPO_DIR" && npm init -y >/dev/null &&
        npm install --silent @automerge/automerge-repo@2.5.6 \
            @automerge/automerge-repo-network-websocket@2.5.6 \
            @automerge/automerge-repo-storage-nodefs@2.5.6 ws >&2)
    cp "$ANCHORS"/*.mjs "$AMREPO_DIR"/
}

# One anchor run: a fresh server (fresh data directory), one load, the
# server stopped. Prints the load script's JSON line.
anchor_run() {
    local n=$1 m=$2 port=$((39100 + RANDOM % 800)) data
    data=$(mktemp -d -t amrepo-data.XXXXXX)
    (cd "$AMREPO_DIR" && exec node amrepo-server.mjs "$port" "$data" >/dev/null) &
    SERVER_PID=$!
    # Listening once the port answers.
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    (cd "$AMREPO_DIR" && node amrepo-load.mjs "$port" "$n" "$m")
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    rm -rf "$data"
}

median() { jq -s 'sort | .[length/2|floor]'; }

if wants converge; then
    [ -n "${AMREPO_DIR:-}" ] || install_anchor
    printf '| workload | edit | ours, runs (ms) | ours, median | anchor, runs (ms) | anchor, median | ours / anchor |\n'
    printf '| --- | --- | --- | --- | --- | --- | --- |\n'
    for w in $WORKLOADS; do
        n=${w%x*} m=${w#*x}
        declare -A ours=()
        theirs=()
        for _ in $(seq "$RUNS"); do
            for e in $EDITS; do
                # A run that does not converge within either side's limit
                # (120 s) counts as 120000 ms, marked DNF in the table.
                line=$("$BENCH" converge "$n" "$m" --edit "$e" --limit "${LIMIT:-120}" "${PROFILE_ARGS[@]}" 2>>"$OUT.err") ||
                    line='{"converged":false,"converged_ms":120000}'
                echo "$line" >>"$OUT"
                ours[$e]+="$(jq -r 'if .converged == false then "DNF" else .converged_ms end' <<<"$line") "
            done
            line=$(anchor_run "$n" "$m") || true
            echo "{\"anchor\":$line}" >>"$OUT"
            theirs+=("$(jq -r 'if .converged == false then "DNF" else .converged_ms end' <<<"$line")")
        done
        mt=$(printf '%s\n' "${theirs[@]}" | sed 's/DNF/120000/' | median)
        for e in $EDITS; do
            mo=$(printf '%s\n' ${ours[$e]} | sed 's/DNF/120000/' | median)
            printf '| %sx%s | %s | %s | %s | %s | %s | %s |\n' "$n" "$m" "$e" "${ours[$e]% }" "$mo" "${theirs[*]}" "$mt" \
                "$(jq -n "$mo / $mt * 100 | round / 100")"
        done
        unset ours
    done
fi

if wants idle; then
    line=$("$BENCH" idle --secs "$IDLE_SECS" "${PROFILE_ARGS[@]}")
    echo "$line" >>"$OUT"
    echo
    echo "idle device in live mode (3 spaces, journal sync on, ${IDLE_SECS} s window), per device-hour:"
    jq -c '.per_device_hour' <<<"$line"
fi
echo "every run's JSON: $OUT (our runs' stderr: $OUT.err)" >&2
