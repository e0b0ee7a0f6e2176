#!/usr/bin/env bash
# The Postgres design's services for the shopd-baseline server: a private
# PostgreSQL 15 cluster and a Redis cache, both on loopback, both living in one
# data dir, tuned the way the plans tune them. Idempotent; never reads stdin.
#
#   setup.sh [start] [DIR]     install (apt) if missing, initdb, start, tune,
#                              create the database, load CATALOG when given
#   setup.sh stop [DIR]        stop what `start` started in DIR (pid files), nothing else
#   setup.sh status [DIR]      print the URLs if both services run, exit 1 otherwise
#   setup.sh install           only install PostgreSQL and Redis (apt) if missing
#
# Options (or the environment variable in brackets):
#   --dir DIR          [BASELINE_DIR]   data dir; default ./target/baseline-services
#   --pg-port N        [PG_PORT]        default: the port used last time in DIR, else a free one
#   --redis-port N     [REDIS_PORT]     same
#   --catalog DIR      [CATALOG_DIR]    a shopd JSONL catalogue (brands.jsonl, products.jsonl, …)
#                                       to load: the schema is dropped and recreated (without
#                                       one, an empty schema is created if there is none)
#   --bin PATH         [BASELINE_BIN]   the shopd-baseline binary that loads it
#                                       (default: on PATH, else target/{release,debug}/)
#   --mem-mb N         [BASELINE_MEM_MB] memory to tune for (default: MemTotal)
#   --redis-maxmemory BYTES [REDIS_MAXMEMORY] bound Redis to BYTES with LRU eviction
#                                       (allkeys-lru), applied to a running Redis too;
#                                       default: no bound
#
# stdout gets only KEY=VALUE lines (DATABASE_URL, REDIS_URL, PG_PORT,
# REDIS_PORT, BASELINE_DIR), so a harness can `eval "$(setup.sh …)"`; the same
# lines are written to DIR/env. Progress goes to stderr.
set -euo pipefail

log() { printf 'setup.sh: %s\n' "$*" >&2; }
die() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 1; }

cmd=start
case "${1:-}" in
  start | stop | status | install) cmd=$1; shift ;;
esac

dir=${BASELINE_DIR:-}
pg_port=${PG_PORT:-}
redis_port=${REDIS_PORT:-}
catalog=${CATALOG_DIR:-}
bin=${BASELINE_BIN:-}
mem_mb=${BASELINE_MEM_MB:-}
redis_maxmemory=${REDIS_MAXMEMORY:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --pg-port) pg_port=$2; shift 2 ;;
    --redis-port) redis_port=$2; shift 2 ;;
    --catalog) catalog=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --mem-mb) mem_mb=$2; shift 2 ;;
    --redis-maxmemory) redis_maxmemory=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/!p}' "$0"; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) dir=$1; shift ;;
  esac
done
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=${dir:-$repo/target/baseline-services}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pgdata=$dir/pg
run=$dir/run # sockets, logs: owned by the server's user
envfile=$dir/env
db=shop

# Which user runs PostgreSQL: initdb refuses root, so root hands it to
# `postgres` (created by the Debian package).
if [ "$(id -u)" = 0 ]; then
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

missing_packages() {
  need=()
  pg_bin >/dev/null || need+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
}

# Tests start services in parallel: one installer at a time (flock), and the
# others find the packages there once they get the lock. apt's own locks are
# waited for too, in case something else on the machine holds them.
install_missing() {
  local need
  missing_packages
  [ ${#need[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "${need[*]} missing and not root: install them first"
  exec 9>"${TMPDIR:-/tmp}/shopd-apt.lock"
  flock 9
  missing_packages
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -q >&2
    apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${need[@]}" >&2
  fi
  flock -u 9
  exec 9>&-
}

pid_alive() { [ -f "$1" ] && kill -0 "$(head -n1 "$1")" 2>/dev/null; }

pg_running() { [ -f "$pgdata/PG_VERSION" ] && as_pg "$(pg_bin)/pg_ctl" status -D "$pgdata" >/dev/null 2>&1; }

redis_running() {
  pid_alive "$dir/redis.pid" &&
    tr '\0' ' ' <"/proc/$(head -n1 "$dir/redis.pid")/cmdline" 2>/dev/null | grep -q redis-server
}

# A loopback port nothing listens on (connection refused), not in "$@",
# below the kernel's ephemeral range: a port there can be the local end of
# an outgoing connection, which refuses connections yet cannot be bound
# (PostgreSQL then fails with "Address already in use").
free_port() {
  local p i low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$low" -gt 12000 ] 2>/dev/null || low=32768
  for i in $(seq 1 500); do
    p=$(((RANDOM % (low - 11000)) + 10000))
    case " $* " in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}

print_env() {
  local lines
  lines=$(
    cat <<EOF
DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/$db
REDIS_URL=redis://127.0.0.1:$redis_port/
PG_PORT=$pg_port
REDIS_PORT=$redis_port
BASELINE_DIR=$dir
EOF
  )
  printf '%s\n' "$lines" >"$envfile"
  printf '%s\n' "$lines"
}

previous() {
  if [ -f "$envfile" ]; then sed -n "s/^$1=//p" "$envfile" | head -n1; fi
}

stop() {
  if pg_running; then
    log "stopping PostgreSQL ($pgdata)"
    as_pg "$(pg_bin)/pg_ctl" stop -D "$pgdata" -m fast -w -t 60 >&2
  fi
  rm -f "$dir/postgres.pid"
  if redis_running; then
    local pid
    pid=$(head -n1 "$dir/redis.pid")
    log "stopping Redis (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$dir/redis.pid"
}

# postgresql.conf settings the plans ask for, scaled to this machine:
# shared_buffers 25 % of RAM, effective_cache_size 75 %, work_mem what is left
# after shared_buffers spread over 3 sorts per connection (pgtune's "web"
# profile), maintenance_work_mem RAM/16 (≤ 2 GB), SSD costs, slow-query log at 1 s.
#
# No parallel query (max_parallel_workers_per_gather = 0), checked with
# EXPLAIN ANALYZE and auto_explain (log_min_duration = 0) over the bench's
# list, search and detail statements on the 100K catalogue: none got a Gather
# plan at the former setting of 1 worker per gather (counts are index-only
# scans of 78–91 pages in 20–35 ms; search counts are bitmap heap scans of
# ~4,000 pages), so the setting changed no plan there. It is set to 0 so that
# it cannot start to: under the pool's 20 concurrent connections on this
# 2-core machine every core is already busy, and a parallel worker adds a
# process start and a gather step per statement without adding a core
# (parallelism buys one query's latency with throughput).
# BASELINE_AUTO_EXPLAIN=1 logs every plan to run/postgres.log, to check again.
write_tuning() {
  local mem cores max_conn sb ecs wm mwm
  mem=${mem_mb:-$(($(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) / 1024))}
  cores=$(nproc)
  max_conn=100
  sb=$((mem / 4))
  ecs=$((mem * 3 / 4))
  wm=$(((mem - sb) / (max_conn * 3)))
  [ "$wm" -lt 4 ] && wm=4
  mwm=$((mem / 16))
  [ "$mwm" -gt 2048 ] && mwm=2048
  cat >"$pgdata/shopd-baseline.conf" <<EOF
# Written by benches/baseline/setup.sh for ${mem} MB RAM and ${cores} cores; rewritten on every start.
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$run'
max_connections = $max_conn
shared_buffers = ${sb}MB
effective_cache_size = ${ecs}MB
work_mem = ${wm}MB
maintenance_work_mem = ${mwm}MB
wal_buffers = 16MB
checkpoint_completion_target = 0.9
min_wal_size = 1GB
max_wal_size = 4GB
random_page_cost = 1.1
effective_io_concurrency = 200
default_statistics_target = 100
max_worker_processes = $cores
max_parallel_workers = $cores
max_parallel_workers_per_gather = 0
log_min_duration_statement = 1000
EOF
  if [ "${BASELINE_AUTO_EXPLAIN:-0}" = 1 ]; then
    cat >>"$pgdata/shopd-baseline.conf" <<EOF
session_preload_libraries = 'auto_explain'
auto_explain.log_min_duration = 0
EOF
  fi
  chown postgres: "$pgdata/shopd-baseline.conf" 2>/dev/null || true
  log "tuning: shared_buffers=${sb}MB effective_cache_size=${ecs}MB work_mem=${wm}MB maintenance_work_mem=${mwm}MB"
}

start_postgres() {
  local bindir
  bindir=$(pg_bin) || die "PostgreSQL is not installed"
  mkdir -p "$pgdata" "$run"
  # The server's user must reach DIR: make DIR traversable and give it its dirs.
  chmod a+rx "$dir"
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$pgdata" "$run"
    as_pg test -w "$pgdata" || die "user postgres cannot reach $pgdata (a parent dir is not traversable)"
  fi
  chmod 700 "$pgdata"
  if [ ! -f "$pgdata/PG_VERSION" ]; then
    log "initdb $pgdata"
    as_pg "$bindir/initdb" -D "$pgdata" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$run/initdb.log" 2>&1 ||
      die "initdb failed: $(tail -n 5 "$run/initdb.log")"
  fi
  grep -q "^include_if_exists = 'shopd-baseline.conf'" "$pgdata/postgresql.conf" ||
    echo "include_if_exists = 'shopd-baseline.conf'" >>"$pgdata/postgresql.conf"
  write_tuning
  log "starting PostgreSQL on 127.0.0.1:$pg_port"
  if ! as_pg "$bindir/pg_ctl" start -D "$pgdata" -l "$run/postgres.log" -w -t 60 >&2; then
    grep -q "Address already in use" "$run/postgres.log" 2>/dev/null && return 2
    die "PostgreSQL did not start: $(tail -n 20 "$run/postgres.log" 2>/dev/null)"
  fi
  head -n1 "$pgdata/postmaster.pid" >"$dir/postgres.pid"
}

start_redis() {
  mkdir -p "$dir/redis"
  log "starting Redis on 127.0.0.1:$redis_port"
  # A cache: no persistence.
  redis-server --bind 127.0.0.1 --port "$redis_port" --daemonize yes \
    --pidfile "$dir/redis.pid" --dir "$dir/redis" --logfile "$dir/redis/redis.log" \
    --save '' --appendonly no >&2 || die "redis-server did not start"
  for _ in $(seq 1 100); do
    redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null | grep -q PONG && return 0
    grep -q "Address already in use" "$dir/redis/redis.log" 2>/dev/null && return 2
    sleep 0.1
  done
  die "Redis does not answer on port $redis_port: $(tail -n 20 "$dir/redis/redis.log" 2>/dev/null)"
}

# Starts a service ($1: postgres or redis) on the port given, or on a free
# one. A port nothing listened on a moment ago can still fail to bind: taken
# in between, or the local end of an outgoing connection where the kernel's
# ephemeral range covers it (1024-65535 on some machines). A given port is
# then an error; a chosen one is replaced, up to 5 times.
start_on_a_port() {
  local service=$1 given=$2 try rc
  for try in 1 2 3 4 5; do
    rc=0
    case $service in
      postgres) start_postgres || rc=$? ;;
      redis) mkdir -p "$dir/redis" && : >"$dir/redis/redis.log"; start_redis || rc=$? ;;
    esac
    [ "$rc" = 0 ] && return 0
    [ -z "$given" ] || die "$service: port ${pg_port}/${redis_port} is already in use"
    log "$service: the port was taken; trying another"
    case $service in
      postgres) pg_port=$(free_port "$redis_port") ;;
      redis) redis_port=$(free_port "$pg_port") ;;
    esac
  done
  die "$service: no free port after 5 tries"
}

psql_admin() { "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }

find_bin() {
  if [ -n "$bin" ]; then
    [ -x "$bin" ] || die "BASELINE_BIN $bin is not executable"
    echo "$bin"
    return
  fi
  local c
  for c in "$(command -v shopd-baseline 2>/dev/null || true)" \
    "${CARGO_TARGET_DIR:-$repo/target}/release/shopd-baseline" \
    "${CARGO_TARGET_DIR:-$repo/target}/debug/shopd-baseline"; do
    [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return; }
  done
  die "shopd-baseline not found: build it (cargo build --features baseline --bin shopd-baseline) or pass --bin"
}

case "$cmd" in
  install)
    install_missing
    exit 0
    ;;
  stop)
    stop
    exit 0
    ;;
  status)
    pg_running && redis_running || { log "not running in $dir"; exit 1; }
    cat "$envfile"
    exit 0
    ;;
esac

install_missing

# Ports: given, else what this dir used last time, else free ones.
pg_port=${pg_port:-$(previous PG_PORT)}
redis_port=${redis_port:-$(previous REDIS_PORT)}
if pg_running; then
  running_port=$(sed -n 4p "$pgdata/postmaster.pid")
  [ -z "$pg_port" ] || [ "$pg_port" = "$running_port" ] ||
    die "PostgreSQL already runs in $dir on port $running_port, not $pg_port: stop it first"
  pg_port=$running_port
  log "PostgreSQL already running on 127.0.0.1:$pg_port"
else
  given_pg=$pg_port
  pg_port=${pg_port:-$(free_port "$redis_port")}
  start_on_a_port postgres "$given_pg"
fi
if redis_running; then
  log "Redis already running (pid $(head -n1 "$dir/redis.pid"))"
  [ -n "$redis_port" ] || die "Redis runs but its port is unknown: run setup.sh stop first"
else
  given_redis=$redis_port
  redis_port=${redis_port:-$(free_port "$pg_port")}
  start_on_a_port redis "$given_redis"
fi
if [ -n "$redis_maxmemory" ]; then
  log "Redis bounded to $redis_maxmemory bytes, allkeys-lru"
  redis-cli -h 127.0.0.1 -p "$redis_port" CONFIG SET maxmemory "$redis_maxmemory" >/dev/null
  redis-cli -h 127.0.0.1 -p "$redis_port" CONFIG SET maxmemory-policy allkeys-lru >/dev/null
fi

if [ -z "$(psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
  log "creating database $db"
  psql_admin -d postgres -c "CREATE DATABASE $db TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
fi

url="postgres://postgres@127.0.0.1:$pg_port/$db"
if [ -n "$catalog" ]; then
  [ -d "$catalog" ] || die "catalogue $catalog is not a directory"
  loader=$(find_bin)
  log "loading $catalog with $loader"
  # The loader recreates the schema, COPYs every table, builds the indexes
  # and runs VACUUM (ANALYZE).
  "$loader" load --dir "$catalog" --database-url "$url" >&2
  # Cached answers describe the previous catalogue.
  redis-cli -h 127.0.0.1 -p "$redis_port" FLUSHALL >/dev/null
elif [ -z "$(psql_admin -d "$db" -tAc "SELECT to_regclass('\"Product\"')")" ]; then
  log "creating the (empty) schema"
  PGOPTIONS="-c client_min_messages=warning" psql_admin -d "$db" -f "$(dirname "$0")/schema.sql" >&2
fi

log "PostgreSQL: $url (data $pgdata, log $run/postgres.log)"
log "Redis:      redis://127.0.0.1:$redis_port/ (log $dir/redis/redis.log)"
log "stop both with: $0 stop $dir"
print_env
