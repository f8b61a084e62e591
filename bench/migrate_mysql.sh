#!/usr/bin/env bash
# MySQL / MariaDB beside bench/migrate.sh: BENCH_MIGRATIONS migrations (CREATE TABLE + CREATE
# INDEX each) applied to a fresh database on the test fleet's MariaDB primary by
#
#   grant migrate     (one connection, the GET_LOCK migration lock, each version recorded as dirty
#                      before its statements and made clean after them: lib/grant/migrate/dirty.cpp)
#   dbmate migrate    (the peer, same server, same statements)
#   mariadb < FILE    (the floor: the `mariadb` client running the statements grant runs, the
#                      tracking table's CREATE TABLE, and each version's INSERT and UPDATE of its row)
#
# and prints the ratios of their median wall times, measured in the same run with the cases
# interleaved (the machine is noisy; nothing here asserts a time).
#
#   bench/migrate_mysql.sh [--help]
#   BENCH_MIGRATIONS=N (default 200)  BENCH_RUNS=N (default 5)  DBMATE_BIN=PATH
#
# The servers come from GRANT_TEST_MY_PRIMARY_URL (tests/servers.sh's env file), else the script
# starts the test servers and stops them on exit.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_args "$@"

readonly migrations=${BENCH_MIGRATIONS:-200}
readonly runs=${BENCH_RUNS:-5}
bench_need_grant
bench_positive BENCH_MIGRATIONS "$migrations"
bench_positive BENCH_RUNS "$runs"
mariadb_bin=$(command -v mariadb || command -v mysql) ||
  die "the mariadb client is not installed (scripts/install-deps.sh --with-postgres installs mariadb-server, which brings it)"

bench_start
bench_servers GRANT_TEST_MY_PRIMARY_URL
dbmate=${DBMATE_BIN:-}
bench_npm_tool dbmate dbmate dbmate

# mysql://USER:PASSWORD@HOST:PORT/DB -> the client's options (the password through MYSQL_PWD,
# never on a command line).
url=$GRANT_TEST_MY_PRIMARY_URL
rest=${url#*://}
userinfo=${rest%@*}
hostport=${rest##*@}
hostport=${hostport%%/*}
my_user=${userinfo%%:*}
export MYSQL_PWD=${userinfo#*:}
my_host=${hostport%:*}
my_port=${hostport##*:}
server_url() { printf 'mysql://%s:%s@%s:%s/%s' "$my_user" "$MYSQL_PWD" "$my_host" "$my_port" "$1"; }
client() { "$mariadb_bin" --no-defaults -h "$my_host" -P "$my_port" -u "$my_user" --batch --skip-column-names "$@"; }

# ---- migration files and the floor script -----------------------------------------------------
applied_by="${USER:-$(id -un)}@$(hostname)"
mkdir -p "$work/grant" "$work/dbmate"
printf 'CREATE TABLE IF NOT EXISTS schema_migrations (version varchar(128) PRIMARY KEY, name text, checksum text, applied_at datetime(6), execution_ms bigint, applied_by text, dirty boolean NOT NULL DEFAULT false);\n' >"$work/floor.sql"
for ((i = 1; i <= migrations; i++)); do
  version=$((20240101000000 + i))
  name=create_t_$i
  up="CREATE TABLE t_$i (id bigint PRIMARY KEY, name varchar(200) NOT NULL, created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE INDEX t_${i}_name_idx ON t_$i (name);"
  printf -- '-- grant:up\n%s\n\n-- grant:down\nDROP TABLE t_%s;\n' "$up" "$i" >"$work/grant/${version}_$name.sql"
  printf -- '-- migrate:up\n%s\n\n-- migrate:down\nDROP TABLE t_%s;\n' "$up" "$i" >"$work/dbmate/${version}_$name.sql"
  checksum=$(printf '%s\n' "$up" | sha256sum)
  printf "INSERT INTO schema_migrations (version, name, checksum, applied_at, execution_ms, applied_by, dirty) VALUES ('%s', '%s', '%s', CURRENT_TIMESTAMP(6), 0, '%s', true);\n%s\nUPDATE schema_migrations SET dirty = false, execution_ms = 0, applied_at = CURRENT_TIMESTAMP(6) WHERE version = '%s';\n" \
    "$version" "$name" "${checksum%% *}" "$applied_by" "$up" "$version" >>"$work/floor.sql"
done
cat >"$work/grant.json" <<EOF
{"databases": {"bench": {"url": "\${BENCH_URL}", "migrations": "$work/grant"}}}
EOF

# ---- the cases ---------------------------------------------------------------------------------
run_grant() { BENCH_URL=$(server_url "$1") "$grant_bin" --config "$work/grant.json" migrate --database bench >/dev/null; }
run_dbmate() { "$dbmate" --url "$(server_url "$1")" --migrations-dir "$work/dbmate" --no-dump-schema migrate >/dev/null; }
run_floor() { client "$1" <"$work/floor.sql"; }

counter=0
my_case() { # KEY RUNNER
  counter=$((counter + 1))
  local database=bench_${counter}_$$
  client -e "CREATE DATABASE $database"
  timed "$2" "$database"
  record "$1"
  local tables
  tables=$(client "$database" -e "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE 't\\_%'")
  [[ $tables == "$migrations" ]] || die "$1 created $tables tables, not $migrations"
  client -e "DROP DATABASE $database"
}

say "grant:   $grant_bin ($("$grant_bin" --version))"
say "dbmate:  $dbmate ($("$dbmate" --version))"
say "client:  $mariadb_bin ($("$mariadb_bin" --version))"
say "server:  $(client -e 'SELECT VERSION()') at $my_host:$my_port"
say "$migrations migrations, $runs runs per case, $(nproc) CPUs"

cases=("my_grant run_grant" "my_dbmate run_dbmate" "my_floor run_floor")
for ((run = 1; run <= runs; run++)); do
  say "run $run/$runs"
  for ((c = 0; c < ${#cases[@]}; c++)); do
    # shellcheck disable=SC2086 # "KEY RUNNER", split on purpose
    my_case ${cases[(c + run - 1) % ${#cases[@]}]}
  done
done

summarize
printf '\nMigrations: %s x (CREATE TABLE + CREATE INDEX) on MariaDB, %s runs per case on fresh databases,\n' "$migrations" "$runs"
printf 'wall seconds of the whole process (median, and best run)\n\n'
ratio_header ""
ratio_line "MySQL: grant / dbmate" my_grant my_dbmate
ratio_line "MySQL: grant / mariadb client (same statements)" my_grant my_floor
ratio_line "MySQL: dbmate / mariadb client (same statements)" my_dbmate my_floor
printf '\nraw seconds per run:\n'
for key in my_grant my_dbmate my_floor; do
  printf '  %-10s %s\n' "$key" "${samples[$key]}"
done
