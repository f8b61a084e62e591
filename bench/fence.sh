#!/usr/bin/env bash
# The rebalance fence's cost per write (issue 20): after `grant rebalance --cutover`, every write on
# an old shard runs the fence trigger, which evaluates the target config's placement in PL/pgSQL
# (XXH64 and the ring or key ranges). Per case (a bigint key on a consistent_hash ring, a text key
# with the hash resolver), on the old shard s0 after a real 2 -> 3 shard cutover:
#  1. one-row INSERT transactions of keys that stay on s0 (pgbench, 1 client): into the fenced
#     table against the same INSERT into a copy of the table without triggers, same run;
#  2. a 50000-row INSERT ... SELECT into each: the fence's cost per row without round trips.
# The capture trigger (also there until cleanup) is disabled on the fenced table so that the
# fence alone is measured. Nothing here asserts a time; it prints microseconds and ratios.
#
#   bench/fence.sh                run from anywhere after a Release build in build/
#
#   GRANT_BIN=PATH          the grant binary (default: build/grant)
#   BENCH_SECONDS=N         seconds of pgbench per measurement (default 5; each is run twice)
#
# Uses the servers named by GRANT_TEST_PG_SHARD0..2_URL; when GRANT_TEST_PG_SHARD0_URL is unset it
# starts its own with tests/servers.sh and stops them on exit. Needs pgbench.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_args "$@"

readonly seconds=${BENCH_SECONDS:-5}
bench_need_grant
bench_positive BENCH_SECONDS "$seconds"
command -v pgbench >/dev/null || die "pgbench is needed (postgresql-15: scripts/install-deps.sh --with-postgres)"

bench_start
bench_servers GRANT_TEST_PG_SHARD0_URL GRANT_TEST_PG_SHARD1_URL GRANT_TEST_PG_SHARD2_URL
bench_psql
say "grant: $grant_bin ($("$grant_bin" --version)); $(nproc) CPUs"

# pgbench_latency URL SCRIPT: the lower "latency average" (microseconds) of two runs.
pgbench_latency() {
  local best='' latency _
  for _ in 1 2; do
    latency=$(cd "$work" && pgbench -n -c 1 -T "$seconds" -f "$2" "$1" 2>&1 |
      awk '/latency average/ { print $4 * 1000 }') || true
    [[ -n $latency ]] || die "pgbench failed on $2"
    if [[ -z $best ]] || awk -v a="$latency" -v b="$best" 'BEGIN { exit !(a < b) }'; then
      best=$latency
    fi
  done
  printf '%.1f' "$best"
}

# bulk_us URL TABLE: microseconds per row of one INSERT ... SELECT of every staying key.
bulk_us() {
  local t0 elapsed_s rows
  rows=$(sql "$1" -c "SELECT count(*) FROM stay")
  t0=$(now)
  sql "$1" -c "INSERT INTO $2 (k, id, amount) SELECT k, nextval('ids'), 1 FROM stay" >/dev/null
  elapsed_s=$(seconds_since "$t0")
  awk -v s="$elapsed_s" -v n="$rows" 'BEGIN { printf "%.2f", s * 1e6 / n }'
}

# run_case NAME KEY_TYPE KEY_EXPR RESOLVER: KEY_EXPR turns the integer g into a key.
results=()
run_case() {
  local name=$1 type=$2 expr=$3 resolver=$4 dir=$work/$1 i
  rebalance_shards
  local urls=("${fresh_shards[@]}")
  rebalance_configs "$dir" "k $type NOT NULL, id bigint NOT NULL, amount int NOT NULL, PRIMARY KEY (k, id)" \
    "\"sharding\": {\"key\": \"k\", \"tables\": [\"t\"], \"resolver\": $resolver}" "${urls[@]}"
  # 2000 keys on their old shards, so that the rebalance has rows to move.
  sql "${urls[0]}" -c "SELECT $expr FROM generate_series(1, 2000) g" >"$dir/keys"
  "$grant_bin" --config "$dir/grant.json" shard-resolve --database bench --stdin <"$dir/keys" >"$dir/old.tsv"
  for i in 0 1; do
    awk -v s="s$i" '$2 == s { print $1 }' "$dir/old.tsv" >"$dir/keys$i"
    sql "${urls[$i]}" -c "CREATE TEMP TABLE keys (k $type)" -c "\\copy keys FROM '$dir/keys$i'" \
      -c "INSERT INTO t SELECT k, 1, 1 FROM keys" >/dev/null
  done
  "$grant_bin" --config "$dir/grant.json" -q rebalance --database bench --target "$dir/target.json" ||
    die "grant rebalance (copy) failed"
  "$grant_bin" --config "$dir/grant.json" -q rebalance --database bench --target "$dir/target.json" --cutover ||
    die "grant rebalance --cutover failed"
  local s0=${urls[0]}
  sql "$s0" -c "CREATE TABLE t_plain (LIKE t INCLUDING ALL)" -c "ALTER TABLE t DISABLE TRIGGER grant_rebalance_capture" \
    -c "CREATE SEQUENCE ids START 1000000" \
    -c "CREATE TABLE stay AS SELECT row_number() OVER () AS n, k FROM (SELECT $expr AS k FROM generate_series(100000, 150000) g) c WHERE grant_rebalance_place(ARRAY[k::text]) = 's0'" \
    -c "ALTER TABLE stay ADD PRIMARY KEY (n)" -c "ANALYZE stay" >/dev/null
  local count
  count=$(sql "$s0" -c "SELECT count(*) FROM stay")
  for table in t_plain t; do
    printf '\\set n random(1, %s)\nINSERT INTO %s (k, id, amount) SELECT k, nextval('"'"'ids'"'"'), 1 FROM stay WHERE n = :n;\n' \
      "$count" "$table" >"$work/$name-$table.sql"
  done
  local plain fenced plain_bulk fenced_bulk
  plain=$(pgbench_latency "$s0" "$work/$name-t_plain.sql")
  fenced=$(pgbench_latency "$s0" "$work/$name-t.sql")
  plain_bulk=$(bulk_us "$s0" t_plain)
  fenced_bulk=$(bulk_us "$s0" t)
  results+=("$(printf '%-44s %10s %10s %7s %11s %11s %7s' "$name" "$plain" "$fenced" \
    "$(awk -v a="$fenced" -v b="$plain" 'BEGIN { printf "%.2fx", a / b }')" "$plain_bulk" "$fenced_bulk" \
    "$(awk -v a="$fenced_bulk" -v b="$plain_bulk" 'BEGIN { printf "%.2fx", a / b }')")")
}

run_case "bigint key, consistent_hash (160 vnodes)" bigint "g" '{"type": "consistent_hash", "virtual_nodes": 160}'
run_case "text key (\"tenant-N\"), hash" text "'tenant-' || g" '{"type": "hash"}'

printf '\nThe rebalance fence: cost per write on an old shard after cutover (%s s of pgbench per figure, best of 2)\n\n' "$seconds"
printf '%-44s %10s %10s %7s %11s %11s %7s\n' "case" "plain us" "fenced us" "ratio" "bulk us/row" "fenced" "ratio"
printf '%s\n' "${results[@]}"
printf '\none-row INSERT transactions (pgbench latency, round trip included); bulk: one INSERT ... SELECT of the keys\n'
