#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for ferroptim-tune's PostgreSQL storage tests.
#
#   scripts/pg-cluster.sh start   [DIR] [PORT]   initdb (once), start, create the database; prints the URL
#   scripts/pg-cluster.sh stop    [DIR] [PORT]   stop it (fast shutdown); keeps DIR unless --remove is given
#   scripts/pg-cluster.sh restart [DIR] [PORT]   restart it (fast shutdown, then start; waits until it is up)
#   scripts/pg-cluster.sh status  [DIR] [PORT]   exit 0 if it is running
#   scripts/pg-cluster.sh url     [DIR] [PORT]   print the URL
#
# DIR (default <repo>/.pg, git-ignored; /tmp/ferroptim-pg-<checksum of the repo path> when run as
# root from a checkout the postgres user cannot reach) holds the data directory DIR/data and the
# server log DIR/server.log; PORT defaults to 54329. FERROPTIM_PG_DIR and FERROPTIM_PG_PORT give
# other defaults. The server listens on 127.0.0.1 only (no Unix socket), with trust
# authentication (no passwords: it is for tests), and holds a database `ferroptim_test`. `start`
# prints the URL as its only line on stdout, e.g.
#
#   export FERROPTIM_PG_URL="$(bash scripts/pg-cluster.sh start)"
#   # -> postgresql://postgres@127.0.0.1:54329/ferroptim_test
#
# Every command is idempotent (`start` on a running cluster only prints the URL). Run as root (as
# CI does), the server's commands run as the `postgres` system user through runuser, and DIR is
# chowned to it; run as any other user, they run as that user (who must be able to run the
# PostgreSQL binaries and write DIR). The binaries come from $PG_BINDIR, else the newest
# /usr/lib/postgresql/*/bin (Debian's layout), else PATH.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|restart|status|url [DIR] [PORT] [--remove]" >&2
  exit 2
}

REPO="$(cd "$(dirname "$0")/.." && pwd)"
REMOVE=0
ARGS=()
for a in "$@"; do
  case "$a" in
    --remove) REMOVE=1 ;;
    -h | --help) usage ;;
    *) ARGS+=("$a") ;;
  esac
done
[ "${#ARGS[@]}" -ge 1 ] || usage
CMD="${ARGS[0]}"
DIR="${ARGS[1]:-${FERROPTIM_PG_DIR:-$REPO/.pg}}"
PORT="${ARGS[2]:-${FERROPTIM_PG_PORT:-54329}}"
DB=ferroptim_test
PGUSER_NAME=postgres

case "$PORT" in
  '' | *[!0-9]*) echo "pg-cluster: PORT must be a number, received '$PORT'" >&2; exit 2 ;;
esac
if [ "$PORT" -lt 1024 ] || [ "$PORT" -gt 65535 ]; then
  echo "pg-cluster: PORT must be in 1024..65535, received $PORT" >&2
  exit 2
fi

log() { echo "pg-cluster: $*" >&2; }

# Run as root from a checkout the postgres user cannot reach (say under a 0700 home), the default
# DIR moves to a fixed place under /tmp (the same for every command on this checkout).
if [ -z "${ARGS[1]:-}" ] && [ -z "${FERROPTIM_PG_DIR:-}" ] && [ "$(id -u)" -eq 0 ] \
  && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$REPO"; then
  DIR="${TMPDIR:-/tmp}/ferroptim-pg-$(printf '%s' "$REPO" | cksum | cut -d ' ' -f 1)"
  log "the postgres user cannot reach $REPO; the cluster lives in $DIR"
fi

# Absolute DIR (it may not exist yet).
case "$DIR" in
  /*) ;;
  *) DIR="$PWD/$DIR" ;;
esac
DATA="$DIR/data"
LOGFILE="$DIR/server.log"
URL="postgresql://$PGUSER_NAME@127.0.0.1:$PORT/$DB"

find_bindir() {
  if [ -n "${PG_BINDIR:-}" ]; then
    echo "$PG_BINDIR"
    return
  fi
  local d best=""
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] || continue
    best="$d" # the glob sorts 13 < 14 < 15 < 16 for two-digit majors
  done
  if [ -n "$best" ]; then
    echo "$best"
    return
  fi
  if command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v pg_ctl)"
    return
  fi
  log "no PostgreSQL binaries found (set PG_BINDIR, or install Debian's postgresql package)"
  exit 1
}
BINDIR="$(find_bindir)"

# Runs a PostgreSQL command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

is_running() {
  [ -f "$DATA/PG_VERSION" ] && as_owner "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

psql_q() {
  as_owner "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$PGUSER_NAME" -d postgres -tAc "$1"
}

init_cluster() {
  if [ -f "$DATA/PG_VERSION" ]; then
    return
  fi
  log "initdb into $DATA"
  mkdir -p "$DATA"
  if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
      log "running as root needs the 'postgres' system user (Debian's postgresql package creates it)"
      exit 1
    fi
    chown -R postgres: "$DIR"
    # The postgres user must be able to reach DIR.
    if ! runuser -u postgres -- test -w "$DATA"; then
      log "the postgres user cannot write $DATA (is a parent directory not searchable by others?)"
      exit 1
    fi
  fi
  chmod 700 "$DATA"
  as_owner "$BINDIR/initdb" -D "$DATA" -U "$PGUSER_NAME" --auth=trust --encoding=UTF8 --locale=C >"$DIR/initdb.log" 2>&1 || {
    cat "$DIR/initdb.log" >&2
    exit 1
  }
  # Local TCP only (no Unix socket: none in /var/run/postgresql, no path-length limit). fsync off: the
  # cluster is throwaway (a clean restart still keeps every commit).
  cat >>"$DATA/postgresql.conf" <<EOF

# pg-cluster.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
fsync = off
full_page_writes = off
log_min_messages = warning
log_line_prefix = '%m [%p] '
EOF
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$DATA/postgresql.conf"; fi
}

start_cluster() {
  init_cluster
  if is_running; then
    log "already running ($DATA)"
  else
    touch "$LOGFILE"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$LOGFILE"; fi
    if ! as_owner "$BINDIR/pg_ctl" -D "$DATA" -l "$LOGFILE" -o "-p $PORT" -w -t 60 start >/dev/null; then
      log "could not start the server; the end of $LOGFILE:"
      tail -n 20 "$LOGFILE" >&2 || true
      exit 1
    fi
    log "started on 127.0.0.1:$PORT ($DATA)"
  fi
  if [ "$(psql_q "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != "1" ]; then
    psql_q "CREATE DATABASE $DB" >/dev/null
    log "created database $DB"
  fi
  echo "$URL"
}

stop_cluster() {
  if is_running; then
    as_owner "$BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
    log "stopped ($DATA)"
  else
    log "not running ($DATA)"
  fi
  if [ "$REMOVE" -eq 1 ] && [ -d "$DIR" ]; then
    rm -rf -- "$DIR"
    log "removed $DIR"
  fi
}

restart_cluster() {
  if ! is_running; then
    start_cluster
    return
  fi
  if ! as_owner "$BINDIR/pg_ctl" -D "$DATA" -l "$LOGFILE" -m fast -w -t 60 restart >/dev/null; then
    log "could not restart the server; the end of $LOGFILE:"
    tail -n 20 "$LOGFILE" >&2 || true
    exit 1
  fi
  log "restarted ($DATA)"
  echo "$URL"
}

case "$CMD" in
  start) start_cluster ;;
  stop) stop_cluster ;;
  restart) restart_cluster ;;
  status) if is_running; then echo "running"; else echo "stopped"; exit 1; fi ;;
  url) echo "$URL" ;;
  *) usage ;;
esac
