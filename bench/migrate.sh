#!/usr/bin/env bash
# Migration benchmark (issue 3 figures): wall time of whole `grant migrate` processes against
# dbmate applying the same SQL, and of grant on 4 shards against grant on 1 shard. Every ratio
# is measured in this run; nothing here asserts a time.
#
#   bench/migrate.sh                  run from the repo root after a Release build in build/
#
#   GRANT_BIN=PATH        the grant binary (default: build/grant)
#   DBMATE_BIN=PATH       a dbmate binary (default: dbmate on PATH, else installed from npm into
#                         ${XDG_CACHE_HOME:-~/.cache}/grant-bench/dbmate)
#   BENCH_MIGRATIONS=N    migrations per set (default 200)
#   BENCH_RUNS=N          runs per case, each on fresh databases (default 5); median and best are reported
#
# Uses the PostgreSQL servers named by GRANT_TEST_PG_WRITER_URL and GRANT_TEST_PG_SHARD0..3_URL;
# when those are unset it starts its own with tests/servers.sh and stops them on exit.
# Needs psql (from $GRANT_TEST_PG_BIN or PATH) to create and drop the fresh databases.
# Functions below run from traps, which shellcheck cannot follow.
# shellcheck disable=SC2317
set -euo pipefail

usage() {
  sed -n '2,16s/^# \{0,1\}//p' "$0"
}

case ${1:-} in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) echo "migrate.sh: error: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
repo=$PWD

readonly migrations=${BENCH_MIGRATIONS:-200}
readonly runs=${BENCH_RUNS:-5}
grant_bin=${GRANT_BIN:-$repo/build/grant}

say() { printf 'migrate.sh: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

[[ -x $grant_bin ]] || die "no grant binary at $grant_bin: build it first (cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build --target grant_exe) or set GRANT_BIN"
[[ $migrations =~ ^[1-9][0-9]*$ ]] || die "BENCH_MIGRATIONS must be a positive integer"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer"

work=$(mktemp -d "${TMPDIR:-/tmp}/grant-bench-migrate.XXXXXX")
servers_dir=
created_databases=() # "url-of-maintenance-db|name"

cleanup() {
  local entry
  for entry in "${created_databases[@]}"; do
    "$psql" -X -q -d "${entry%%|*}" -c "DROP DATABASE IF EXISTS ${entry##*|} WITH (FORCE)" >/dev/null 2>&1 || true
  done
  if [[ -n $servers_dir ]]; then
    tests/servers.sh stop "$servers_dir" >/dev/null 2>&1 || true
  fi
  rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- servers ---------------------------------------------------------------------------------
if [[ -z ${GRANT_TEST_PG_WRITER_URL:-} ]]; then
  say "GRANT_TEST_PG_WRITER_URL is unset: starting test servers (tests/servers.sh)"
  env_file=$(tests/servers.sh start | tail -n1)
  servers_dir=$(dirname "$env_file")
  # shellcheck disable=SC1090
  source "$env_file"
fi
for i in 0 1 2 3; do
  var=GRANT_TEST_PG_SHARD${i}_URL
  [[ -n ${!var:-} ]] || die "$var is unset (the shard figures need four shard servers)"
done

psql=
if [[ -n ${GRANT_TEST_PG_BIN:-} && -x $GRANT_TEST_PG_BIN/psql ]]; then
  psql=$GRANT_TEST_PG_BIN/psql
else
  psql=$(command -v psql) || die "psql not found (set GRANT_TEST_PG_BIN)"
fi
export PGCONNECT_TIMEOUT=10

# ---- dbmate ----------------------------------------------------------------------------------
find_dbmate() {
  local prefix=$1 native
  # The npm package's bin is a node wrapper around a prebuilt binary from an optional
  # dependency (@dbmate/linux-x64, ...); call the binary itself so node start-up is not timed.
  for native in "$prefix"/node_modules/@dbmate/*/bin/dbmate; do
    [[ -x $native ]] && { printf '%s' "$native"; return 0; }
  done
  [[ -x $prefix/node_modules/.bin/dbmate ]] && { printf '%s' "$prefix/node_modules/.bin/dbmate"; return 0; }
  return 1
}

dbmate=${DBMATE_BIN:-}
if [[ -z $dbmate ]]; then
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/grant-bench/dbmate
  if ! dbmate=$(command -v dbmate) && ! dbmate=$(find_dbmate "$cache"); then
    command -v npm >/dev/null || die "dbmate not found and npm is missing: install dbmate or set DBMATE_BIN"
    say "installing dbmate from npm into $cache"
    mkdir -p "$cache"
    npm install --prefix "$cache" --no-audit --no-fund dbmate >"$work/npm.log" 2>&1 ||
      { cat "$work/npm.log" >&2; die "npm install dbmate failed"; }
    dbmate=$(find_dbmate "$cache") || die "npm installed dbmate but no binary was found under $cache"
  fi
fi
"$dbmate" --version >/dev/null 2>&1 || die "$dbmate does not run"

# ---- migration files -------------------------------------------------------------------------
mkdir -p "$work/grant" "$work/dbmate"
for ((i = 1; i <= migrations; i++)); do
  version=$((20240101000000 + i))
  up="CREATE TABLE t_$i (id bigint PRIMARY KEY, name text NOT NULL, created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE INDEX t_${i}_name_idx ON t_$i (name);"
  down="DROP TABLE t_$i;"
  printf -- '-- grant:up\n%s\n\n-- grant:down\n%s\n' "$up" "$down" >"$work/grant/${version}_create_t_$i.sql"
  printf -- '-- migrate:up\n%s\n\n-- migrate:down\n%s\n' "$up" "$down" >"$work/dbmate/${version}_create_t_$i.sql"
done

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

# ---- helpers ---------------------------------------------------------------------------------
# "postgres://u:p@h:port/db?x=y" -> the same URL naming database $2 (query kept).
url_with_database() {
  local url=$1 name=$2 query=
  if [[ $url == *\?* ]]; then
    query="?${url#*\?}"
    url=${url%%\?*}
  fi
  printf '%s/%s%s' "${url%/*}" "$name" "$query"
}

# dbmate's PostgreSQL driver wants sslmode spelled out for a server without TLS.
dbmate_url() {
  local url=$1
  [[ $url == *sslmode=* ]] && { printf '%s' "$url"; return; }
  [[ $url == *\?* ]] && printf '%s&sslmode=disable' "$url" || printf '%s?sslmode=disable' "$url"
}

seq_no=0
fresh=
# Creates an empty database on the server of $1; sets $fresh to its URL.
fresh_pg() {
  local base=$1 name
  seq_no=$((seq_no + 1))
  name="grant_bench_$$_$seq_no"
  "$psql" -X -q -v ON_ERROR_STOP=1 -d "$base" -c "CREATE DATABASE $name" >/dev/null
  created_databases+=("$base|$name")
  fresh=$(url_with_database "$base" "$name")
}

drop_pg() {
  local base=$1 url=$2 name
  name=${url##*/}
  name=${name%%\?*}
  "$psql" -X -q -d "$base" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null
}

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }

# Runs a command with output to $work/last.log; sets $elapsed to its wall seconds.
elapsed=
timed() {
  local t0 t1
  t0=$(now)
  if ! "$@" >"$work/last.log" 2>&1; then
    cat "$work/last.log" >&2
    die "failed: ${*//:\/\/*@/://***@}"
  fi
  t1=$(now)
  elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
}

# Checks that a run left $migrations tables and tracking rows (outside the timed section).
check_pg() {
  local url=$1 tables rows
  tables=$("$psql" -X -A -t -d "$url" -c "SELECT count(*) FROM pg_tables WHERE tablename LIKE 't\_%'")
  rows=$("$psql" -X -A -t -d "$url" -c "SELECT count(*) FROM schema_migrations")
  [[ $tables == "$migrations" && $rows == "$migrations" ]] ||
    die "a PostgreSQL run left $tables tables and $rows tracking rows, expected $migrations"
}

check_sqlite() {
  local file=$1 tables rows
  command -v sqlite3 >/dev/null || return 0
  tables=$(sqlite3 "$file" "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 't\_%' ESCAPE '\\'")
  rows=$(sqlite3 "$file" "SELECT count(*) FROM schema_migrations")
  [[ $tables == "$migrations" && $rows == "$migrations" ]] ||
    die "a SQLite run left $tables tables and $rows tracking rows, expected $migrations"
}

declare -A samples=()
record() { samples[$1]+="$elapsed "; }

median() {
  tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

writer=$GRANT_TEST_PG_WRITER_URL
shard_base=("$GRANT_TEST_PG_SHARD0_URL" "$GRANT_TEST_PG_SHARD1_URL" "$GRANT_TEST_PG_SHARD2_URL" "$GRANT_TEST_PG_SHARD3_URL")

say "grant:  $grant_bin ($("$grant_bin" --version))"
say "dbmate: $dbmate ($("$dbmate" --version))"
say "$migrations migrations, $runs runs per case, $(nproc) CPUs"

# ---- runs ------------------------------------------------------------------------------------
# The cases alternate within each run so drift in machine load hits all of them alike.
for ((run = 1; run <= runs; run++)); do
  say "run $run/$runs"

  # PostgreSQL, one database: grant vs dbmate.
  fresh_pg "$writer"
  url=$fresh
  BENCH_URL=$url timed "$grant_bin" --config "$work/single.json" migrate --database bench
  record pg_grant
  check_pg "$url"
  drop_pg "$writer" "$url"

  fresh_pg "$writer"
  url=$fresh
  timed "$dbmate" --url "$(dbmate_url "$url")" --migrations-dir "$work/dbmate" --no-dump-schema migrate
  record pg_dbmate
  check_pg "$url"
  drop_pg "$writer" "$url"

  # SQLite, a file that does not exist yet: grant vs dbmate.
  file=$work/grant_$run.sqlite3
  BENCH_URL=sqlite3:$file timed "$grant_bin" --config "$work/single.json" migrate --database bench
  record sqlite_grant
  check_sqlite "$file"
  rm -f "$file" "$file.grant-lock"

  file=$work/dbmate_$run.sqlite3
  timed "$dbmate" --url "sqlite:$file" --migrations-dir "$work/dbmate" --no-dump-schema migrate
  record sqlite_dbmate
  check_sqlite "$file"
  rm -f "$file"

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

# ---- report ----------------------------------------------------------------------------------
minimum() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | head -n1 | awk '{ printf "%.3f", $1 }'; }

declare -A med=() best=()
for key in pg_grant pg_dbmate sqlite_grant sqlite_dbmate shard1 shard4; do
  med[$key]=$(median "${samples[$key]}")
  best[$key]=$(minimum "${samples[$key]}")
done

row() { printf '%-42s %9s %9s %7s   %9s %9s %7s   %s\n' "$@"; }
line() { # label, grant key, baseline key, target
  row "$1" "${med[$2]}" "${med[$3]}" "$(ratio "${med[$2]}" "${med[$3]}")" \
    "${best[$2]}" "${best[$3]}" "$(ratio "${best[$2]}" "${best[$3]}")" "$4"
}
printf '\nMigrations: %s x (CREATE TABLE + CREATE INDEX), %s runs per case on fresh databases,\n' "$migrations" "$runs"
printf 'wall seconds of the whole process (median, and best run)\n\n'
row "case" "grant" "baseline" "ratio" "grant" "baseline" "ratio" "target"
row "" "median" "median" "median" "best" "best" "best" ""
line "PostgreSQL, 1 database: grant / dbmate" pg_grant pg_dbmate "<= 1.0 (aim 0.5)"
line "SQLite file: grant / dbmate" sqlite_grant sqlite_dbmate "<= 1.0 (aim 0.5)"
line "4 shards --jobs 4 / 1 shard (grant)" shard4 shard1 "<= 2.0"
printf '\nraw seconds per run:\n'
for key in pg_grant pg_dbmate sqlite_grant sqlite_dbmate shard1 shard4; do
  printf '  %-14s %s\n' "$key" "${samples[$key]}"
done
