#!/usr/bin/env bash
# A throwaway PostgreSQL server for the relay's tests and benchmarks.
#
#   scripts/pg-test-server.sh start DIR [--watch PID]   prints the database URL
#   scripts/pg-test-server.sh createdb DIR NAME         adds an empty database, prints its URL
#   scripts/pg-test-server.sh stop DIR                  stops it and removes DIR
#
# `start` runs initdb into DIR (which must not exist or be empty), starts the
# server listening only on a unix socket inside DIR (no TCP port, so parallel
# servers never collide and nothing outside this machine can reach it), creates
# the database `relay` and prints its URL on stdout, e.g.
#   postgres://relay@localhost/relay?host=/tmp/x/sock
# With `--watch PID` a detached watchdog stops the server and removes DIR as
# soon as process PID is gone, so a test binary that panics or is killed
# never leaves a server behind.
#
# PostgreSQL refuses to run as root. When run as root (CI, this machine) the
# server runs as the `postgres` user that Debian's `postgresql` package
# creates; otherwise as the calling user. The server binaries are found in
# $PG_BIN, else the newest /usr/lib/postgresql/*/bin, else `pg_config --bindir`;
# if there are none, `start` exits with status 3 (tests then skip loudly).
# Durability settings are PostgreSQL's defaults (fsync on), so benchmark
# figures taken against this server are honest about durable commits.
set -euo pipefail

die() { echo "pg-test-server: $*" >&2; exit 1; }

find_bin() {
    if [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/postgres" ]; then echo "$PG_BIN"; return; fi
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$d" ] && [ -x "$d/postgres" ]; then echo "$d"; return; fi
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir)
        if [ -x "$d/postgres" ]; then echo "$d"; return; fi
    fi
    echo "pg-test-server: PostgreSQL server binaries not found (install Debian's postgresql package: scripts/install-test-deps.sh)" >&2
    exit 3
}

# Runs a command as the server's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start DIR [--watch PID] | createdb DIR NAME | stop DIR"

case "$cmd" in
start)
    watch=""
    if [ "${3:-}" = "--watch" ]; then watch=${4:?--watch needs a PID}; fi
    bin=$(find_bin)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    mkdir -p "$dir/sock"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (Debian's postgresql package creates it)"
        chown -R postgres: "$dir"
        # The server must be able to reach DIR through its parents (mktemp
        # directories are 0700 and owned by root).
        chmod 0755 "$dir"
    fi
    # -N: a throwaway cluster need not be fsynced by initdb itself; the
    # server's own commits still are (fsync stays on).
    as_owner "$bin/initdb" -D "$dir/data" -U relay --auth=trust -E UTF8 --no-locale -N >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$dir/sock' -c max_connections=300 -c shared_buffers=128MB" \
        start >/dev/null ||
        { cat "$dir/server.log" >&2; die "the server did not start"; }
    as_owner "$bin/psql" -q -h "$dir/sock" -U relay -d postgres -c "CREATE DATABASE relay" >/dev/null ||
        die "could not create the database"
    if [ -n "$watch" ]; then
        # Detached and with every descriptor closed, so whoever reads our
        # stdout sees its end now rather than when the watchdog exits.
        setsid bash -c '
            while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
            exec "$2" stop "$3"
        ' watchdog "$watch" "$(cd "$(dirname "$0")" && pwd)/$(basename "$0")" "$dir" \
            </dev/null >/dev/null 2>&1 &
    fi
    echo "postgres://relay@localhost/relay?host=$dir/sock"
    ;;
createdb)
    name=${3:?createdb needs a database name}
    dir=$(cd "$dir" && pwd)
    bin=$(find_bin)
    "$bin/psql" -q -v ON_ERROR_STOP=1 -h "$dir/sock" -U relay -d relay -c "CREATE DATABASE \"$name\"" >/dev/null
    echo "postgres://relay@localhost/$name?host=$dir/sock"
    ;;
stop)
    [ -d "$dir" ] || exit 0
    bin=$(find_bin)
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*)
    die "unknown command $cmd"
    ;;
esac
