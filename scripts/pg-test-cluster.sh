#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests.
#
#   scripts/pg-test-cluster.sh start DIR   initialise (once) and start a cluster in DIR; the last line on stdout is an
#                                          Npgsql connection string (superuser "postgres", trust auth, 127.0.0.1 only)
#   scripts/pg-test-cluster.sh stop DIR    stop it; DIR (data, log, socket) is left for the caller to remove
#
# Uses the binaries of Debian's postgresql package (pg_config --bindir, else /usr/lib/postgresql/*/bin) and installs that
# package when they are missing and we are root. initdb and pg_ctl refuse to run as root, so as root the cluster runs as
# the "postgres" user and DIR is handed to it; as any other user the cluster runs as that user. Everything else goes to
# stderr, so `tail -n 1` of stdout is the connection string. The server log is DIR/postgres.log.
set -euo pipefail

die() {
    echo "pg-test-cluster: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 start DIR | stop DIR" >&2
    exit 2
}

# The directory holding initdb, pg_ctl and pg_isready, or nothing.
find_bindir() {
    local candidates=() dir
    if command -v pg_config >/dev/null 2>&1; then
        candidates+=("$(pg_config --bindir 2>/dev/null || true)")
    fi
    # Newest major version first (version-aware sort, so 16 comes before 9.6).
    if [[ -d /usr/lib/postgresql ]]; then
        while IFS= read -r dir; do
            candidates+=("$dir")
        done < <(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null | sort -rV)
    fi
    for dir in "${candidates[@]}"; do
        # pg_config from libpq-dev alone names a bindir without the server binaries: check them.
        if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/pg_isready" ]]; then
            echo "$dir"
            return 0
        fi
    done
    return 0
}

ensure_binaries() {
    BINDIR="$(find_bindir)"
    if [[ -n "$BINDIR" ]]; then
        return
    fi
    if [[ "$(id -u)" -ne 0 ]]; then
        die "PostgreSQL server binaries not found (pg_config --bindir, /usr/lib/postgresql/*/bin); install Debian's postgresql package, or run as root to have it installed"
    fi
    echo "pg-test-cluster: installing Debian's postgresql package" >&2
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
    BINDIR="$(find_bindir)"
    [[ -n "$BINDIR" ]] || die "postgresql was installed but initdb/pg_ctl/pg_isready are still not found"
}

# Runs a PostgreSQL binary as the cluster's owner: "postgres" when we are root, ourselves otherwise.
as_owner() {
    if [[ "$(id -u)" -eq 0 ]]; then
        # From "/", not the caller's directory: postgres may not be allowed into it (initdb warns, pg_ctl may fail).
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# Every local TCP port in use (any state, IPv4 and IPv6), read from /proc so that no ss/netstat/python is needed.
used_ports() {
    local file line local_address
    for file in /proc/net/tcp /proc/net/tcp6; do
        [[ -r "$file" ]] || continue
        while read -r _ local_address _; do
            [[ "$local_address" == *:* ]] || continue
            echo $((16#${local_address##*:}))
        done < <(tail -n +2 "$file")
    done
}

free_port() {
    local used port attempt
    used=" $(used_ports | sort -un | tr '\n' ' ') "
    for attempt in $(seq 1 200); do
        # Above the registered range most services use, below Linux's default ephemeral range (32768+).
        port=$((20000 + RANDOM % 12000))
        if [[ "$used" != *" $port "* ]]; then
            echo "$port"
            return 0
        fi
    done
    die "no free TCP port found between 20000 and 32000"
}

connection_string() {
    echo "Host=127.0.0.1;Port=$1;Username=postgres;Database=postgres;Pooling=true;Include Error Detail=true"
}

# Polls pg_isready every 0.1 s until the server accepts connections, or fails at the deadline.
wait_ready() {
    local port="$1" deadline=$((SECONDS + 60))
    until "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; do
        if ((SECONDS >= deadline)); then
            tail -n 20 "$DIR/postgres.log" >&2 || true
            die "PostgreSQL on port $port did not become ready within 60 s"
        fi
        sleep 0.1
    done
}

start() {
    ensure_binaries
    mkdir -p "$DIR"
    DIR="$(cd "$DIR" && pwd)"
    # The Unix socket DIR/.s.PGSQL.<port> must fit in sun_path (107 bytes).
    ((${#DIR} <= 80)) || die "DIR is too long for a Unix socket path (${#DIR} > 80 characters): use a shorter one, e.g. mktemp -d"
    if [[ "$(id -u)" -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "user postgres does not exist (it comes with Debian's postgresql package)"
        chown postgres: "$DIR"
        chmod 700 "$DIR"
        runuser -u postgres -- test -w "$DIR" ||
            die "user postgres cannot write $DIR: a parent directory is not accessible to it; use e.g. mktemp -d"
    fi

    local data="$DIR/data"
    if [[ -f "$DIR/port" ]] && as_owner "$BINDIR/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        local port
        port="$(cat "$DIR/port")"
        wait_ready "$port"
        connection_string "$port"
        return
    fi

    if [[ ! -f "$data/PG_VERSION" ]]; then
        # -U postgres: the superuser has the same name whoever ran initdb, so the connection string is always the same.
        as_owner "$BINDIR/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C >"$DIR/initdb.log" 2>&1 ||
            { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
    fi

    local attempt port
    for attempt in 1 2 3 4 5; do
        port="$(free_port)"
        # fsync=off (and no synchronous commit, no full-page writes) is safe only because the cluster is thrown away:
        # a crash may corrupt it, and the tests only need a server that behaves like PostgreSQL, not one that is durable.
        if as_owner "$BINDIR/pg_ctl" -D "$data" -l "$DIR/postgres.log" -w -t 60 \
            -o "-p $port -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >&2; then
            echo "$port" >"$DIR/port"
            wait_ready "$port"
            connection_string "$port"
            return
        fi
        # Another process may have taken the port between the check and the bind: try another one.
        if grep -q -e 'could not bind' -e 'could not create any TCP/IP sockets' "$DIR/postgres.log" 2>/dev/null; then
            echo "pg-test-cluster: port $port was taken, retrying" >&2
            continue
        fi
        tail -n 20 "$DIR/postgres.log" >&2 || true
        die "pg_ctl start failed"
    done
    die "could not start PostgreSQL: every port tried was taken"
}

stop() {
    [[ -d "$DIR/data" ]] || die "no cluster in $DIR"
    ensure_binaries
    if as_owner "$BINDIR/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
        # Fast mode: roll back open transactions and disconnect clients; nothing needs a clean shutdown here.
        as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -m fast -w -t 60 stop >&2
    fi
    rm -f "$DIR/port"
}

[[ $# -eq 2 ]] || usage
DIR="$2"
case "$1" in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac
