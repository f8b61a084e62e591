#!/usr/bin/env bash
# Scatter-gather streaming (issue 9 figure): `grant query --all-shards` printing every row of a
# table spread over 4 shards to /dev/null, against `psql -c "COPY (SELECT ...) TO STDOUT"` on the
# same 4 shards in parallel, same run; and grant's peak memory at two sizes, which stays flat when
# the rows stream (a loaded result would grow tenfold). Nothing here asserts a time or a size; it
# prints seconds, rows/s, ratios and peak RSS. Targets: grant / raw >= 0.5; peak RSS flat.
#
#   bench/query.sh                    run from anywhere after a Release build in build/
#
#   GRANT_BIN=PATH          the grant binary (default: build/grant)
#   BENCH_ROWS=N            rows in all (default 1000000); the small size is N / 10
#   BENCH_RUNS=N            runs per case (default 3); the median is reported
#
# grant prints CSV (--format csv) and psql COPY prints CSV (FORMAT csv), so both sides format the
# same bytes; json and table runs are reported beside them. Uses the servers named by
# GRANT_TEST_PG_SHARD0..3_URL; when GRANT_TEST_PG_SHARD0_URL is unset it starts its own with
# tests/servers.sh and stops them on exit. Needs GNU time (/usr/bin/time) for peak RSS.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_args "$@"

readonly rows=${BENCH_ROWS:-1000000}
readonly runs=${BENCH_RUNS:-3}
bench_need_grant
bench_positive BENCH_ROWS "$rows"
bench_positive BENCH_RUNS "$runs"
[[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time) is needed for peak RSS: apt-get install time"
readonly small=$((rows / 10))

bench_start
bench_servers GRANT_TEST_PG_SHARD0_URL GRANT_TEST_PG_SHARD1_URL GRANT_TEST_PG_SHARD2_URL GRANT_TEST_PG_SHARD3_URL
bench_psql

# ---- data ------------------------------------------------------------------------------------
shards=()
for i in 0 1 2 3; do
  var=GRANT_TEST_PG_SHARD${i}_URL
  fresh_pg "${!var}"
  shards+=("$fresh")
done
cat >"$work/grant.json" <<EOF
{"databases": {"bench": {"shards": [
    {"name": "s0", "url": "\${BENCH_S0}"}, {"name": "s1", "url": "\${BENCH_S1}"},
    {"name": "s2", "url": "\${BENCH_S2}"}, {"name": "s3", "url": "\${BENCH_S3}"}],
    "sharding": {"key": "id", "resolver": {"type": "modulo"}}}}}
EOF
export BENCH_S0=${shards[0]} BENCH_S1=${shards[1]} BENCH_S2=${shards[2]} BENCH_S3=${shards[3]}

say "grant: $grant_bin ($("$grant_bin" --version)); $(nproc) CPUs"
say "loading $rows rows over 4 shards (table big) and $small (table small)"
t0=$(now)
columns="id bigint, qty int, price numeric(12,2), name text, created timestamptz, note text"
fill() { # fill TABLE ROWS_PER_SHARD SHARD
  printf "INSERT INTO %s SELECT 4 * g + %s, g %% 1000, (g %% 100000) / 100.0, 'customer-' || g, \
timestamptz '2026-01-01' + g * interval '1 second', CASE WHEN g %% 5 = 0 THEN NULL ELSE 'note, \"quoted\"' END \
FROM generate_series(0, %s) g" "$1" "$3" "$(($2 - 1))"
}
for i in 0 1 2 3; do
  sql "${shards[$i]}" -c "CREATE TABLE big ($columns)" -c "CREATE TABLE small ($columns)" \
    -c "$(fill big $((rows / 4)) "$i")" -c "$(fill small $((small / 4)) "$i")" \
    -c "VACUUM ANALYZE big" -c "VACUUM ANALYZE small" >/dev/null &
done
wait
say "loaded in $(seconds_since "$t0") s"

grant() { "$grant_bin" --config "$work/grant.json" "$@"; }
# Outside the timed runs: grant prints every row, and the same bytes as COPY for one shard.
got=$(grant query --database bench --all-shards --format csv "SELECT * FROM small" | wc -l)
((got == small + 1)) || die "grant query printed $got lines for $small rows"
grant query --database bench --shard s2 --format csv "SELECT * FROM small ORDER BY id" | tail -n +2 | tr -d '\r' >"$work/grant.csv"
sql "${shards[2]}" -c "COPY (SELECT * FROM small ORDER BY id) TO STDOUT (FORMAT csv)" >"$work/copy.csv"
cmp -s "$work/grant.csv" "$work/copy.csv" || die "grant's CSV differs from COPY's: diff $work/grant.csv $work/copy.csv"

# ---- runs ------------------------------------------------------------------------------------
raw_parallel() { # raw_parallel TABLE
  local i
  for i in 0 1 2 3; do
    "$psql" -X -q -d "${shards[$i]}" -c "COPY (SELECT * FROM $1) TO STDOUT (FORMAT csv)" >/dev/null &
  done
  wait
}
declare -A rss=()
# grant_run KEY TABLE FORMAT: one timed run, its peak RSS (KiB) recorded too.
grant_run() {
  local t0
  t0=$(now)
  /usr/bin/time -f '%M' -o "$work/rss" "$grant_bin" --config "$work/grant.json" query --database bench --all-shards \
    --format "$3" "SELECT * FROM $2" >/dev/null || die "grant query failed"
  samples[$1]+="$(seconds_since "$t0") "
  rss[$1]+="$(tail -n1 "$work/rss") "
}

for ((run = 1; run <= runs; run++)); do
  say "run $run/$runs"
  t0=$(now)
  raw_parallel big
  samples[raw_big]+="$(seconds_since "$t0") "
  grant_run csv_big big csv
  grant_run json_big big json
  grant_run table_big big table
  grant_run csv_small small csv
done

# ---- report ----------------------------------------------------------------------------------
printf '\ngrant query --all-shards: %s rows over 4 shards to /dev/null, %s runs, median\n\n' "$rows" "$runs"
row() { printf '%-46s %9s %12s %12s   %s\n' "$@"; }
row "case" "seconds" "rows/s" "peak RSS" "grant / raw"
raw=$(median "${samples[raw_big]}" 4)
row "raw: psql COPY (FORMAT csv), 4 shards in parallel" "$raw" "$(per_second "$rows" "$raw")" "" ""
for format in csv json table; do
  t=$(median "${samples[${format}_big]}" 4)
  row "grant query --all-shards --format $format" "$t" "$(per_second "$rows" "$t")" \
    "$(median "${rss[${format}_big]}" 0) KiB" "$(ratio "$raw" "$t")"
done
t=$(median "${samples[csv_small]}" 4)
row "grant query --all-shards --format csv ($small rows)" "$t" "$(per_second "$small" "$t")" \
  "$(median "${rss[csv_small]}" 0) KiB" ""
printf '\ntargets: grant / raw >= 0.5 (csv against COPY csv); peak RSS flat between %s and %s rows (%s)\n' \
  "$small" "$rows" "$(ratio "$(median "${rss[csv_big]}" 0)" "$(median "${rss[csv_small]}" 0)")x"
printf '\nraw seconds per run:\n'
for key in "${!samples[@]}"; do
  printf '  %-12s %s\n' "$key" "${samples[$key]}"
done | sort
