#!/usr/bin/env bash
# --atomic cost (issue 7 and 20 figure): wall time of `grant migrate --atomic --jobs 8` against a plain
# `grant migrate --jobs 8` on the same shape: N small migrations (CREATE TABLE + INSERT of one
# row each) on 32 small shards, fresh empty databases for every run, spread round-robin over the
# 4 shard servers (8 per server). Target: atomic / plain <= 1.2 (issue 20). Nothing here asserts a time.
#
#   bench/atomic.sh                   run from anywhere after a Release build in build/
#
#   GRANT_BIN=PATH        the grant binary (default: build/grant)
#   BENCH_MIGRATIONS=N    migrations (default 20)
#   BENCH_SHARDS=N        shards (default 32)
#   BENCH_JOBS=N          --jobs for both cases (default 8)
#   BENCH_RUNS=N          runs per case (default 5); median and best are reported
#   BENCH_SENDS=1         also one untimed run of each case under `strace -f -c -e trace=sendto`:
#                         grant's messages to the servers (one per round trip), a count that
#                         the machine's load does not blur
#
# Uses the servers named by GRANT_TEST_PG_SHARD0..3_URL; when GRANT_TEST_PG_SHARD0_URL is unset it
# starts its own with tests/servers.sh and stops them on exit. --atomic prepares every shard of a
# version before committing any, so each server needs max_prepared_transactions >= its shards
# (tests/servers.sh sets 20); the script checks it. After every run, outside the timed section,
# every shard must hold N tables and N tracking rows, and no server a prepared transaction.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_args "$@"

readonly migrations=${BENCH_MIGRATIONS:-20}
readonly shard_count=${BENCH_SHARDS:-32}
readonly jobs=${BENCH_JOBS:-8}
readonly runs=${BENCH_RUNS:-5}
bench_need_grant
bench_positive BENCH_MIGRATIONS "$migrations"
bench_positive BENCH_SHARDS "$shard_count"
bench_positive BENCH_JOBS "$jobs"
bench_positive BENCH_RUNS "$runs"

bench_start
bench_servers GRANT_TEST_PG_SHARD0_URL GRANT_TEST_PG_SHARD1_URL GRANT_TEST_PG_SHARD2_URL GRANT_TEST_PG_SHARD3_URL
bench_psql

servers=("$GRANT_TEST_PG_SHARD0_URL" "$GRANT_TEST_PG_SHARD1_URL" "$GRANT_TEST_PG_SHARD2_URL" "$GRANT_TEST_PG_SHARD3_URL")
readonly per_server=$(((shard_count + 3) / 4))

for i in 0 1 2 3; do
  prepared=$(sql "${servers[$i]}" -c "SHOW max_prepared_transactions") ||
    die "cannot reach shard server $i ($(redact "${servers[$i]}"))"
  ((prepared > 0)) || die "shard server $i has max_prepared_transactions = 0: --atomic needs two-phase commit (set it in postgresql.conf and restart; tests/servers.sh sets 20)"
  ((prepared >= per_server)) ||
    die "shard server $i has max_prepared_transactions = $prepared, fewer than the $per_server shards it holds"
done

# ---- migrations and config -------------------------------------------------------------------
mkdir -p "$work/migrations"
for ((i = 1; i <= migrations; i++)); do
  printf -- '-- grant:up\nCREATE TABLE a_%d (id int PRIMARY KEY, v text NOT NULL);\nINSERT INTO a_%d VALUES (1, '\''v%d'\'');\n\n-- grant:down\nDROP TABLE a_%d;\n' \
    "$i" "$i" "$i" "$i" >"$work/migrations/$((20240101000000 + i))_a_$i.sql"
done

# Shard k is s<k> with URL ${BENCH_S<k>}, on server k % 4.
{
  printf '{"databases": {"bench": {\n  "migrations": "%s",\n  "shards": [\n' "$work/migrations"
  for ((k = 0; k < shard_count; k++)); do
    comma=,
    ((k + 1 < shard_count)) || comma=
    # shellcheck disable=SC2016 # ${BENCH_S<k>} is grant's interpolation, not the shell's
    printf '    {"name": "s%d", "url": "${BENCH_S%d}"}%s\n' "$k" "$k" "$comma"
  done
  printf '  ]}}}\n'
} >"$work/grant.json"

# ---- runs ------------------------------------------------------------------------------------
shard_urls=() # index k: the URL of shard k in this run
fresh_shards() {
  local i j k
  shard_urls=()
  for i in 0 1 2 3; do
    local count=$(((shard_count - i + 3) / 4)) # shards k with k % 4 == i
    ((count > 0)) || continue
    fresh_pg_many "${servers[$i]}" "$count"
    for ((j = 0; j < count; j++)); do
      k=$((i + 4 * j))
      shard_urls[k]=${fresh_list[$j]}
      export "BENCH_S$k=${fresh_list[$j]}"
    done
  done
}

drop_shards() {
  local i k urls
  for i in 0 1 2 3; do
    urls=()
    for ((k = i; k < shard_count; k += 4)); do
      urls+=("${shard_urls[k]}")
    done
    ((${#urls[@]} > 0)) && drop_pg "${servers[$i]}" "${urls[@]}"
  done
  return 0
}

check_shards() {
  local k got i
  for ((k = 0; k < shard_count; k++)); do
    got=$(sql "${shard_urls[k]}" -c "SELECT (SELECT count(*) FROM pg_tables WHERE tablename LIKE 'a\_%') || ' ' || (SELECT count(*) FROM schema_migrations)") ||
      die "shard s$k: cannot read its tables"
    [[ $got == "$migrations $migrations" ]] ||
      die "shard s$k: a $1 run left '$got' (tables, tracking rows), expected $migrations $migrations"
  done
  for i in 0 1 2 3; do
    got=$(sql "${servers[$i]}" -c "SELECT count(*) FROM pg_prepared_xacts")
    [[ $got == 0 ]] || die "shard server $i: a $1 run left $got prepared transactions"
  done
}

wrap=() # a command in front of grant (strace)
run_case() { # KEY grant-migrate-flags...
  local key=$1
  shift
  fresh_shards
  timed "${wrap[@]}" "$grant_bin" --config "$work/grant.json" migrate --database bench --jobs "$jobs" "$@"
  record "$key"
  check_shards "$key"
  drop_shards
}

say "grant: $grant_bin ($("$grant_bin" --version)); $(nproc) CPUs"
say "$migrations migrations on $shard_count shards ($per_server per server on 4 servers), --jobs $jobs, $runs runs per case"

# The order alternates between runs so that neither case always goes first.
for ((run = 1; run <= runs; run++)); do
  say "run $run/$runs"
  if ((run % 2)); then
    run_case plain
    run_case atomic --atomic
  else
    run_case atomic --atomic
    run_case plain
  fi
done

declare -A sends=()
if [[ ${BENCH_SENDS:-0} == 1 ]]; then
  command -v strace >/dev/null || die "BENCH_SENDS=1 needs strace"
  for key in plain atomic; do
    flags=()
    [[ $key == atomic ]] && flags=(--atomic)
    wrap=(strace -f -c -e trace=sendto -o "$work/strace.$key")
    run_case "$key-strace" "${flags[@]}"
    sends[$key]=$(awk '$NF == "sendto" { print $4 }' "$work/strace.$key")
  done
  wrap=()
fi

# ---- report ----------------------------------------------------------------------------------
med_plain=$(median "${samples[plain]}")
med_atomic=$(median "${samples[atomic]}")
best_plain=$(minimum "${samples[plain]}")
best_atomic=$(minimum "${samples[atomic]}")
r=$(ratio "$med_atomic" "$med_plain")
verdict=$(awk -v r="$r" 'BEGIN { print (r <= 1.2) ? "met" : "NOT met" }')

printf '\n--atomic: %s migrations (CREATE TABLE + INSERT one row) on %s shards, 4 servers, --jobs %s,\n' "$migrations" "$shard_count" "$jobs"
printf '%s runs per case on fresh databases, wall seconds of the whole process\n\n' "$runs"
row() { printf '%-44s %8s %8s\n' "$@"; }
row "case" "median" "best"
row "grant migrate --jobs $jobs" "$med_plain" "$best_plain"
row "grant migrate --atomic --jobs $jobs" "$med_atomic" "$best_atomic"
row "atomic / plain" "$r" "$(ratio "$best_atomic" "$best_plain")"
printf '\ntarget: atomic / plain <= 1.2 on the median: %s\n' "$verdict"
if [[ -n ${sends[plain]:-} ]]; then
  printf '\nmessages to the servers (sendto calls, strace -f -c, one untimed run each): plain %s, atomic %s, atomic / plain %s\n' \
    "${sends[plain]}" "${sends[atomic]}" "$(ratio "${sends[atomic]}" "${sends[plain]}")"
fi
printf '\nraw seconds per run:\n'
printf '  %-8s %s\n' plain "${samples[plain]}" atomic "${samples[atomic]}"
