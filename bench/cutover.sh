#!/usr/bin/env bash
# Cutover write pause (issue 20 figures): what `grant rebalance --cutover` costs the writers of
# the table it moves, against the same writers without a cutover, measured in the same run.
#
# Shape: a 2-shard consistent_hash database (s0, s1) gains a third shard (s2); table t holds
# BENCH_ROWS rows. 4 pgbench writers (2 clients on each old shard, `pgbench -n -c 2 -T SECONDS -l`)
# run a mix of 3 updates of random rows to 1 insert of a new row, all of keys that stay on their
# shard under the target config (a moved key is refused after cutover, which would stop a
# pgbench client), BENCH_RATE transactions per second on each shard. After the copy phase, each run times:
#  - baseline: the writers for BENCH_SECONDS, no rebalance statement running;
#  - cutover: the same writers for BENCH_SECONDS, `grant rebalance --cutover` started a fifth of
#    the way in (the copy is re-run just before, untimed, so both start from the same backlog).
# Figure 1 (plain): the longest writer transaction of the cutover run minus that of the baseline
# run. Target: <= 250 ms more.
# Figure 2 (stalled): the same with s2 behind `grant-fault-proxy --stall 'PREPARE TRANSACTION'`
# (the new shard goes silent at the cutover's PREPARE TRANSACTION) and --cutover-timeout
# BENCH_CUTOVER_TIMEOUT: the cutover gives up (exit 3) and the longest writer transaction must
# stay within the timeout + 1 s. The cutover is then re-run (untimed): it must finish, and no
# server may hold a prepared transaction.
# Nothing here asserts a time; it prints milliseconds and differences.
#
#   bench/cutover.sh                  run from anywhere after a Release build in build/
#
#   GRANT_BIN=PATH              the grant binary (default: build/grant)
#   PROXY_BIN=PATH              grant-fault-proxy (default: build/tests/grant-fault-proxy)
#   BENCH_ROWS=N                rows of t (default 200000, about 200 bytes each)
#   BENCH_RATE=N                transactions per second on each old shard (default 100, pgbench -R;
#                               the latency pgbench logs then counts from the scheduled start, so a
#                               blocked write delays the ones queued behind it too). At full speed
#                               the cutover's catch-up outside the write block does not converge
#                               while the writers run (it stops below 1000 changes per round)
#   BENCH_SECONDS=N             writer run length, both runs of a case (default 10); the cutover
#                               (its catch-up outside the write block included) must end within it
#   BENCH_RUNS=N                runs per case (default 3), each on fresh databases
#   BENCH_CUTOVER_TIMEOUT=S     --cutover-timeout of the stalled case (default 2)
#   BENCH_CASES="plain stalled" which cases to run
#
# Uses the servers named by GRANT_TEST_PG_SHARD0..2_URL; when GRANT_TEST_PG_SHARD0_URL is unset it
# starts its own with tests/servers.sh and stops them on exit. Needs pgbench (GRANT_TEST_PG_BIN or
# PATH) and python3.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_args "$@"

readonly rows=${BENCH_ROWS:-200000}
readonly seconds=${BENCH_SECONDS:-10}
readonly rate=${BENCH_RATE:-100}
readonly runs=${BENCH_RUNS:-3}
readonly stall_timeout=${BENCH_CUTOVER_TIMEOUT:-2}
readonly cases=${BENCH_CASES:-plain stalled}
proxy_bin=${PROXY_BIN:-$repo/build/tests/grant-fault-proxy}
bench_need_grant
bench_positive BENCH_ROWS "$rows"
bench_positive BENCH_SECONDS "$seconds"
bench_positive BENCH_RATE "$rate"
bench_positive BENCH_RUNS "$runs"
bench_positive BENCH_CUTOVER_TIMEOUT "$stall_timeout"
for name in $cases; do
  [[ $name == plain || $name == stalled ]] || die "BENCH_CASES: unknown case '$name' (plain, stalled)"
done
if [[ " $cases " == *" stalled "* ]]; then
  [[ -x $proxy_bin ]] || die "no grant-fault-proxy at $proxy_bin: cmake --build build --target grant_fault_proxy, or set PROXY_BIN"
fi
command -v python3 >/dev/null || die "python3 is needed to read grant's JSON"

bench_start
bench_servers GRANT_TEST_PG_SHARD0_URL GRANT_TEST_PG_SHARD1_URL GRANT_TEST_PG_SHARD2_URL
bench_psql
pgbench=${GRANT_TEST_PG_BIN:+$GRANT_TEST_PG_BIN/pgbench}
[[ -n $pgbench && -x $pgbench ]] || pgbench=$(command -v pgbench) || die "pgbench not found (set GRANT_TEST_PG_BIN)"

proxy_pid=
stop_proxy() {
  if [[ -n $proxy_pid ]]; then
    kill "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
    proxy_pid=
  fi
}
bench_exit_hooks+=(stop_proxy)

readonly columns="user_id bigint NOT NULL, id bigint NOT NULL, amount int NOT NULL, created timestamptz NOT NULL, payload text NOT NULL, PRIMARY KEY (user_id, id)"
readonly sharding='"sharding": {"key": "user_id", "tables": ["t"], "resolver": {"type": "consistent_hash", "virtual_nodes": 160}}'

# setup DIR STALLED: three fresh databases (s0, s1 old; s2 new), t loaded and copied; with
# STALLED=1 the target config reaches s2 through the fault proxy. Sets urls.
urls=()
setup() {
  local dir=$1 stalled=$2 i s2 loaders=()
  rm -rf "$dir"
  mkdir -p "$dir"
  rebalance_shards
  urls=("${fresh_shards[@]}")
  s2=${urls[2]}
  if ((stalled)); then
    coproc proxy_out { exec "$proxy_bin" "${urls[2]}" --stall 'PREPARE TRANSACTION' --times 1 2>"$dir/proxy.err"; }
    # shellcheck disable=SC2154 # set by coproc
    proxy_pid=$proxy_out_PID
    read -r s2 <&"${proxy_out[0]}" || die "grant-fault-proxy did not start: $(cat "$dir/proxy.err")"
  fi
  rebalance_configs "$dir" "$columns" "$sharding" "${urls[0]}" "${urls[1]}" "$s2"
  # Keys 1..rows exist; keys above are new ones for the inserts. The writers use only keys whose
  # shard is the same under both configs.
  local extra=$((rows / 4))
  seq 1 $((rows + extra)) | "$grant_bin" --config "$dir/grant.json" shard-resolve --database bench --stdin >"$dir/old.tsv"
  seq 1 $((rows + extra)) | "$grant_bin" --config "$dir/target.json" shard-resolve --database bench --stdin >"$dir/new.tsv"
  for i in 0 1; do
    awk -v s="s$i" -v n="$rows" '$1 <= n && $2 == s { print $1 }' "$dir/old.tsv" >"$dir/keys$i"
    paste "$dir/old.tsv" "$dir/new.tsv" | awk -v s="s$i" -v n="$rows" '$2 == s && $4 == s { print $1 > ($1 <= n ? "'"$dir/staying$i"'" : "'"$dir/fresh$i"'") }'
    sql "${urls[$i]}" -c "CREATE TABLE keys (user_id bigint)" -c "\\copy keys FROM '$dir/keys$i'" \
      -c "INSERT INTO t SELECT user_id, 1, user_id % 1000, timestamptz '2026-01-01' + user_id * interval '1 second', \
repeat(md5(user_id::text), 5) FROM keys" -c "DROP TABLE keys" \
      -c "CREATE TABLE staying (n serial PRIMARY KEY, user_id bigint NOT NULL)" -c "\\copy staying (user_id) FROM '$dir/staying$i'" \
      -c "CREATE TABLE fresh (n serial PRIMARY KEY, user_id bigint NOT NULL)" -c "\\copy fresh (user_id) FROM '$dir/fresh$i'" \
      -c "CREATE SEQUENCE new_ids START 1000000" -c "VACUUM ANALYZE t" -c "ANALYZE staying" -c "ANALYZE fresh" >/dev/null &
    loaders+=($!)
  done
  for i in "${loaders[@]}"; do
    wait "$i" || die "loading t failed"
  done
  for i in 0 1; do
    local staying fresh_keys
    staying=$(wc -l <"$dir/staying$i")
    fresh_keys=$(wc -l <"$dir/fresh$i")
    printf '\\set n random(1, %d)\nUPDATE t SET amount = amount + 1 WHERE user_id = (SELECT user_id FROM staying WHERE n = :n);\n' \
      "$staying" >"$dir/update$i.sql"
    printf '\\set n random(1, %d)\nINSERT INTO t VALUES ((SELECT user_id FROM fresh WHERE n = :n), nextval('\''new_ids'\''), 1, now(), '\''new'\'');\n' \
      "$fresh_keys" >"$dir/insert$i.sql"
  done
  "$grant_bin" --config "$dir/grant.json" -q rebalance --database bench --target "$dir/target.json" ||
    die "grant rebalance (copy) failed"
}

# writers DIR TAG: starts the 4 writers for $seconds in the background; `wait` ends them.
writer_pids=()
writers() {
  local dir=$1 tag=$2 i
  writer_pids=()
  for i in 0 1; do
    (cd "$dir" && exec "$pgbench" -n -c 2 -R "$rate" -T "$seconds" -l --log-prefix="$tag-log$i" \
      -f "$dir/update$i.sql@3" -f "$dir/insert$i.sql@1" "${urls[$i]}" >"$dir/$tag$i.out" 2>&1) &
    writer_pids+=($!)
  done
}

wait_writers() { # DIR TAG
  local pid failed=0
  for pid in "${writer_pids[@]}"; do
    wait "$pid" || failed=1
  done
  ((failed == 0)) || die "a pgbench writer failed: $(cat "$1/$2"*.out)"
  grep -h 'aborted' "$1/$2"*.out >&2 && die "a pgbench client aborted (see above)"
  cat "$1/$2-log"[01].* >"$1/$2.tx" 2>/dev/null || die "pgbench wrote no transaction log: $(cat "$1/$2"*.out)"
}

# pgbench -l lines: "client tx latency_us script end_epoch end_us lag_us". Prints the longest latency in
# ms and the transaction count; with FROM TO (epoch seconds) only the transactions that overlap.
longest() { # FILE [FROM TO]
  awk -v from="${2:-}" -v to="${3:-}" '{
    end = $5 + $6 / 1e6; start = end - $3 / 1e6
    if (from == "" || (start < to + 0 && end > from + 0)) { n++; if ($3 > m) m = $3 } } END { printf "%.1f %d", m / 1000, n }' "$1"
}

declare -A results=() # "case run" -> "baseline_ms cutover_ms window_ms grant_pause_ms exit tx_base tx_cut"
one_run() { # CASE RUN
  local name=$1 run=$2 dir=$work/$1$2 stalled=0 timeout_flags=()
  [[ $name == stalled ]] && stalled=1 && timeout_flags=(--cutover-timeout "$stall_timeout")
  setup "$dir" "$stalled"
  writers "$dir" base
  wait_writers "$dir" base
  "$grant_bin" --config "$dir/grant.json" -q rebalance --database bench --target "$dir/target.json" ||
    die "grant rebalance (copy, catching up) failed"
  writers "$dir" cut
  local t0 t1 code=0 writers_end
  writers_end=$(awk -v t="$(now)" -v s="$seconds" 'BEGIN { printf "%.3f", t + s }')
  sleep "$(awk -v s="$seconds" 'BEGIN { print s / 5 }')"
  t0=$(now)
  "$grant_bin" --config "$dir/grant.json" --json rebalance --database bench --target "$dir/target.json" \
    --cutover "${timeout_flags[@]}" >"$dir/cutover.json" 2>"$dir/cutover.err" || code=$?
  t1=$(now)
  wait_writers "$dir" cut
  awk -v a="$t1" -v b="$writers_end" 'BEGIN { exit !(a < b - 0.5) }' ||
    die "$name run $run: the cutover ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s) outlasted the writers: raise BENCH_SECONDS"
  local pause=n/a
  if ((code == 0)); then
    pause=$(python3 -c 'import json,sys; print("%.1f" % json.load(open(sys.argv[1]))["max_pause_ms"])' "$dir/cutover.json")
  fi
  if ((stalled)); then
    ((code == 3)) || die "the stalled cutover exited $code, not 3: $(cat "$dir/cutover.err")"
    # The proxy stalled once: the re-run goes through and must converge.
    "$grant_bin" --config "$dir/grant.json" -q rebalance --database bench --target "$dir/target.json" --cutover \
      >"$dir/rerun.out" 2>&1 || die "the re-run of the stalled cutover failed: $(cat "$dir/rerun.out")"
    stop_proxy
  else
    ((code == 0)) || die "grant rebalance --cutover exited $code: $(cat "$dir/cutover.err")"
  fi
  local i left
  for i in 0 1 2; do
    left=$(sql "${urls[$i]}" -c "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()")
    [[ $left == 0 ]] || die "$name run $run: s$i holds $left prepared transactions"
  done
  local base cut window
  base=$(longest "$dir/base.tx")
  cut=$(longest "$dir/cut.tx")
  window=$(longest "$dir/cut.tx" "$t0" "$t1")
  results["$name $run"]="${base%% *} ${cut%% *} ${window%% *} $pause $code ${base##* } ${cut##* } $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }')"
  say "$name run $run: baseline ${base%% *} ms, cutover run ${cut%% *} ms (overlapping the cutover ${window%% *} ms), grant pause $pause ms, exit $code"
  ((code == 0)) || grep -m1 'error' "$dir/cutover.err" | sed 's/^/    /' >&2
  drop_pg "$GRANT_TEST_PG_SHARD0_URL" "${urls[0]}"
  drop_pg "$GRANT_TEST_PG_SHARD1_URL" "${urls[1]}"
  drop_pg "$GRANT_TEST_PG_SHARD2_URL" "${urls[2]}"
  rm -rf "$dir"
}

say "grant: $grant_bin ($("$grant_bin" --version)); $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "$rows rows, 4 writers ($rate tx/s per old shard) for $seconds s per case, $runs runs; cases: $cases"
for ((run = 1; run <= runs; run++)); do
  for name in $cases; do
    one_run "$name" "$run"
  done
done

# ---- report ----------------------------------------------------------------------------------
field() { # CASE N: the Nth field of every run, space-separated
  local run out=
  for ((run = 1; run <= runs; run++)); do
    read -r -a f <<<"${results["$1 $run"]}"
    out+="${f[$2]} "
  done
  printf '%s' "$out"
}
diffs() { # CASE: cutover-run longest minus baseline longest, per run
  local run out=
  for ((run = 1; run <= runs; run++)); do
    read -r -a f <<<"${results["$1 $run"]}"
    out+="$(awk -v a="${f[1]}" -v b="${f[0]}" 'BEGIN { printf "%.1f", a - b }') "
  done
  printf '%s' "$out"
}

printf '\ncutover with 4 pgbench writers (3 updates : 1 insert, keys that stay, %s tx/s per old shard), %s rows, %s s per case, %s runs\n' \
  "$rate" "$rows" "$seconds" "$runs"
printf 'load average at the end: %s\n\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
row() { printf '%-58s %9s %9s   %s\n' "$@"; }
row "longest writer transaction, ms" "median" "best" "per run"
for name in $cases; do
  label=$name
  [[ $name == stalled ]] && label="stalled s2 at PREPARE, --cutover-timeout ${stall_timeout}s"
  row "$label: baseline (no rebalance)" "$(median "$(field "$name" 0)" 1)" "$(minimum "$(field "$name" 0)" 1)" "$(field "$name" 0)"
  row "$label: during the cutover run" "$(median "$(field "$name" 1)" 1)" "$(minimum "$(field "$name" 1)" 1)" "$(field "$name" 1)"
  row "$label: cutover run - baseline" "$(median "$(diffs "$name")" 1)" "$(minimum "$(diffs "$name")" 1)" "$(diffs "$name")"
  row "$label: grant's own pause (max_pause_ms)" "" "" "$(field "$name" 3)"
  row "$label: grant --cutover wall ms" "" "" "$(field "$name" 7)"
  row "$label: transactions baseline / cutover run" "" "" "$(field "$name" 5)/ $(field "$name" 6)"
done
if [[ " $cases " == *" plain "* ]]; then
  med=$(median "$(diffs plain)" 1)
  printf '\ntarget (plain): cutover run - baseline <= 250 ms on the median: %s (%s ms)\n' \
    "$(awk -v d="$med" 'BEGIN { print (d <= 250) ? "met" : "NOT met" }')" "$med"
fi
if [[ " $cases " == *" stalled "* ]]; then
  bound=$(((stall_timeout + 1) * 1000))
  worst=$(tr ' ' '\n' <<<"$(field stalled 1)" | grep -v '^$' | sort -g | tail -n1)
  printf 'target (stalled): longest writer transaction <= --cutover-timeout + 1 s = %s ms in every run: %s (worst %s ms)\n' \
    "$bound" "$(awk -v w="$worst" -v b="$bound" 'BEGIN { print (w <= b) ? "met" : "NOT met" }')" "$worst"
fi
