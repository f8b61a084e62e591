# Shared helpers of the bench/*.sh scripts; source it, do not run it:
#
#   source "$(dirname "$0")/lib.sh"   # sets $repo, cds there, resolves $grant_bin
#   bench_args "$@"                   # --help prints the script's header comment
#   bench_start                       # $work (removed on exit), cleanup trap
#   bench_servers VAR...              # tests/servers.sh when the first VAR is unset
#   bench_psql                        # $psql, PGCONNECT_TIMEOUT
#   bench_npm_tool VAR TOOL PACKAGE   # a peer tool from npm (dbmate, squawk), cached
#   fresh_pg URL / fresh_pg_many URL N / drop_pg URL DB_URL... / timed CMD... / median / minimum / ratio
#
# Everything a script creates (databases, servers, $work) is removed on exit, also on error or ^C.
# shellcheck shell=bash
# Functions below run from traps, which shellcheck cannot follow.
# shellcheck disable=SC2317

[[ -n ${BASH_VERSION:-} ]] || { echo "bench/lib.sh: needs bash" >&2; exit 1; }
set -euo pipefail

bench_name=$(basename "$0")

say() { printf '%s: %s\n' "$bench_name" "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

# The comment block at the top of the script (after the #! line), without its shellcheck lines.
usage() {
  awk 'NR == 1 { next } !/^#/ { exit } /^# shellcheck/ { next } { sub(/^# ?/, ""); print }' "$0"
}

bench_args() {
  case ${1:-} in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) echo "$bench_name: error: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  (($# <= 1)) || { echo "$bench_name: error: unexpected argument '$2'" >&2; usage >&2; exit 2; }
}

# A relative GRANT_BIN is relative to where the script was started.
grant_bin=${GRANT_BIN:-}
if [[ -n $grant_bin && $grant_bin != /* ]]; then
  grant_bin=$PWD/$grant_bin
fi
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
grant_bin=${grant_bin:-$repo/build/grant}

bench_need_grant() {
  [[ -x $grant_bin ]] || die "no grant binary at $grant_bin: build it first (cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build --target grant_exe) or set GRANT_BIN"
  "$grant_bin" --version >/dev/null 2>&1 || die "$grant_bin does not run"
}

# bench_positive NAME VALUE: dies unless VALUE is a positive integer.
bench_positive() {
  [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, not '$2'"
}

# ---- lifetime --------------------------------------------------------------------------------
work=
psql=
servers_dir=
declare -A created_databases=() # "url-of-maintenance-db|name" -> 1
bench_exit_hooks=()             # function names, run first on exit

bench_cleanup() {
  local hook entry
  for hook in "${bench_exit_hooks[@]}"; do
    "$hook" || true
  done
  if [[ -n $psql ]]; then
    for entry in "${!created_databases[@]}"; do
      "$psql" -X -q -d "${entry%%|*}" -c "DROP DATABASE IF EXISTS ${entry##*|} WITH (FORCE)" >/dev/null 2>&1 || true
    done
  fi
  if [[ -n $servers_dir ]]; then
    tests/servers.sh stop "$servers_dir" >/dev/null 2>&1 || true
  fi
  if [[ -n $work ]]; then
    rm -rf -- "$work"
  fi
}

bench_start() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/grant-${bench_name%.sh}.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

# bench_servers VAR...: the URL variables the script needs (GRANT_TEST_PG_WRITER_URL, ...). When
# the first is unset, starts tests/servers.sh (stopped on exit) and reads its env file.
bench_servers() {
  local var env_file
  if [[ -z ${!1:-} ]]; then
    say "$1 is unset: starting test servers (tests/servers.sh)"
    env_file=$(tests/servers.sh start | tail -n1) || die "tests/servers.sh start failed"
    servers_dir=$(dirname "$env_file")
    # shellcheck disable=SC1090
    source "$env_file"
  fi
  for var in "$@"; do
    [[ -n ${!var:-} ]] || die "$var is unset (source the env file of tests/servers.sh, or unset $1 to start servers)"
  done
}

# A peer tool from npm, for comparison only: `bench_npm_tool VAR TOOL PACKAGE` sets VAR to the
# tool's binary: $VAR when set, else TOOL on PATH, else the one installed into
# ${XDG_CACHE_HOME:-~/.cache}/grant-bench/TOOL (installing PACKAGE there with npm the first time).
# The npm package's bin is a node wrapper around a prebuilt binary from an optional dependency
# (@TOOL/linux-x64, @TOOL-cli/linux-x64, ...): the binary itself is used, so node's start-up is
# not timed.
bench_find_npm_binary() {
  local prefix=$1 tool=$2 native
  for native in "$prefix"/node_modules/@"$tool"*/*/bin/"$tool"; do
    [[ -x $native ]] && { printf '%s' "$native"; return 0; }
  done
  [[ -x $prefix/node_modules/.bin/$tool ]] && { printf '%s' "$prefix/node_modules/.bin/$tool"; return 0; }
  return 1
}
bench_npm_tool() {
  local var=$1 tool=$2 package=$3 found cache
  found=${!var:-}
  if [[ -z $found ]]; then
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/grant-bench/$tool
    if ! found=$(command -v "$tool") && ! found=$(bench_find_npm_binary "$cache" "$tool"); then
      command -v npm >/dev/null || die "$tool not found and npm is missing: install $tool or set $var"
      say "installing $package from npm into $cache"
      mkdir -p "$cache"
      npm install --prefix "$cache" --no-audit --no-fund "$package" >"$work/npm.log" 2>&1 ||
        { cat "$work/npm.log" >&2; die "npm install $package failed"; }
      found=$(bench_find_npm_binary "$cache" "$tool") || die "npm installed $package but no binary was found under $cache"
    fi
  fi
  "$found" --version >/dev/null 2>&1 || die "$found does not run"
  printf -v "$var" '%s' "$found"
}

bench_psql() {
  if [[ -n ${GRANT_TEST_PG_BIN:-} && -x $GRANT_TEST_PG_BIN/psql ]]; then
    psql=$GRANT_TEST_PG_BIN/psql
  else
    psql=$(command -v psql) || die "psql not found (set GRANT_TEST_PG_BIN)"
  fi
  export PGCONNECT_TIMEOUT=10
}

# ---- databases -------------------------------------------------------------------------------
# "postgres://u:p@h:port/db?x=y" -> the same URL naming database $2 (query kept).
url_with_database() {
  local url=$1 name=$2 query=
  if [[ $url == *\?* ]]; then
    query="?${url#*\?}"
    url=${url%%\?*}
  fi
  printf '%s/%s%s' "${url%/*}" "$name" "$query"
}

database_of() {
  local name=${1##*/}
  printf '%s' "${name%%\?*}"
}

sql() { "$psql" -X -q -v ON_ERROR_STOP=1 -A -t -d "$@"; }

bench_seq=0
fresh=
fresh_list=()
# fresh_pg_many URL N: creates N empty databases on the server of URL with one psql; sets
# fresh_list to their URLs.
fresh_pg_many() {
  local base=$1 count=$2 i name
  local args=() names=()
  for ((i = 0; i < count; i++)); do
    bench_seq=$((bench_seq + 1))
    name="grant_bench_$$_$bench_seq"
    names+=("$name")
    args+=(-c "CREATE DATABASE $name")
  done
  for name in "${names[@]}"; do
    created_databases["$base|$name"]=1
  done
  "$psql" -X -q -v ON_ERROR_STOP=1 -d "$base" "${args[@]}" >/dev/null ||
    die "cannot create databases on $(redact "$base")"
  fresh_list=()
  for name in "${names[@]}"; do
    fresh_list+=("$(url_with_database "$base" "$name")")
  done
}

# fresh_pg URL: creates an empty database on the server of URL; sets $fresh to its URL.
fresh_pg() {
  fresh_pg_many "$1" 1
  # shellcheck disable=SC2034 # read by the scripts
  fresh=${fresh_list[0]}
}

# rebalance_shards: one fresh database on each of the servers GRANT_TEST_PG_SHARD0..2_URL, in
# the array fresh_shards (s0, s1 of the old layout; s2, the shard a rebalance adds).
fresh_shards=()
rebalance_shards() {
  local i var
  fresh_shards=()
  for i in 0 1 2; do
    var=GRANT_TEST_PG_SHARD${i}_URL
    fresh_pg "${!var}"
    fresh_shards+=("$fresh")
  done
}

# rebalance_configs DIR COLUMNS SHARDING S0 S1 S2: the migration creating table t (COLUMNS),
# DIR/grant.json (s0, s1) and DIR/target.json (s0, s1, s2) with the SHARDING section, and t
# created on every shard by `grant migrate` under both configs.
rebalance_configs() {
  local dir=$1 t_columns=$2 t_sharding=$3 s0=$4 s1=$5 s2=$6
  mkdir -p "$dir/db/migrate/bench"
  printf -- '-- grant:up\nCREATE TABLE t (%s);\n-- grant:down\nDROP TABLE t;\n' "$t_columns" >"$dir/db/migrate/bench/1_t.sql"
  cat >"$dir/grant.json" <<JSON
{"databases": {"bench": {"shards": [{"name": "s0", "url": "$s0"}, {"name": "s1", "url": "$s1"}], $t_sharding}}}
JSON
  cat >"$dir/target.json" <<JSON
{"databases": {"bench": {"shards": [{"name": "s0", "url": "$s0"}, {"name": "s1", "url": "$s1"},
  {"name": "s2", "url": "$s2"}], $t_sharding}}}
JSON
  "$grant_bin" --config "$dir/grant.json" migrate -q
  "$grant_bin" --config "$dir/target.json" migrate -q
}

# drop_pg URL DB_URL...: drops the databases (all on the server of URL) with one psql.
drop_pg() {
  local base=$1 url name
  shift
  local args=()
  for url in "$@"; do
    name=$(database_of "$url")
    args+=(-c "DROP DATABASE IF EXISTS $name WITH (FORCE)")
  done
  "$psql" -X -q -v ON_ERROR_STOP=1 -d "$base" "${args[@]}" >/dev/null || die "cannot drop databases on $(redact "$base")"
  local key
  for url in "$@"; do
    # shellcheck disable=SC2034 # read by unset, whose quoted subscript expands once
    key="$base|$(database_of "$url")"
    unset -v 'created_databases[$key]'
  done
}

# ---- timing ----------------------------------------------------------------------------------
redact() { printf '%s' "${*//:\/\/*@/://***@}"; }

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.4f", b - a }'; }

# timed CMD...: runs it with output to $work/last.log; sets $elapsed to its wall seconds. A
# failure prints the log and dies.
elapsed=
timed() {
  local t0 t1
  t0=$(now)
  if ! "$@" >"$work/last.log" 2>&1; then
    cat "$work/last.log" >&2
    die "failed: $(redact "$*")"
  fi
  t1=$(now)
  elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
}

# Samples are space-separated seconds, collected per case: record KEY appends $elapsed.
declare -A samples=()
record() { samples[$1]+="$elapsed "; }

# median "VALUES" [DECIMALS=3]
median() {
  tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk -v d="${2:-3}" '{ v[NR] = $1 } END {
    if (NR % 2) printf "%.*f", d, v[(NR + 1) / 2]; else printf "%.*f", d, (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# minimum "VALUES" [DECIMALS=3]
minimum() {
  tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | head -n1 | awk -v d="${2:-3}" '{ printf "%.*f", d, $1 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f", a / b }'; }
per_second() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

# ---- the report's table: each case against its baseline, on the median and on the best run ----
# summarize: med[KEY] and best[KEY] from samples[KEY].
declare -A med=() best=()
summarize() {
  local key
  for key in "${!samples[@]}"; do
    med[$key]=$(median "${samples[$key]}")
    best[$key]=$(minimum "${samples[$key]}")
  done
}
ratio_row() { printf '%-50s %8s %8s %6s   %8s %8s %6s   %s\n' "$@"; }
# ratio_header [LAST_COLUMN]: the table's two header lines.
ratio_header() {
  ratio_row "case" "tool" "baseline" "ratio" "tool" "baseline" "ratio" "${1:-}"
  ratio_row "" "median" "median" "median" "best" "best" "best" ""
}
# ratio_line LABEL KEY BASELINE_KEY [TARGET_TEXT THRESHOLD]: one line; with a threshold it says
# whether the median ratio meets it.
ratio_line() {
  local r verdict=
  r=$(ratio "${med[$2]}" "${med[$3]}")
  if [[ -n ${5:-} ]]; then
    verdict=$(awk -v r="$r" -v t="$5" 'BEGIN { print (r <= t) ? "met" : "NOT met" }')
  fi
  ratio_row "$1" "${med[$2]}" "${med[$3]}" "$r" \
    "${best[$2]}" "${best[$3]}" "$(ratio "${best[$2]}" "${best[$3]}")" "${4:-}${verdict:+ ($verdict)}"
}
