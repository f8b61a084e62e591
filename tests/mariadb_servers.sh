# The MariaDB half of tests/servers.sh, sourced by it (it uses that script's dir, as_pg, log,
# die, pick_port, pid_alive, role, password, database): a primary, a replica following it by
# GTID binlog replication, and two shard servers, under DIR/mysql/:
#
#   common.cnf        settings every server shares (also the one mariadb-install-db ran with)
#   NAME.cnf          one server's port, socket, folders, server_id; start it with
#                     mariadbd --defaults-file=DIR/mysql/NAME.cnf [--user=postgres when root]
#   NAME/ NAME.sock NAME.pid   its data folder, unix socket and pid file
#   DIR/logs/mariadb-NAME.log  its error log
#
# As root the servers run as the postgres OS user, which owns DIR. GRANT_TEST_MARIADBD names
# another mariadbd than /usr/sbin/mariadbd.
# shellcheck shell=bash disable=SC2154 # dir, role, password, database, picked_port: servers.sh's

readonly my_servers=(replica primary shard0 shard1)
readonly mariadbd=${GRANT_TEST_MARIADBD:-/usr/sbin/mariadbd}
readonly my_repl_user=grant_repl

# Keep the caller's client settings out of our own connections.
unset MYSQL_HOST MYSQL_TCP_PORT MYSQL_UNIX_PORT MYSQL_PWD

my_dir=
# The bootstrap account: root (or the OS user running this script) over the unix socket,
# authenticated by unix_socket, as mariadb-install-db makes it.
my_admin=$(id -un)

my_wanted() { [[ ${GRANT_TEST_NO_MYSQL:-0} != 1 ]]; }

my_check_installed() {
  my_wanted || return 0
  local tool
  [[ -x $mariadbd ]] ||
    die "MariaDB server not found ($mariadbd); run: scripts/install-deps.sh --with-postgres (or set GRANT_TEST_NO_MYSQL=1 to start PostgreSQL only)"
  for tool in mariadb-install-db mariadb mariadb-admin; do
    command -v "$tool" >/dev/null 2>&1 ||
      die "$tool not found; run: scripts/install-deps.sh --with-postgres (or set GRANT_TEST_NO_MYSQL=1 to start PostgreSQL only)"
  done
}

my_port() {
  sed -n 's/^port = \([0-9]*\)$/\1/p' "$my_dir/$1.cnf" 2>/dev/null
}

# SQL as the bootstrap account over the unix socket; rows tab-separated, no header.
my_sql() {
  local name=$1 sql=$2
  mariadb --no-defaults -S "$my_dir/$name.sock" -u "$my_admin" -N -B -e "$sql"
}

my_write_cnf() {
  local name=$1 port=$2 id=$3
  {
    printf '# %s of the grant test servers (tests/servers.sh)\n' "$name"
    printf '!include %s\n' "$my_dir/common.cnf"
    printf '[mariadbd]\n'
    printf 'port = %s\n' "$port"
    printf 'socket = %s\n' "$my_dir/$name.sock"
    printf 'datadir = %s\n' "$my_dir/$name"
    printf 'pid_file = %s\n' "$my_dir/$name.pid"
    printf 'log_error = %s\n' "$dir/logs/mariadb-$name.log"
    printf 'server_id = %s\n' "$id"
    [[ $name != replica ]] || printf 'read_only = ON\n'
  } | as_pg tee "$my_dir/$name.cnf" >/dev/null
}

# The pid of the mariadbd started with NAME.cnf, if one runs; nothing for a stale pid file.
my_pid() {
  local name=$1 file pid cmdline
  for file in "$my_dir/$name.pid" "$my_dir/$name.launched"; do
    pid=$(cat "$file" 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] || continue
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" || true)
    if grep -qF -- "$my_dir/$name.cnf" <<<"$cmdline" && pid_alive "$pid"; then
      printf '%s\n' "$pid"
      return 0
    fi
  done
}

# Starts one server and waits until it answers; if its port was taken meanwhile, moves it.
my_start_server() {
  local name=$1 logfile=$dir/logs/mariadb-$1.log attempt lines pid i new_log id
  local -a as_user=()
  ((EUID == 0)) && as_user=(--user=postgres)
  for ((attempt = 1; attempt <= 5; attempt++)); do
    lines=0
    [[ -f $logfile ]] && lines=$(wc -l <"$logfile")
    # mariadbd does not daemonize: it runs in its own session, detached from this script, and
    # its own stderr goes to the log (created by its owner, so mariadbd can reopen it).
    as_pg touch "$logfile"
    pid=$(setsid "$mariadbd" --defaults-file="$my_dir/$name.cnf" "${as_user[@]}" \
      </dev/null >>"$logfile" 2>&1 & echo $!)
    printf '%s\n' "$pid" >"$my_dir/$name.launched"
    for ((i = 0; i < 600; i++)); do
      # The socket appears when the server is about to take connections.
      [[ -S $my_dir/$name.sock ]] &&
        mariadb-admin --no-defaults -S "$my_dir/$name.sock" -u "$my_admin" ping >/dev/null 2>&1 && return 0
      pid_alive "$pid" || break
      sleep 0.1
    done
    if pid_alive "$pid"; then
      log "mariadb $name: not accepting connections after 60s"
      return 1
    fi
    new_log=$(tail -n +"$((lines + 1))" "$logfile" 2>/dev/null || true)
    grep -q 'Address already in use' <<<"$new_log" || return 1
    pick_port
    id=$(sed -n 's/^server_id = \([0-9]*\)$/\1/p' "$my_dir/$name.cnf")
    log "mariadb $name: port taken, retrying on $picked_port"
    my_write_cnf "$name" "$picked_port" "$id"
  done
  return 1
}

# Stops one server: SHUTDOWN (or SIGTERM if it does not take it), then SIGKILL if it still runs
# after 20s. The statement rather than mariadb-admin shutdown, which polls for the end each second.
my_stop_server() {
  local name=$1 pid i=0
  pid=$(my_pid "$name")
  [[ -n $pid ]] || return 0
  timeout 10 mariadb --no-defaults -S "$my_dir/$name.sock" -u "$my_admin" -e SHUTDOWN >/dev/null 2>&1 ||
    kill -TERM "$pid" 2>/dev/null || true
  while pid_alive "$pid" && ((i++ < 200)); do
    sleep 0.1
  done
  if pid_alive "$pid"; then
    log "mariadb $name: still running after shutdown; killing $pid"
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

my_stop_all() {
  my_dir=$dir/mysql
  [[ -d $my_dir ]] || return 0
  local name
  local -a pids=()
  for name in "${my_servers[@]}"; do
    my_stop_server "$name" &
    pids+=($!)
  done
  for name in "${pids[@]}"; do
    wait "$name" || true
  done
}

my_status() {
  my_dir=$dir/mysql
  [[ -d $my_dir ]] || return 0
  local name port bad=0
  for name in primary replica shard0 shard1; do
    port=$(my_port "$name")
    if [[ -z $port ]]; then
      printf 'mariadb %-8s not created\n' "$name"
      bad=1
    elif mariadb-admin --no-defaults -S "$my_dir/$name.sock" -u "$my_admin" ping >/dev/null 2>&1; then
      printf 'mariadb %-8s 127.0.0.1:%s accepting connections\n' "$name" "$port"
    else
      printf 'mariadb %-8s 127.0.0.1:%s not responding\n' "$name" "$port"
      bad=1
    fi
  done
  return "$bad"
}

# Starts the fleet in the background, beside PostgreSQL's; my_join waits for it. The folders
# and ports are made here, so the PostgreSQL servers pick other ports.
my_job=
my_start_background() {
  my_wanted || return 0
  my_dir=$dir/mysql
  as_pg mkdir "$my_dir"
  # Loopback only, small, and fast rather than durable: these servers hold throwaway test data.
  as_pg tee "$my_dir/common.cnf" >/dev/null <<'EOF'
# Shared by the grant test servers (tests/servers.sh); each NAME.cnf includes it.
[mariadbd]
bind_address = 127.0.0.1
skip_name_resolve = ON
character_set_server = utf8mb4
default_time_zone = '+00:00'
max_connections = 200
table_open_cache = 400
performance_schema = OFF
key_buffer_size = 1M
aria_pagecache_buffer_size = 8M
innodb_buffer_pool_size = 16M
innodb_log_buffer_size = 2M
innodb_buffer_pool_dump_at_shutdown = OFF
innodb_buffer_pool_load_at_startup = OFF
innodb_log_file_size = 8M
innodb_data_file_path = ibdata1:12M:autoextend
innodb_autoextend_increment = 1
innodb_temp_data_file_path = ibtmp1:1M:autoextend
innodb_flush_log_at_trx_commit = 2
innodb_doublewrite = OFF
innodb_use_native_aio = OFF
# Stopping is a crash (and the next start a recovery): nothing here needs a clean shutdown.
innodb_fast_shutdown = 2
sync_binlog = 0
log_bin = mariadb-bin
relay_log = relay-bin
binlog_format = ROW
log_slave_updates = ON
gtid_strict_mode = ON
EOF

  local name i=0
  for name in primary replica shard0 shard1; do
    pick_port
    my_write_cnf "$name" "$picked_port" "$((++i))"
  done
  (
    # A failure's server names reach my_join through this file.
    trap '((${#failed_servers[@]} == 0)) || printf "%s\n" "${failed_servers[@]}" >"$my_dir/failed"' EXIT
    my_start
  ) &
  my_job=$!
}

my_join() {
  [[ -n $my_job ]] || return 0
  if ! wait "$my_job"; then
    [[ ! -f $my_dir/failed ]] || mapfile -t failed_servers <"$my_dir/failed"
    die "the MariaDB servers did not start"
  fi
}

my_start() {
  # 1. One mariadb-install-db (with a clean shutdown); the other servers start from copies.
  log "mariadb-install-db in $my_dir"
  if ! (as_pg mariadb-install-db --defaults-file="$my_dir/common.cnf" --datadir="$my_dir/primary" \
    --auth-root-authentication-method=socket --auth-root-socket-user="$my_admin" --skip-test-db --skip-name-resolve \
    --innodb-fast-shutdown=1) >"$dir/logs/mariadb-install-db.log" 2>&1; then
    failed_servers=(mariadb-install-db)
    die "mariadb-install-db failed"
  fi
  local name i=0
  for name in replica shard0 shard1; do
    as_pg cp -a "$my_dir/primary" "$my_dir/$name" || die "could not copy the MariaDB data folder for $name"
  done

  # 2. All four start together.
  log "starting mariadb primary, replica, shard0, shard1"
  local -a pids=()
  for name in primary replica shard0 shard1; do
    my_start_server "$name" &
    pids+=($!)
  done
  i=0
  for name in primary replica shard0 shard1; do
    wait "${pids[i++]}" || failed_servers+=("mariadb-$name")
  done
  ((${#failed_servers[@]} == 0)) || die "could not start: ${failed_servers[*]}"

  # 3. The user and database; the replica gets them from the primary's binlog. The replica's
  # read_only binds grant too: it has every privilege except READ ONLY ADMIN.
  local setup="CREATE USER '$role'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO '$role'@'127.0.0.1' WITH GRANT OPTION;
REVOKE READ_ONLY ADMIN ON *.* FROM '$role'@'127.0.0.1';
CREATE USER '$role'@'localhost' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO '$role'@'localhost' WITH GRANT OPTION;
REVOKE READ_ONLY ADMIN ON *.* FROM '$role'@'localhost';
CREATE DATABASE $database;"
  for name in primary shard0 shard1; do
    my_sql "$name" "$setup" || die "could not create user $role and database $database on mariadb $name"
  done
  my_sql primary "CREATE USER '$my_repl_user'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT REPLICATION SLAVE ON *.* TO '$my_repl_user'@'127.0.0.1';" ||
    die "could not create the replication user on mariadb primary"

  # 4. The replica follows the primary from its first GTID and is caught up before we return.
  log "mariadb replica: following the primary"
  my_sql replica "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$(my_port primary),
MASTER_USER='$my_repl_user', MASTER_PASSWORD='$password', MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos;
START SLAVE;" || die "could not start replication on mariadb replica"
  local pos caught_up
  pos=$(my_sql primary 'SELECT @@gtid_binlog_pos') || die "could not read the mariadb primary's GTID position"
  caught_up=$(my_sql replica "SELECT MASTER_GTID_WAIT('$pos', 30)") || caught_up=
  if [[ $caught_up != 0 ]]; then
    failed_servers=(mariadb-primary mariadb-replica)
    my_sql replica 'SHOW SLAVE STATUS\G' 2>&1 | grep -E 'Running|Last_.*Error|Gtid' >&2 || true
    die "the mariadb replica has not reached the primary's GTID $pos after 30s"
  fi

  # 5. Everyone takes the URL's credentials over TCP.
  local port
  for name in primary replica shard0 shard1; do
    port=$(my_port "$name")
    if ! MYSQL_PWD=$password mariadb --no-defaults -h 127.0.0.1 -P "$port" -u "$role" -N -B \
      -e 'SELECT 1' "$database" >/dev/null; then
      failed_servers=("mariadb-$name")
      die "mariadb $name: $role cannot log in to $database on 127.0.0.1:$port"
    fi
  done
}

# The GRANT_TEST_MY_* lines of DIR/env.
my_env() {
  my_wanted || return 0
  local name port
  printf '# MariaDB test servers; GRANT_TEST_NO_MYSQL=1 leaves them out\n'
  printf 'export GRANT_TEST_MYSQL=1\n'
  printf 'export GRANT_TEST_MY_DIR=%q\n' "$my_dir"
  printf 'export GRANT_TEST_MY_HOST=127.0.0.1\n'
  printf 'export GRANT_TEST_MY_USER=%s\n' "$role"
  printf 'export GRANT_TEST_MY_PASSWORD=%s\n' "$password"
  printf 'export GRANT_TEST_MY_DATABASE=%s\n' "$database"
  printf 'export GRANT_TEST_MY_ADMIN_USER=%s\n' "$my_admin"
  for name in primary replica shard0 shard1; do
    port=$(my_port "$name")
    printf 'export GRANT_TEST_MY_%s_PORT=%s\n' "${name^^}" "$port"
    printf 'export GRANT_TEST_MY_%s_SOCKET=%q\n' "${name^^}" "$my_dir/$name.sock"
    printf 'export GRANT_TEST_MY_%s_URL=mysql://%s:%s@127.0.0.1:%s/%s\n' "${name^^}" "$role" "$password" "$port" "$database"
  done
}
