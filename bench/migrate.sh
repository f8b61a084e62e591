#!/usr/bin/env bash
# Migration benchmark (issue 3 and issue 7 figures): wall time of whole processes applying the
# same N migrations (each CREATE TABLE + CREATE INDEX), every ratio measured in this run:
#
#   PostgreSQL  grant migrate / dbmate migrate, and grant / `psql -f` of the same transactions
#   SQLite      grant migrate / dbmate migrate, and grant / `sqlite3 FILE < ` the same transactions
#               (at the library's default synchronous=FULL, and once more at dbmate's NORMAL)
#   shards      grant on 4 shards (--jobs 4, one server each) / grant on 1 shard
#   MySQL       bench/migrate_mysql.sh on the same run's MariaDB primary: grant / dbmate, and
#               grant / the `mariadb` client running the same statements (left out when the
#               servers have no MariaDB fleet: GRANT_TEST_NO_MYSQL=1)
#
# The floors (psql, sqlite3) run one script holding the CREATE TABLE of grant's tracking table and,
# per migration, BEGIN; the up statements; INSERT INTO schema_migrations ...; COMMIT; which is the
# work grant does with no client logic around it. For SQLite it also reports each tool's
# `synchronous` and `journal_mode` (read by a probe migration inside each tool's own connection)
# and its fsync + fdatasync calls per migration (strace -f -c, when strace is installed), outside
# the timed runs. The cases of each kind alternate within a run and their order rotates from run
# to run; a `sync` (untimed) precedes every SQLite case. Nothing here asserts a time.
#
#   bench/migrate.sh                  run from anywhere after a Release build in build/
#
#   GRANT_BIN=PATH        the grant binary (default: build/grant)
#   DBMATE_BIN=PATH       a dbmate binary (default: dbmate on PATH, else installed from npm into
#                         ${XDG_CACHE_HOME:-~/.cache}/grant-bench/dbmate)
#   SQLITE3_BIN=PATH      the sqlite3 shell (default: sqlite3 on PATH; Debian package sqlite3)
#   BENCH_MIGRATIONS=N    migrations per set (default 200)
#   BENCH_RUNS=N          runs per case, each on fresh databases (default 5); median and best are reported
#   BENCH_SQLITE_DIR=DIR  where the SQLite files go (default: the temp folder); its disk sets the fsync cost
#
# Uses the PostgreSQL servers named by GRANT_TEST_PG_WRITER_URL and GRANT_TEST_PG_SHARD0..3_URL;
# when GRANT_TEST_PG_WRITER_URL is unset it starts its own with tests/servers.sh and stops them on
# exit. Needs psql (from $GRANT_TEST_PG_BIN or PATH) and sqlite3 (scripts/install-deps.sh --with-bench).

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_args "$@"

readonly migrations=${BENCH_MIGRATIONS:-200}
readonly runs=${BENCH_RUNS:-5}
bench_need_grant
bench_positive BENCH_MIGRATIONS "$migrations"
bench_positive BENCH_RUNS "$runs"

sqlite3_bin=${SQLITE3_BIN:-}
if [[ -z $sqlite3_bin ]]; then
  sqlite3_bin=$(command -v sqlite3) || die "sqlite3 not found: install it (scripts/install-deps.sh --with-bench) or set SQLITE3_BIN"
fi
"$sqlite3_bin" -version >/dev/null 2>&1 || die "$sqlite3_bin does not run"
strace_bin=$(command -v strace || true)

bench_start
sqlite_dir=${BENCH_SQLITE_DIR:-$work}
[[ -d $sqlite_dir && -w $sqlite_dir ]] || die "BENCH_SQLITE_DIR=$sqlite_dir is not a writable folder"
sqlite_files=() # removed on exit when BENCH_SQLITE_DIR is outside $work
remove_sqlite_files() { rm -f -- "${sqlite_files[@]}"; }
bench_exit_hooks+=(remove_sqlite_files)

bench_servers GRANT_TEST_PG_WRITER_URL GRANT_TEST_PG_SHARD0_URL GRANT_TEST_PG_SHARD1_URL \
  GRANT_TEST_PG_SHARD2_URL GRANT_TEST_PG_SHARD3_URL
bench_psql

# ---- dbmate ----------------------------------------------------------------------------------
dbmate=${DBMATE_BIN:-}
bench_npm_tool dbmate dbmate dbmate

# ---- migration files and floor scripts -------------------------------------------------------
applied_by="${USER:-$(id -un)}@$(hostname)"
readonly applied_by
readonly tracking_columns="version, name, checksum, applied_at, execution_ms, applied_by"
tracking_table() { # dialect -> grant's CREATE TABLE of its tracking table (lib/grant/migrate/tracking.cpp)
  local at=text
  [[ $1 == postgres ]] && at=timestamptz
  printf 'CREATE TABLE IF NOT EXISTS schema_migrations (version varchar(128) PRIMARY KEY, name text, checksum text, applied_at %s, execution_ms bigint, applied_by text);\n' "$at"
}

mkdir -p "$work/grant" "$work/dbmate"
{
  tracking_table postgres
} >"$work/floor_pg.sql"
{
  # grant's SQLite adapter turns foreign keys on when it connects; -init /dev/null keeps ~/.sqliterc out.
  printf 'PRAGMA foreign_keys = ON;\n'
  tracking_table sqlite
} >"$work/floor_sqlite.sql"
for ((i = 1; i <= migrations; i++)); do
  version=$((20240101000000 + i))
  name=create_t_$i
  up="CREATE TABLE t_$i (id bigint PRIMARY KEY, name text NOT NULL, created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE INDEX t_${i}_name_idx ON t_$i (name);"
  down="DROP TABLE t_$i;"
  printf -- '-- grant:up\n%s\n\n-- grant:down\n%s\n' "$up" "$down" >"$work/grant/${version}_$name.sql"
  printf -- '-- migrate:up\n%s\n\n-- migrate:down\n%s\n' "$up" "$down" >"$work/dbmate/${version}_$name.sql"
  checksum=$(printf '%s\n' "$up" | sha256sum)
  values="'$version', '$name', '${checksum%% *}'"
  printf 'BEGIN;\n%s\nINSERT INTO schema_migrations (%s) VALUES (%s, now(), 0, '\''%s'\'');\nCOMMIT;\n' \
    "$up" "$tracking_columns" "$values" "$applied_by" >>"$work/floor_pg.sql"
  printf 'BEGIN IMMEDIATE;\n%s\nINSERT INTO schema_migrations (%s) VALUES (%s, %s, 0, '\''%s'\'');\nCOMMIT;\n' \
    "$up" "$tracking_columns" "$values" "strftime('%Y-%m-%dT%H:%M:%fZ','now')" "$applied_by" >>"$work/floor_sqlite.sql"
done
# The same floor at synchronous=NORMAL, the setting dbmate's driver runs with (see the probe).
{
  printf 'PRAGMA synchronous = NORMAL;\n'
  cat "$work/floor_sqlite.sql"
} >"$work/floor_sqlite_normal.sql"

# One config per shape; the URLs come from the environment of each run (${VAR} interpolation).
cat >"$work/single.json" <<EOF
{"databases": {"bench": {"url": "\${BENCH_URL}", "migrations": "$work/grant"}}}
EOF
cat >"$work/one_shard.json" <<EOF
{"databases": {"bench": {"shards": [{"name": "s0", "url": "\${BENCH_S0}"}], "migrations": "$work/grant"}}}
EOF
cat >"$work/four_shards.json" <<EOF
{"databases": {"bench": {"shards": [
  {"name": "s0", "url": "\${BENCH_S0}"}, {"name": "s1", "url": "\${BENCH_S1}"},
  {"name": "s2", "url": "\${BENCH_S2}"}, {"name": "s3", "url": "\${BENCH_S3}"}],
  "migrations": "$work/grant"}}}
EOF

# ---- the cases -------------------------------------------------------------------------------
# dbmate's PostgreSQL driver wants sslmode spelled out for a server without TLS.
dbmate_url() {
  local url=$1
  [[ $url == *sslmode=* ]] && { printf '%s' "$url"; return; }
  [[ $url == *\?* ]] && printf '%s&sslmode=disable' "$url" || printf '%s?sslmode=disable' "$url"
}

from_file() { # FILE CMD...: CMD with stdin from FILE
  local input=$1
  shift
  "$@" <"$input"
}

# Each takes a fresh database (URL or SQLite file) and migrations folder (grant and dbmate).
run_grant_pg() { BENCH_URL=$1 "$grant_bin" --config "$work/single.json" migrate --database bench; }
run_dbmate_pg() { "$dbmate" --url "$(dbmate_url "$1")" --migrations-dir "$work/dbmate" --no-dump-schema migrate; }
run_psql_pg() { "$psql" -X -q -v ON_ERROR_STOP=1 -d "$1" -f "$work/floor_pg.sql"; }
# The SQLite ones take an optional second argument (config, folder or script) and run under
# "${wrap[@]}" (strace, for counting syncs).
wrap=()
run_grant_sqlite() { BENCH_URL=sqlite3:$1 "${wrap[@]}" "$grant_bin" --config "${2:-$work/single.json}" migrate --database bench; }
run_dbmate_sqlite() { "${wrap[@]}" "$dbmate" --url "sqlite:$1" --migrations-dir "${2:-$work/dbmate}" --no-dump-schema migrate; }
run_cli_sqlite() { from_file "${2:-$work/floor_sqlite.sql}" "${wrap[@]}" "$sqlite3_bin" -init /dev/null -bail "$1"; }
run_cli_normal_sqlite() { run_cli_sqlite "$1" "${2:-$work/floor_sqlite_normal.sql}"; }

# Checks that a run left $migrations tables and tracking rows (outside the timed section).
check_pg() {
  local url=$1 tables rows
  tables=$(sql "$url" -c "SELECT count(*) FROM pg_tables WHERE tablename LIKE 't\_%'")
  rows=$(sql "$url" -c "SELECT count(*) FROM schema_migrations")
  [[ $tables == "$migrations" && $rows == "$migrations" ]] ||
    die "a PostgreSQL run left $tables tables and $rows tracking rows, expected $migrations"
}

check_sqlite() {
  local file=$1 tables rows
  tables=$("$sqlite3_bin" -init /dev/null "$file" "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 't\_%' ESCAPE '\\'")
  rows=$("$sqlite3_bin" -init /dev/null "$file" "SELECT count(*) FROM schema_migrations")
  [[ $tables == "$migrations" && $rows == "$migrations" ]] ||
    die "a SQLite run left $tables tables and $rows tracking rows, expected $migrations"
}

sqlite_seq=0
sqlite_file=
new_sqlite_file() { # sets $sqlite_file to a path that does not exist yet
  sqlite_seq=$((sqlite_seq + 1))
  sqlite_file=$sqlite_dir/grant-bench-$$-$sqlite_seq.sqlite3
  sqlite_files+=("$sqlite_file" "$sqlite_file-journal" "$sqlite_file.grant-lock")
  rm -f -- "$sqlite_file" "$sqlite_file-journal" "$sqlite_file.grant-lock"
}
drop_sqlite() { rm -f -- "$1" "$1-journal" "$1.grant-lock"; }

pg_case() { # KEY RUNNER
  fresh_pg "$GRANT_TEST_PG_WRITER_URL"
  local url=$fresh
  timed "$2" "$url"
  record "$1"
  check_pg "$url"
  drop_pg "$GRANT_TEST_PG_WRITER_URL" "$url"
}

sqlite_case() { # KEY RUNNER
  new_sqlite_file
  local file=$sqlite_file
  # An fdatasync on ext4 commits the whole file system journal: without this, the first SQLite
  # case could also pay for the metadata of the databases PostgreSQL just created and dropped.
  sync
  timed "$2" "$file"
  record "$1"
  check_sqlite "$file"
  drop_sqlite "$file"
}

shard_base=("$GRANT_TEST_PG_SHARD0_URL" "$GRANT_TEST_PG_SHARD1_URL" "$GRANT_TEST_PG_SHARD2_URL" "$GRANT_TEST_PG_SHARD3_URL")

say "grant:   $grant_bin ($("$grant_bin" --version))"
say "dbmate:  $dbmate ($("$dbmate" --version))"
say "psql:    $psql ($("$psql" --version))"
say "sqlite3: $sqlite3_bin ($("$sqlite3_bin" -version | cut -d' ' -f1))"
say "$migrations migrations, $runs runs per case, $(nproc) CPUs; SQLite files in $sqlite_dir ($(df -T "$sqlite_dir" | awk 'NR == 2 { print $2 }'))"

# ---- runs ------------------------------------------------------------------------------------
# The cases alternate within each run so drift in machine load hits all of them alike, and the
# order rotates from run to run so that no case always goes first.
pg_cases=("pg_grant run_grant_pg" "pg_dbmate run_dbmate_pg" "pg_psql run_psql_pg")
sqlite_cases=("sqlite_grant run_grant_sqlite" "sqlite_dbmate run_dbmate_sqlite" "sqlite_cli run_cli_sqlite"
  "sqlite_cli_normal run_cli_normal_sqlite")
for ((run = 1; run <= runs; run++)); do
  say "run $run/$runs"
  for ((c = 0; c < ${#pg_cases[@]}; c++)); do
    # shellcheck disable=SC2086 # "KEY RUNNER", split on purpose
    pg_case ${pg_cases[(c + run - 1) % ${#pg_cases[@]}]}
  done
  for ((c = 0; c < ${#sqlite_cases[@]}; c++)); do
    # shellcheck disable=SC2086
    sqlite_case ${sqlite_cases[(c + run - 1) % ${#sqlite_cases[@]}]}
  done

  # grant on 1 shard vs 4 shards (--jobs 4), each shard its own server.
  fresh_pg "${shard_base[0]}"
  s0=$fresh
  BENCH_S0=$s0 timed "$grant_bin" --config "$work/one_shard.json" migrate --database bench --jobs 4
  record shard1
  check_pg "$s0"
  drop_pg "${shard_base[0]}" "$s0"

  s=()
  for i in 0 1 2 3; do
    fresh_pg "${shard_base[$i]}"
    s+=("$fresh")
  done
  BENCH_S0=${s[0]} BENCH_S1=${s[1]} BENCH_S2=${s[2]} BENCH_S3=${s[3]} \
    timed "$grant_bin" --config "$work/four_shards.json" migrate --database bench --jobs 4
  record shard4
  for i in 0 1 2 3; do
    check_pg "${s[$i]}"
    drop_pg "${shard_base[$i]}" "${s[$i]}"
  done
done

# ---- SQLite durability, outside the timed runs -----------------------------------------------
# A one-migration set that records, from inside the tool's own connection and transaction, the
# settings it runs with.
readonly probe_sql="CREATE TABLE sync_probe AS SELECT (SELECT synchronous FROM pragma_synchronous) AS synchronous, (SELECT journal_mode FROM pragma_journal_mode) AS journal_mode, sqlite_version() AS version;"
mkdir -p "$work/probe_grant" "$work/probe_dbmate"
printf -- '-- grant:up\n%s\n\n-- grant:down\nDROP TABLE sync_probe;\n' "$probe_sql" >"$work/probe_grant/1_probe.sql"
printf -- '-- migrate:up\n%s\n\n-- migrate:down\nDROP TABLE sync_probe;\n' "$probe_sql" >"$work/probe_dbmate/1_probe.sql"
printf 'BEGIN IMMEDIATE;\n%s\nCOMMIT;\n' "$probe_sql" >"$work/probe_cli.sql"
printf 'PRAGMA synchronous = NORMAL;\nBEGIN IMMEDIATE;\n%s\nCOMMIT;\n' "$probe_sql" >"$work/probe_cli_normal.sql"
cat >"$work/probe.json" <<EOF
{"databases": {"bench": {"url": "\${BENCH_URL}", "migrations": "$work/probe_grant"}}}
EOF

synchronous_name() {
  case $1 in
    0) printf 'OFF (0)' ;; 1) printf 'NORMAL (1)' ;; 2) printf 'FULL (2)' ;; 3) printf 'EXTRA (3)' ;; *) printf '%s' "$1" ;;
  esac
}

declare -A durability=()
tool_name() {
  case $1 in
    sqlite_cli) printf 'sqlite3' ;; sqlite_cli_normal) printf 'sqlite3 (NORMAL)' ;; *) printf '%s' "${1#sqlite_}" ;;
  esac
}
probe() { # KEY RUNNER PROBE_ARG
  new_sqlite_file
  timed "$2" "$sqlite_file" "$3"
  local row
  row=$("$sqlite3_bin" -init /dev/null -separator ' ' "$sqlite_file" "SELECT synchronous, journal_mode, version FROM sync_probe") ||
    die "$1: the probe migration left no sync_probe row"
  read -r sync_value journal version <<<"$row"
  durability[$1]="synchronous=$(synchronous_name "$sync_value"), journal_mode=$journal, SQLite $version"
  drop_sqlite "$sqlite_file"
}
say "SQLite durability: probing each tool's settings"
probe sqlite_grant run_grant_sqlite "$work/probe.json"
probe sqlite_dbmate run_dbmate_sqlite "$work/probe_dbmate"
probe sqlite_cli run_cli_sqlite "$work/probe_cli.sql"
probe sqlite_cli_normal run_cli_normal_sqlite "$work/probe_cli_normal.sql"

# fsync + fdatasync calls of a whole N-migration run under strace (slower, so never timed).
declare -A syncs=()
if [[ -n $strace_bin ]] && "$strace_bin" -f -c -o /dev/null true >/dev/null 2>&1; then
  say "SQLite durability: counting fsync/fdatasync with strace"
  for key in sqlite_grant sqlite_dbmate sqlite_cli sqlite_cli_normal; do
    new_sqlite_file
    file=$sqlite_file
    runner=run_${key#sqlite_}_sqlite
    wrap=("$strace_bin" -f -c -e "trace=fsync,fdatasync" -o "$work/strace.txt")
    timed "$runner" "$file"
    wrap=()
    check_sqlite "$file"
    drop_sqlite "$file"
    total=$(awk '$NF == "fsync" || $NF == "fdatasync" { n += $4 } END { print n + 0 }' "$work/strace.txt")
    syncs[$key]="$total fsync+fdatasync, $(awk -v t="$total" -v m="$migrations" 'BEGIN { printf "%.2f", t / m }') per migration"
  done
fi

# ---- report ----------------------------------------------------------------------------------
summarize
printf '\nMigrations: %s x (CREATE TABLE + CREATE INDEX), %s runs per case on fresh databases,\n' "$migrations" "$runs"
printf 'wall seconds of the whole process (median, and best run)\n\n'
ratio_header "target (on the median)"
ratio_line "PostgreSQL: grant / dbmate" pg_grant pg_dbmate "<= 1.0 (aim 0.5)" 1.0
ratio_line "PostgreSQL: grant / psql -f (same transactions)" pg_grant pg_psql "<= 1.05" 1.05
ratio_line "PostgreSQL: dbmate / psql -f (same transactions)" pg_dbmate pg_psql ""
ratio_line "SQLite: grant / dbmate" sqlite_grant sqlite_dbmate "<= 1.0 (aim 0.5)" 1.0
ratio_line "SQLite: grant / sqlite3 CLI (same transactions)" sqlite_grant sqlite_cli "<= 1.1" 1.1
ratio_line "SQLite: dbmate / sqlite3 CLI (same transactions)" sqlite_dbmate sqlite_cli ""
ratio_line "SQLite: dbmate / sqlite3 CLI synchronous=NORMAL" sqlite_dbmate sqlite_cli_normal ""
ratio_line "4 shards --jobs 4 / 1 shard (grant)" shard4 shard1 "<= 2.0" 2.0

printf '\nSQLite durability of each tool (probe migration inside its connection; syncs from strace -f -c):\n'
for key in sqlite_grant sqlite_dbmate sqlite_cli sqlite_cli_normal; do
  printf '  %-17s %s; %s\n' "$(tool_name "$key")" "${durability[$key]}" "${syncs[$key]:-syncs not counted (strace not available)}"
done

printf '\nraw seconds per run:\n'
for key in pg_grant pg_dbmate pg_psql sqlite_grant sqlite_dbmate sqlite_cli sqlite_cli_normal shard1 shard4; do
  printf '  %-18s %s\n' "$key" "${samples[$key]}"
done

# ---- MySQL / MariaDB: the same migrations, by its own script, on this run's servers -------------
if [[ -n ${GRANT_TEST_MY_PRIMARY_URL:-} ]]; then
  printf '\n'
  DBMATE_BIN=$dbmate "$(dirname "$0")/migrate_mysql.sh"
else
  say "MySQL: left out (no MariaDB server: GRANT_TEST_MY_PRIMARY_URL is unset)"
fi
