#!/usr/bin/env bash
# shard-check placement scan rate (issue 4 figure): `grant shard-check` streaming the shard key of
# a table with N rows on each of 4 shards, against the raw rate of
# `psql -c "COPY (SELECT user_id FROM t) TO STDOUT" > /dev/null` on the same tables, same run.
# Nothing here asserts a time; it prints rows/s and ratios. Target: grant / raw >= 0.5.
#
#   bench/shard_scan.sh               run from anywhere after a Release build in build/
#
#   GRANT_BIN=PATH          the grant binary (default: build/grant)
#   BENCH_ROWS_PER_SHARD=N  rows per shard (default 1000000)
#   BENCH_RUNS=N            runs per case (default 3); the median is reported
#
# Two tables, each on all 4 shards with every row on the right shard: t_modulo under a modulo
# resolver (user_id = 4*g + shard, placed in SQL) and t_hash under a hash resolver (placed by
# `grant shard-resolve --stdin`). Uses the servers named by GRANT_TEST_PG_SHARD0..3_URL; when
# GRANT_TEST_PG_SHARD0_URL is unset it starts its own with tests/servers.sh and stops them on exit.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_args "$@"

readonly rows_per_shard=${BENCH_ROWS_PER_SHARD:-1000000}
readonly runs=${BENCH_RUNS:-3}
bench_need_grant
bench_positive BENCH_ROWS_PER_SHARD "$rows_per_shard"
bench_positive BENCH_RUNS "$runs"

bench_start
bench_servers GRANT_TEST_PG_SHARD0_URL GRANT_TEST_PG_SHARD1_URL GRANT_TEST_PG_SHARD2_URL GRANT_TEST_PG_SHARD3_URL
bench_psql

# ---- data ------------------------------------------------------------------------------------
readonly total=$((4 * rows_per_shard))
readonly payload=payload-payload-payload-payload- # 32 bytes, so rows have some width
shards=()
for i in 0 1 2 3; do
  var=GRANT_TEST_PG_SHARD${i}_URL
  fresh_pg "${!var}"
  shards+=("$fresh")
done

cat >"$work/grant.json" <<EOF
{"databases": {
  "bench_modulo": {"shards": [
    {"name": "s0", "url": "\${BENCH_S0}"}, {"name": "s1", "url": "\${BENCH_S1}"},
    {"name": "s2", "url": "\${BENCH_S2}"}, {"name": "s3", "url": "\${BENCH_S3}"}],
    "sharding": {"key": "user_id", "tables": ["t_modulo"], "resolver": {"type": "modulo"}}},
  "bench_hash": {"shards": [
    {"name": "s0", "url": "\${BENCH_S0}"}, {"name": "s1", "url": "\${BENCH_S1}"},
    {"name": "s2", "url": "\${BENCH_S2}"}, {"name": "s3", "url": "\${BENCH_S3}"}],
    "sharding": {"key": "user_id", "tables": ["t_hash"], "resolver": {"type": "hash"}}}
}}
EOF
export BENCH_S0=${shards[0]} BENCH_S1=${shards[1]} BENCH_S2=${shards[2]} BENCH_S3=${shards[3]}
grant() { "$grant_bin" --config "$work/grant.json" "$@"; }

say "grant: $grant_bin ($("$grant_bin" --version)); $(nproc) CPUs"
say "loading $rows_per_shard rows per shard into t_modulo and t_hash on 4 shards"
t0=$(now)
# t_hash: the keys 0..total-1, each on the shard grant shard-resolve names.
seq 0 $((total - 1)) | grant shard-resolve --database bench_hash --stdin |
  awk -F '\t' -v dir="$work" -v p="$payload" '{ print $1 "\t" $1 "\t" p > (dir "/hash_" substr($2, 2)) }'
for i in 0 1 2 3; do
  (
    sql "${shards[$i]}" -c "CREATE TABLE t_modulo (id bigint, user_id bigint NOT NULL, payload text)" \
      -c "INSERT INTO t_modulo SELECT g, 4 * g + $i, '$payload' FROM generate_series(0, $((rows_per_shard - 1))) g" \
      -c "CREATE TABLE t_hash (id bigint, user_id bigint NOT NULL, payload text)" \
      -c "\\copy t_hash FROM '$work/hash_$i'" \
      -c "VACUUM ANALYZE t_modulo" -c "VACUUM ANALYZE t_hash" >/dev/null
    rm -f "$work/hash_$i"
  ) &
done
wait
say "loaded in $(seconds_since "$t0") s"

# Outside the timed runs: both tables are placed right (exit 0) and hold every row.
for db in bench_modulo bench_hash; do
  grant --json shard-check --database "$db" >"$work/check.json" || die "$db: shard-check found problems: $(cat "$work/check.json")"
  grep -q "\"rows_scanned\": $total," "$work/check.json" || die "$db: shard-check did not scan $total rows"
done

# ---- runs ------------------------------------------------------------------------------------
declare -A scan=()
raw_copy() { "$psql" -X -q -d "$1" -c "COPY (SELECT user_id FROM $2) TO STDOUT" >/dev/null; }

# The cases alternate within each run so drift in machine load hits all of them alike.
for ((run = 1; run <= runs; run++)); do
  say "run $run/$runs"
  for table in t_modulo t_hash; do
    t0=$(now)
    for i in 0 1 2 3; do
      raw_copy "${shards[$i]}" "$table"
    done
    samples[raw_seq_$table]+="$(seconds_since "$t0") "

    t0=$(now)
    for i in 0 1 2 3; do
      raw_copy "${shards[$i]}" "$table" &
    done
    wait
    samples[raw_par_$table]+="$(seconds_since "$t0") "

    db=bench_${table#t_}
    t0=$(now)
    grant --json shard-check --database "$db" --table "$table" >"$work/check.json" || die "$db: shard-check failed"
    samples[grant_$table]+="$(seconds_since "$t0") "
    scan[grant_$table]+="$(sed -n 's/.*"scan_seconds": \([0-9.e+-]*\).*/\1/p' "$work/check.json") "
  done
done

# ---- report ----------------------------------------------------------------------------------
printf '\nshard-check placement scan: %s rows per shard x 4 shards (%s rows), %s runs, median wall seconds\n\n' \
  "$rows_per_shard" "$total" "$runs"
row() { printf '%-10s %-44s %9s %12s   %s\n' "$@"; }
row "table" "case" "seconds" "rows/s" "grant / raw"
for table in t_modulo t_hash; do
  raw_seq=$(median "${samples[raw_seq_$table]}" 4)
  raw_par=$(median "${samples[raw_par_$table]}" 4)
  whole=$(median "${samples[grant_$table]}" 4)
  inner=$(median "${scan[grant_$table]}" 4)
  row "$table" "raw psql COPY, 4 shards one after another" "$raw_seq" "$(per_second "$total" "$raw_seq")" ""
  row "" "raw psql COPY, 4 shards in parallel" "$raw_par" "$(per_second "$total" "$raw_par")" ""
  row "" "grant shard-check (whole process)" "$whole" "$(per_second "$total" "$whole")" \
    "$(ratio "$raw_par" "$whole") of parallel, $(ratio "$raw_seq" "$whole") of sequential"
  row "" "grant shard-check (scan phase: scan_seconds)" "$inner" "$(per_second "$total" "$inner")" ""
done
printf '\ntarget: grant / raw >= 0.5 (rates; shard-check scans the shards in parallel, so the\nparallel raw run is the like-for-like baseline)\n'
printf '\nraw seconds per run:\n'
for key in "${!samples[@]}"; do
  printf '  %-20s %s\n' "$key" "${samples[$key]}"
done | sort
