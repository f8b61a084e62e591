#!/usr/bin/env bash
# Rebalance (issue 10 figures): adding a third shard to a 2-shard consistent_hash database.
#  1. copy rate: `grant rebalance` (copy phase) moving the rows that go to the new shard, against
#     the raw pipe `psql -c "COPY (moving rows) TO STDOUT" | psql -c "COPY t FROM STDIN"` of the
#     same rows from both old shards in parallel, same run. Target: grant / raw >= 0.5.
#  2. the cutover's write pause with writers running (pgbench updating random rows on both old
#     shards): grant's own measure and the longest transaction pgbench saw. Target < 1 s.
#  3. grant's peak RSS copying N / 10 and N rows. Target: flat within 1.2x, under 100 MB.
# Nothing here asserts a time; it prints seconds, rows/s, ratios and peak RSS.
#
#   bench/rebalance.sh                run from anywhere after a Release build in build/
#
#   GRANT_BIN=PATH          the grant binary (default: build/grant)
#   BENCH_ROWS=N            rows in all (default 1000000, about 200 bytes each); the small size is N / 10
#   BENCH_BATCH=N           --batch-size (default 5000)
#
# Uses the servers named by GRANT_TEST_PG_SHARD0..2_URL; when GRANT_TEST_PG_SHARD0_URL is unset it
# starts its own with tests/servers.sh and stops them on exit. Needs GNU time and pgbench.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_args "$@"

readonly rows=${BENCH_ROWS:-1000000}
readonly batch=${BENCH_BATCH:-5000}
bench_need_grant
bench_positive BENCH_ROWS "$rows"
bench_positive BENCH_BATCH "$batch"
[[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time) is needed for peak RSS: apt-get install time"
command -v pgbench >/dev/null || die "pgbench is needed for the writers (postgresql-15: scripts/install-deps.sh --with-postgres)"
readonly small=$((rows / 10))

bench_start
bench_servers GRANT_TEST_PG_SHARD0_URL GRANT_TEST_PG_SHARD1_URL GRANT_TEST_PG_SHARD2_URL
bench_psql
say "grant: $grant_bin ($("$grant_bin" --version)); $(nproc) CPUs"

readonly columns="user_id bigint NOT NULL, id bigint NOT NULL, amount int NOT NULL, created timestamptz NOT NULL, payload text NOT NULL, PRIMARY KEY (user_id, id)"

# setup NAME ROWS: three fresh databases (s0, s1 old; s2 new) holding table t, ROWS rows placed by
# the old config, plus a raw target database; writes $work/NAME/{grant,target}.json.
setup() {
  local name=$1 count=$2 dir=$work/$1 i
  rebalance_shards
  local urls=("${fresh_shards[@]}")
  fresh_pg "$GRANT_TEST_PG_SHARD2_URL"
  raw_target[$name]=$fresh
  shard_urls[$name]="${urls[*]}"
  rebalance_configs "$dir" "$columns" \
    '"sharding": {"key": "user_id", "tables": ["t"], "resolver": {"type": "consistent_hash", "virtual_nodes": 160}}' \
    "${urls[@]}"
  sql "${raw_target[$name]}" -c "CREATE TABLE t ($columns)"
  # Keys 1..count, one row each; each shard gets the keys the old config gives it, and learns
  # which of them move (the raw pipe copies exactly those).
  seq 1 "$count" | "$grant_bin" --config "$dir/grant.json" shard-resolve --database bench --stdin >"$dir/old.tsv"
  seq 1 "$count" | "$grant_bin" --config "$dir/target.json" shard-resolve --database bench --stdin >"$dir/new.tsv"
  for i in 0 1; do
    awk -v s="s$i" '$2 == s { print $1 }' "$dir/old.tsv" >"$dir/keys$i"
    paste "$dir/old.tsv" "$dir/new.tsv" | awk -v s="s$i" '$2 == s && $4 != s { print $1 }' >"$dir/moving$i"
    sql "${urls[$i]}" -c "CREATE TABLE keys (user_id bigint)" -c "CREATE TABLE moving (user_id bigint PRIMARY KEY)" \
      -c "\\copy keys FROM '$dir/keys$i'" -c "\\copy moving FROM '$dir/moving$i'" \
      -c "INSERT INTO t SELECT user_id, 1, user_id % 1000, timestamptz '2026-01-01' + user_id * interval '1 second', \
repeat(md5(user_id::text), 5) FROM keys" -c "DROP TABLE keys" -c "VACUUM ANALYZE t" -c "ANALYZE moving" >/dev/null &
  done
  wait
  moving_rows[$name]=$(cat "$dir/moving0" "$dir/moving1" | wc -l)
}

declare -A raw_target=() shard_urls=() moving_rows=()
t0=$(now)
say "loading $rows rows (about 200 bytes each) over 2 shards, and $small in a second set"
setup big "$rows"
setup small "$small"
say "loaded in $(seconds_since "$t0") s; ${moving_rows[big]} rows move to the new shard"

# ---- 1. copy rate ----------------------------------------------------------------------------
read -r -a big_urls <<<"${shard_urls[big]}"
t0=$(now)
for i in 0 1; do
  "$psql" -X -q -d "${big_urls[$i]}" -c "COPY (SELECT t.* FROM t JOIN moving USING (user_id)) TO STDOUT" |
    "$psql" -X -q -d "${raw_target[big]}" -c "COPY t FROM STDIN" &
done
wait
raw_seconds=$(seconds_since "$t0")
raw_copied=$(sql "${raw_target[big]}" -c "SELECT count(*) FROM t")
((raw_copied == moving_rows[big])) || die "the raw pipe copied $raw_copied rows, not ${moving_rows[big]}"

declare -A rss=() grant_seconds=() cpu=()
for name in small big; do
  t0=$(now)
  /usr/bin/time -f '%M %U %S' -o "$work/rss" "$grant_bin" --config "$work/$name/grant.json" -q rebalance --database bench \
    --target "$work/$name/target.json" --batch-size "$batch" || die "grant rebalance (copy) failed"
  grant_seconds[$name]=$(seconds_since "$t0")
  read -r rss[$name] user_s sys_s < <(tail -n1 "$work/rss")
  cpu[$name]="user $user_s s, sys $sys_s s"
  read -r -a urls <<<"${shard_urls[$name]}"
  copied=$(sql "${urls[2]}" -c "SELECT count(*) FROM t")
  ((copied == moving_rows[$name])) || die "grant copied $copied rows to s2, not ${moving_rows[$name]}"
done

# ---- 2. cutover pause with writers -----------------------------------------------------------
# pgbench updates random keys that stay on their shard (a moved key is refused after cutover,
# which would stop a pgbench client), two clients per old shard, while the cutover runs.
for i in 0 1; do
  sql "${big_urls[$i]}" -c "CREATE TABLE staying AS SELECT user_id FROM t WHERE user_id NOT IN (SELECT user_id FROM moving) LIMIT 50000"
  sql "${big_urls[$i]}" -c "ALTER TABLE staying ADD COLUMN n serial PRIMARY KEY"
  printf '\\set n random(1, 50000)\nUPDATE t SET amount = amount + 1 WHERE user_id = (SELECT user_id FROM staying WHERE n = :n);\n' \
    >"$work/writer$i.sql"
  (cd "$work" && pgbench -n -c 2 -T 8 -l --log-prefix="txlog$i" -f "$work/writer$i.sql" "${big_urls[$i]}" \
    >"$work/pgbench$i.out" 2>&1) &
done
sleep 3
"$grant_bin" --config "$work/big/grant.json" --json rebalance --database bench --target "$work/big/target.json" \
  --cutover >"$work/cutover.json" 2>/dev/null || die "grant rebalance --cutover failed"
wait
pause_ms=$(python3 -c 'import json,sys; print("%.1f" % json.load(open(sys.argv[1]))["max_pause_ms"])' "$work/cutover.json")
# pgbench -l: "client tx latency_us script epoch epoch_us" per transaction.
cat "$work"/txlog* >"$work/transactions" || die "pgbench wrote no transaction log: $(cat "$work"/pgbench*.out)"
writer_max_ms=$(awk '$3 > m { m = $3 } END { printf "%.1f", m / 1000 }' "$work/transactions")
writer_tx=$(wc -l <"$work/transactions")

# ---- report ----------------------------------------------------------------------------------
printf '\ngrant rebalance: 2 -> 3 shards (consistent_hash), %s rows of about 200 bytes, batch %s\n\n' "$rows" "$batch"
row() { printf '%-60s %9s %12s %12s   %s\n' "$@"; }
row "case" "seconds" "rows/s" "peak RSS" "grant / raw"
row "raw: psql COPY TO | psql COPY FROM, the ${moving_rows[big]} moving rows" "$raw_seconds" \
  "$(per_second "${moving_rows[big]}" "$raw_seconds")" "" ""
row "grant rebalance (copy), ${moving_rows[big]} of $rows rows move" "${grant_seconds[big]}" \
  "$(per_second "${moving_rows[big]}" "${grant_seconds[big]}")" "${rss[big]} KiB" "$(ratio "$raw_seconds" "${grant_seconds[big]}")"
row "grant rebalance (copy), ${moving_rows[small]} of $small rows move" "${grant_seconds[small]}" \
  "$(per_second "${moving_rows[small]}" "${grant_seconds[small]}")" "${rss[small]} KiB" ""
printf '\ngrant CPU: %s rows: %s; %s rows: %s\n' "$rows" "${cpu[big]}" "$small" "${cpu[small]}"
printf '\ncutover with 4 pgbench writers: grant write pause %s ms; longest writer transaction %s ms (%s transactions)\n' \
  "$pause_ms" "$writer_max_ms" "$writer_tx"
printf 'targets: copy grant / raw >= 0.5; pause < 1000 ms; peak RSS %s and %s rows within 1.2x (%sx), < 100 MB\n' \
  "$small" "$rows" "$(ratio "${rss[big]}" "${rss[small]}")"
