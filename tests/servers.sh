#!/usr/bin/env bash
# Throwaway database servers on 127.0.0.1 for the integration tests: PostgreSQL 15 (a writer, a
# streaming replica of it, four shard servers shard0..shard3) and MariaDB 10.11 (a primary, a
# GTID binlog replica of it, two shard servers shard0 and shard1).
#
#   tests/servers.sh start [DIR]   start them in DIR (default: a new /tmp/grant-pg.XXXXXX);
#                                  writes DIR/env and prints its path as the last stdout line
#   tests/servers.sh stop DIR      stop them and delete DIR; safe to repeat
#   tests/servers.sh status DIR    whether each server answers
#
# Every server has the login "grant" (password grant-test-secret) and a database grant_test.
# PostgreSQL: a SUPERUSER role, scram-sha-256 over TCP. MariaDB: every privilege (replication
# control included: STOP SLAVE SQL_THREAD works as grant) except READ ONLY ADMIN, so the
# replica's read_only refuses grant's writes. Use them with:  source "$(tests/servers.sh start | tail -n1)"
# DIR/env exports, with NAME one of WRITER REPLICA SHARD0..SHARD3 (PG) or PRIMARY REPLICA
# SHARD0 SHARD1 (MY):
#   GRANT_TEST_PG_NAME_URL    postgres://grant:grant-test-secret@127.0.0.1:PORT/grant_test
#   GRANT_TEST_MY_NAME_URL    mysql://grant:grant-test-secret@127.0.0.1:PORT/grant_test
#   GRANT_TEST_PG_NAME_PORT, GRANT_TEST_MY_NAME_PORT, GRANT_TEST_MY_NAME_SOCKET (unix socket)
#   GRANT_TEST_PG_{DIR,BIN,HOST,USER,PASSWORD,DATABASE,SOCKET_DIR}
#   GRANT_TEST_MYSQL=1, GRANT_TEST_MY_{DIR,HOST,USER,PASSWORD,DATABASE}
#   GRANT_TEST_MY_ADMIN_USER  MariaDB's root-like account over a NAME_SOCKET, for the OS user
#                             that ran start (root in CI): mariadb -S SOCKET -u ADMIN_USER
# MariaDB is required unless GRANT_TEST_NO_MYSQL=1, which leaves it out (and its lines of DIR/env).
# Set GRANT_TEST_PG_KEEP_ON_FAILURE=1 to keep DIR (data and logs) when start fails.
set -euo pipefail

readonly pg_bin=${GRANT_TEST_PG_BIN:-/usr/lib/postgresql/15/bin}
readonly role=grant
readonly password=grant-test-secret
readonly database=grant_test
readonly marker=.grant-test-servers
# Stop order matters: the replica goes before its writer.
readonly servers=(replica writer shard0 shard1 shard2 shard3)

# shellcheck source=tests/mariadb_servers.sh
source "${BASH_SOURCE[0]%/*}/mariadb_servers.sh"

# Keep the caller's libpq settings out of our own connections.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGPASSWORD PGPASSFILE PGSERVICE PGSERVICEFILE \
  PGOPTIONS PGSSLMODE PGREQUIRESSL PGCONNECT_TIMEOUT PGTARGETSESSIONATTRS PGAPPNAME
export LC_ALL=C

dir=
sock=

log() { printf 'servers.sh: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  sed -n '2,/^set /s/^# \{0,1\}//p' "$0"
}

# Runs a command as the OS user that owns the clusters: postgres refuses to run as root.
as_pg() {
  if ((EUID == 0)); then
    runuser -u postgres -- env HOME="$dir" "$@"
  else
    "$@"
  fi
}

# psql as the bootstrap superuser over the unix socket (trust), for setup work.
pg_sql() {
  local port=$1 db=$2 sql=$3
  as_pg "$pg_bin/psql" -X -q -A -t -v ON_ERROR_STOP=1 \
    -h "$sock" -p "$port" -U postgres -d "$db" -c "$sql"
}

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
elapsed_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Sets picked_port to a port nothing listens on, outside the kernel's ephemeral range
# and not in taken_ports.
taken_ports=" "
picked_port=
pick_port() {
  local port i
  for ((i = 0; i < 500; i++)); do
    port=$((15000 + RANDOM % 17000))
    [[ $taken_ports == *" $port "* ]] && continue
    port_in_use "$port" && continue
    taken_ports+="$port "
    picked_port=$port
    return 0
  done
  die "found no free TCP port on 127.0.0.1"
}

# Per-server settings live in DATA/server.conf, included last by postgresql.conf.
write_server_conf() {
  local name=$1 port=$2
  printf '%s\n' "port = $port" "cluster_name = 'grant-$name'" | as_pg tee "$dir/$name/server.conf" >/dev/null
}

server_port() {
  sed -n 's/^port = \([0-9]*\)$/\1/p' "$1/server.conf" 2>/dev/null
}

# Starts one server; if its port was taken meanwhile (another test run), moves to a new one.
start_server() {
  local name=$1 data=$dir/$1 logfile=$dir/logs/$1.log attempt lines port out
  for ((attempt = 1; attempt <= 5; attempt++)); do
    lines=0
    [[ -f $logfile ]] && lines=$(wc -l <"$logfile")
    if out=$(as_pg "$pg_bin/pg_ctl" start -D "$data" -l "$logfile" -w -t 60 -s 2>&1); then
      return 0
    fi
    # Read into a variable first: under pipefail a `| grep -q` that exits early fails the pipe.
    local new_log
    new_log=$(tail -n +"$((lines + 1))" "$logfile" 2>/dev/null || true)
    if ! grep -q 'could not bind\|Address already in use' <<<"$new_log"; then
      printf '%s\n' "$out" >&2
      return 1
    fi
    pick_port
    port=$picked_port
    log "$name: port taken, retrying on $port"
    write_server_conf "$name" "$port"
  done
  return 1
}

show_log() {
  local name=$1 file=$dir/logs/$1.log
  [[ -s $file ]] || return 0
  log "---- last lines of $file ----"
  tail -n 30 "$file" >&2
  log "---- end of $file ----"
}

# True while PID runs; a zombie (nobody reaped the daemonized postmaster yet) counts as gone.
pid_alive() {
  local state
  state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

# Stops one server if its postmaster is alive; never touches a process that is not ours.
stop_server() {
  local data=$1 pid
  [[ -f $data/postmaster.pid ]] || return 0
  pid=$(head -n1 "$data/postmaster.pid" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  local cmdline
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
  if ! grep -qF -- "$data" <<<"$cmdline"; then
    return 0 # stale pid file
  fi
  as_pg "$pg_bin/pg_ctl" stop -D "$data" -m immediate -w -t 30 -s >&2 || true
  local i=0
  while pid_alive "$pid" && ((i++ < 50)); do
    sleep 0.1
  done
  if pid_alive "$pid"; then
    log "$(basename "$data"): still running after pg_ctl stop; killing $pid"
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

cmd_stop() {
  [[ -n $dir ]] || die "usage: servers.sh stop DIR"
  if [[ ! -e $dir ]]; then
    log "$dir does not exist; nothing to stop"
    return 0
  fi
  [[ -f $dir/$marker ]] || die "$dir was not made by 'servers.sh start' (no $marker); not touching it"
  local t0 name
  t0=$(now)
  my_stop_all & # beside the PostgreSQL servers
  local my_stop=$!
  for name in "${servers[@]}"; do
    stop_server "$dir/$name"
  done
  wait "$my_stop" || true
  # After a whole test run the data folders hold a database per test, about 6 GB in 235,000
  # files, which take 20-40 s of disk time to delete: the folder is moved out of the way at once
  # (same file system) and deleted by a detached process, so the command returns.
  local trash
  if trash=$(mktemp -d "$(dirname -- "$dir")/.grant-servers-trash.XXXXXX") && mv -- "$dir" "$trash/"; then
    setsid rm -rf -- "$trash" </dev/null >/dev/null 2>&1 &
    log "stopped all servers in $(elapsed_since "$t0")s; $dir is gone (its files are being deleted in the background)"
  else
    [[ -z ${trash:-} ]] || rmdir -- "$trash" 2>/dev/null || true
    rm -rf -- "$dir"
    log "stopped all servers and removed $dir in $(elapsed_since "$t0")s"
  fi
}

cmd_status() {
  [[ -n $dir ]] || die "usage: servers.sh status DIR"
  [[ -d $dir ]] || die "$dir does not exist"
  local name port bad=0
  for name in writer replica shard0 shard1 shard2 shard3; do
    port=$(server_port "$dir/$name")
    if [[ -z $port ]]; then
      printf '%-8s not created\n' "$name"
      bad=1
    elif "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2; then
      printf '%-8s 127.0.0.1:%s accepting connections\n' "$name" "$port"
    else
      printf '%-8s 127.0.0.1:%s not responding\n' "$name" "$port"
      bad=1
    fi
  done
  my_status || bad=1
  return "$bad"
}

# State for the EXIT trap of start.
start_done=0
failed_servers=()

on_start_exit() {
  local rc=$?
  ((start_done)) && return 0
  ((rc == 0)) && rc=1
  log "start failed (exit $rc)"
  # Servers still starting in the background (they ignore SIGINT) must finish first, or their
  # postmaster.pid may not exist yet when we look for it.
  wait || true
  local name
  for name in "${failed_servers[@]}"; do
    show_log "$name"
  done
  if [[ -n $dir && -f $dir/$marker ]]; then
    if [[ ${GRANT_TEST_PG_KEEP_ON_FAILURE:-0} == 1 ]]; then
      my_stop_all
      for name in "${servers[@]}"; do
        stop_server "$dir/$name"
      done
      log "kept $dir for inspection; remove it with: $0 stop $dir"
    else
      cmd_stop || true
    fi
  fi
  exit "$rc"
}

# Starts the named servers in parallel; dies naming the ones that failed.
start_parallel() {
  local -a pids=() names=("$@")
  local i
  for i in "${!names[@]}"; do
    start_server "${names[i]}" &
    pids[i]=$!
  done
  for i in "${!names[@]}"; do
    if ! wait "${pids[i]}"; then
      failed_servers+=("${names[i]}")
    fi
  done
  ((${#failed_servers[@]} == 0)) || die "could not start: ${failed_servers[*]}"
}

cmd_start() {
  local t0
  t0=$(now)
  [[ -x $pg_bin/initdb && -x $pg_bin/pg_ctl ]] ||
    die "PostgreSQL 15 not found in $pg_bin; run: scripts/install-deps.sh --with-postgres"
  if ((EUID == 0)) && ! id postgres >/dev/null 2>&1; then
    die "running as root but there is no 'postgres' OS user to run the servers as; run: scripts/install-deps.sh --with-postgres"
  fi
  my_check_installed

  if [[ -z $dir ]]; then
    dir=$(mktemp -d /tmp/grant-pg.XXXXXX)
  else
    mkdir -p -- "$dir"
    [[ -z $(ls -A -- "$dir") ]] || die "$dir is not empty; give a new or empty folder"
  fi
  dir=$(cd -- "$dir" && pwd -P)
  [[ $dir != *[\'\"\\[:space:]]* ]] || die "$dir: folder names with quotes, backslashes or spaces are not supported"
  touch "$dir/$marker"
  trap on_start_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  sock=$dir/sock
  # Unix socket paths are limited to 107 bytes: DIR/sock/.s.PGSQL.NNNNN (as long as DIR/mysql/replica.sock)
  ((${#sock} + 18 <= 107)) || die "$dir is too long a path for a unix socket; use a shorter one"
  mkdir -p "$dir/logs" "$sock"
  if ((EUID == 0)); then
    chown -R postgres: "$dir"
    chmod 700 "$dir"
  fi
  as_pg test -w "$dir" || die "the postgres OS user cannot write $dir (is a parent folder private?); use a folder under /tmp"
  cd "$dir" # postgres must be able to read its working directory

  # The MariaDB fleet starts in the background, beside steps 1-4 (tests/mariadb_servers.sh).
  my_start_background

  # 1. One initdb; the writer is set up once (role, database) and then copied for the shards.
  log "initdb in $dir"
  # The redirections sit on subshells: on a function call they would still be in force when
  # the INT trap runs, and its messages would land in the log instead of on stderr.
  if ! (as_pg "$pg_bin/initdb" -D "$dir/writer" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --no-sync --no-instructions -E UTF8 --locale=C --wal-segsize=1) >"$dir/logs/initdb.log" 2>&1; then
    failed_servers=(initdb)
    die "initdb failed"
  fi
  as_pg tee -a "$dir/writer/postgresql.conf" >/dev/null <<EOF

# ---- grant test servers (tests/servers.sh) ----
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sock'
max_connections = 100
max_prepared_transactions = 20
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
# No autovacuum: a pass makes ~650 databases, and the launcher starts a worker (a new backend,
# ~40 ms of CPU) in each of them every minute; no test waits for one (docs/testing.md).
autovacuum = off
jit = off
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = 1s
timezone = 'UTC'
log_timezone = 'UTC'
include_if_exists = 'server.conf'
EOF
  as_pg tee "$dir/writer/pg_hba.conf" >/dev/null <<'EOF'
# TYPE  DATABASE     USER  ADDRESS       METHOD
local   all          all                 trust
local   replication  all                 trust
host    all          all   127.0.0.1/32  scram-sha-256
host    replication  all   127.0.0.1/32  scram-sha-256
EOF

  local name writer_port
  pick_port
  write_server_conf writer "$picked_port"
  start_parallel writer
  writer_port=$(server_port "$dir/writer")
  pg_sql "$writer_port" postgres "CREATE ROLE \"$role\" LOGIN SUPERUSER REPLICATION PASSWORD '$password'" >/dev/null ||
    die "could not create role $role"
  pg_sql "$writer_port" postgres "CREATE DATABASE $database OWNER \"$role\"" >/dev/null ||
    die "could not create database $database"
  as_pg "$pg_bin/pg_ctl" stop -D "$dir/writer" -m fast -w -s >&2 || die "could not stop the writer after setup"

  local -a cp_pids=()
  for name in shard0 shard1 shard2 shard3; do
    as_pg cp -a "$dir/writer" "$dir/$name" &
    cp_pids+=($!)
  done
  for name in "${cp_pids[@]}"; do
    wait "$name" || die "could not copy the writer's data folder for the shards"
  done
  for name in shard0 shard1 shard2 shard3; do
    pick_port
    write_server_conf "$name" "$picked_port"
  done

  # 2. Writer and shards start together.
  log "starting writer, shard0..shard3"
  start_parallel writer shard0 shard1 shard2 shard3
  writer_port=$(server_port "$dir/writer")

  # 3. The replica: a base backup of the writer, streaming through a replication slot.
  log "creating replica"
  if ! (as_pg env PGPASSWORD="$password" "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$writer_port" -U "$role" \
    -D "$dir/replica" -R -X stream -c fast --no-sync -C -S grant_replica) >"$dir/logs/basebackup.log" 2>&1; then
    failed_servers=(basebackup)
    die "pg_basebackup from the writer failed"
  fi
  pick_port
  write_server_conf replica "$picked_port"
  start_parallel replica

  local replica_port ready='' i
  replica_port=$(server_port "$dir/replica")
  for ((i = 0; i < 300; i++)); do
    ready=$(pg_sql "$replica_port" postgres \
      "SELECT pg_is_in_recovery() AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')" \
      2>/dev/null || true)
    [[ $ready == t ]] && break
    sleep 0.1
  done
  if [[ $ready != t ]]; then
    failed_servers=(writer replica)
    die "the replica is not streaming from the writer after 30s"
  fi

  # 4. Everyone answers on TCP.
  declare -A port
  for name in writer replica shard0 shard1 shard2 shard3; do
    port[$name]=$(server_port "$dir/$name")
    if ! "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "${port[$name]}" -t 10; then
      failed_servers=("$name")
      die "$name is not accepting TCP connections on 127.0.0.1:${port[$name]}"
    fi
  done

  # 5. The MariaDB fleet, started before step 1, is up too.
  my_join

  local url_base="postgres://$role:$password@127.0.0.1"
  {
    printf '# PostgreSQL test servers from tests/servers.sh; stop with: tests/servers.sh stop %q\n' "$dir"
    printf 'export GRANT_TEST_PG_DIR=%q\n' "$dir"
    printf 'export GRANT_TEST_PG_BIN=%q\n' "$pg_bin"
    printf 'export GRANT_TEST_PG_HOST=127.0.0.1\n'
    printf 'export GRANT_TEST_PG_USER=%s\n' "$role"
    printf 'export GRANT_TEST_PG_PASSWORD=%s\n' "$password"
    printf 'export GRANT_TEST_PG_DATABASE=%s\n' "$database"
    printf 'export GRANT_TEST_PG_SOCKET_DIR=%q\n' "$sock"
    for name in writer replica shard0 shard1 shard2 shard3; do
      printf 'export GRANT_TEST_PG_%s_PORT=%s\n' "${name^^}" "${port[$name]}"
      printf 'export GRANT_TEST_PG_%s_URL=%s:%s/%s\n' "${name^^}" "$url_base" "${port[$name]}" "$database"
    done
    my_env
  } >"$dir/env"

  start_done=1
  log "writer :${port[writer]}, replica :${port[replica]}, shards :${port[shard0]} :${port[shard1]} :${port[shard2]} :${port[shard3]}"
  my_wanted && log "mariadb primary :$(my_port primary), replica :$(my_port replica), shards :$(my_port shard0) :$(my_port shard1)"
  log "up in $(elapsed_since "$t0")s"
  log "stop with: $0 stop $dir"
  printf '%s\n' "$dir/env"
}

case ${1:-} in
  start)
    (($# <= 2)) || die "usage: servers.sh start [DIR]"
    dir=${2:-}
    cmd_start
    ;;
  stop | status)
    (($# == 2)) || die "usage: servers.sh $1 DIR"
    dir=$2
    [[ $dir == /* || ! -e $dir ]] || dir=$(cd -- "$dir" && pwd -P)
    sock=$dir/sock
    cd / # the postgres OS user may not be able to read the caller's folder
    "cmd_$1"
    ;;
  -h | --help | help)
    usage
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac
