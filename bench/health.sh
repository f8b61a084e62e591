#!/usr/bin/env bash
# Health check benchmark (issue 8 figures): wall time of one whole `grant health` process over 16
# endpoints, beside the same 16 endpoints checked one by one with `pg_isready`, in the same run:
#
#   hung     16 endpoints of which 4 accept TCP and never answer (grant-fault-proxy --silent):
#            `grant health --timeout 1000` / 16 sequential `pg_isready -t 1`  (target: grant <= 1.3 s)
#   healthy  16 healthy endpoints (a writer with 3 replica entries, 3 databases of 4 shards):
#            `grant health` / 16 sequential `pg_isready`                    (target: grant < 150 ms)
#
# pg_isready only asks the server whether it accepts connections (no login, no query); grant opens
# an authenticated session on each endpoint and reads its facts, in parallel. libpq waits at least
# 2 s for a silent server whatever -t says (a connect_timeout of 1 counts as 2). It also times
# `grant health` on the writer alone and `grant --version` (the start-up cost of the process), and,
# untimed, where the time of a healthy check goes: each endpoint's connect and statements as grant
# measures them (its Prometheus output). The cases alternate within a run and their
# order rotates from run to run. Nothing here asserts a time: the targets are reported, met or not.
#
#   bench/health.sh                   run from anywhere after a Release build in build/
#
#   GRANT_BIN=PATH          the grant binary (default: build/grant)
#   GRANT_FAULT_PROXY=PATH  the tests' grant-fault-proxy (default: the one beside GRANT_BIN, tests/)
#   BENCH_RUNS=N            runs per case (default 5); median and best are reported
#
# Uses the PostgreSQL servers named by GRANT_TEST_PG_WRITER_URL, _REPLICA_URL and _SHARD0..3_URL;
# when GRANT_TEST_PG_WRITER_URL is unset it starts its own with tests/servers.sh and stops them on
# exit. Needs pg_isready (from $GRANT_TEST_PG_BIN or PATH).

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_args "$@"

readonly runs=${BENCH_RUNS:-5}
bench_need_grant
bench_positive BENCH_RUNS "$runs"

proxy=${GRANT_FAULT_PROXY:-$(dirname "$grant_bin")/tests/grant-fault-proxy}
[[ -x $proxy ]] || die "no grant-fault-proxy at $proxy: build it (cmake --build build --target grant_fault_proxy, needs -DGRANT_TESTS=ON) or set GRANT_FAULT_PROXY"

bench_start
bench_servers GRANT_TEST_PG_WRITER_URL GRANT_TEST_PG_REPLICA_URL GRANT_TEST_PG_SHARD0_URL \
  GRANT_TEST_PG_SHARD1_URL GRANT_TEST_PG_SHARD2_URL GRANT_TEST_PG_SHARD3_URL
if [[ -n ${GRANT_TEST_PG_BIN:-} && -x $GRANT_TEST_PG_BIN/pg_isready ]]; then
  pg_isready=$GRANT_TEST_PG_BIN/pg_isready
else
  pg_isready=$(command -v pg_isready) || die "pg_isready not found (set GRANT_TEST_PG_BIN)"
fi

# ---- the hung endpoints ----------------------------------------------------------------------
proxy_pid=
stop_proxy() { [[ -z $proxy_pid ]] || kill "$proxy_pid" 2>/dev/null || true; }
bench_exit_hooks+=(stop_proxy)
: >"$work/silent.txt" # exists before the background job gets to its redirection
"$proxy" --silent 4 >>"$work/silent.txt" 2>"$work/proxy.log" &
proxy_pid=$!
for ((i = 0; i < 100; i++)); do
  (($(wc -l <"$work/silent.txt") == 4)) && break
  kill -0 "$proxy_pid" 2>/dev/null || { cat "$work/proxy.log" >&2; die "grant-fault-proxy --silent exited"; }
  sleep 0.05
done
mapfile -t silent <"$work/silent.txt"
((${#silent[@]} == 4)) || die "grant-fault-proxy --silent printed ${#silent[@]} URLs, expected 4"

# ---- configs: the URLs come from the environment (${VAR}), so no password is written ---------
shards() { # "name url" pairs -> a shards array
  local out='' name url
  while (($#)); do
    name=$1 url=$2
    shift 2
    out+="${out:+, }{\"name\": \"$name\", \"url\": \"$url\"}"
  done
  printf '[%s]' "$out"
}
# shellcheck disable=SC2016 # ${VAR} is for grant's config interpolation, not the shell
test_shards=$(shards s0 '${GRANT_TEST_PG_SHARD0_URL}' s1 '${GRANT_TEST_PG_SHARD1_URL}' \
  s2 '${GRANT_TEST_PG_SHARD2_URL}' s3 '${GRANT_TEST_PG_SHARD3_URL}')
silent_shards=$(shards s0 "${silent[0]}" s1 "${silent[1]}" s2 "${silent[2]}" s3 "${silent[3]}")
write_config() { # FILE USERS_SHARDS
  cat >"$1" <<EOF
{"databases": {
  "analytics": {"url": "\${GRANT_TEST_PG_WRITER_URL}", "replicas": [
    {"name": "r1", "url": "\${GRANT_TEST_PG_REPLICA_URL}"}, {"name": "r2", "url": "\${GRANT_TEST_PG_REPLICA_URL}"},
    {"name": "r3", "url": "\${GRANT_TEST_PG_REPLICA_URL}"}]},
  "orders": {"shards": $test_shards},
  "events": {"shards": $test_shards},
  "users": {"shards": $2}}}
EOF
}
write_config "$work/healthy.json" "$test_shards"
cat >"$work/single.json" <<'EOF'
{"databases": {"analytics": {"url": "${GRANT_TEST_PG_WRITER_URL}"}}}
EOF
write_config "$work/hung.json" "$silent_shards"

# The same 16 endpoints as host:port, in config order, for pg_isready.
port_of() { local rest=${1#*@*:}; printf '%s' "${rest%%/*}"; }
healthy_ports=() hung_ports=()
for var in WRITER REPLICA REPLICA REPLICA SHARD0 SHARD1 SHARD2 SHARD3 SHARD0 SHARD1 SHARD2 SHARD3; do
  url_var=GRANT_TEST_PG_${var}_URL
  healthy_ports+=("$(port_of "${!url_var}")")
done
hung_ports=("${healthy_ports[@]}")
for var in SHARD0 SHARD1 SHARD2 SHARD3; do
  url_var=GRANT_TEST_PG_${var}_URL
  healthy_ports+=("$(port_of "${!url_var}")")
done
for url in "${silent[@]}"; do
  hung_ports+=("$(port_of "$url")")
done

# ---- the cases -------------------------------------------------------------------------------
# Each succeeds only when it saw what the case is built to show (outside the timed section
# nothing is parsed: the checks read what the timed run printed).
grant_health() { # CONFIG EXPECTED_EXIT [FLAGS...]
  local config=$1 expected=$2 rc=0
  shift 2
  "$grant_bin" --config "$config" health --format json "$@" >"$work/health.json" || rc=$?
  [[ $rc == "$expected" ]] || { echo "grant health exited $rc, expected $expected" >&2; return 1; }
}
run_grant_hung() { grant_health "$work/hung.json" 1 --timeout 1000; }
run_grant_healthy() { grant_health "$work/healthy.json" 0; }
run_grant_single() { grant_health "$work/single.json" 0; }
isready_all() { # SECONDS EXPECTED_DOWN PORT...
  local timeout=$1 expected=$2 port down=0
  shift 2
  for port in "$@"; do
    "$pg_isready" -q -h 127.0.0.1 -p "$port" -t "$timeout" || down=$((down + 1))
  done
  [[ $down == "$expected" ]] || { echo "pg_isready: $down endpoints not ready, expected $expected" >&2; return 1; }
}
run_isready_hung() { isready_all 1 4 "${hung_ports[@]}"; }
run_isready_healthy() { isready_all 3 0 "${healthy_ports[@]}"; }
run_version() { "$grant_bin" --version; }

check_hung_report() {
  local timeouts healthy
  timeouts=$(grep -c '"kind": "timeout"' "$work/health.json" || true)
  healthy=$(grep -c '"status": "healthy"' "$work/health.json" || true)
  [[ $timeouts == 4 && $healthy == 12 ]] || die "the hung run reported $timeouts timeouts and $healthy healthy endpoints, expected 4 and 12"
}

say "grant:      $grant_bin ($("$grant_bin" --version))"
say "pg_isready: $pg_isready ($("$pg_isready" --version))"
say "16 endpoints, $runs runs per case, $(nproc) CPUs"

# An untimed warm-up of each, so the first timed case does not pay for cold caches alone.
if ! run_grant_healthy >/dev/null || ! run_isready_healthy; then
  die "the warm-up run failed"
fi

cases=("hung_grant run_grant_hung" "hung_isready run_isready_hung" "healthy_grant run_grant_healthy"
  "healthy_isready run_isready_healthy" "single run_grant_single" "version run_version")
latencies=
for ((run = 1; run <= runs; run++)); do
  say "run $run/$runs"
  for ((c = 0; c < ${#cases[@]}; c++)); do
    # shellcheck disable=SC2086 # "KEY RUNNER", split on purpose
    set -- ${cases[(c + run - 1) % ${#cases[@]}]}
    timed "$2"
    record "$1"
    case $1 in
      hung_grant) check_hung_report ;;
      healthy_grant)
        # The slowest endpoint's connect + statements, as grant measured it.
        latencies+="$(awk -F': ' '/"latency_ms"/ { gsub(/,/, "", $2); if ($2 + 0 > m) m = $2 + 0 } END { printf "%.1f", m }' \
          "$work/health.json") "
        ;;
    esac
  done
done

# ---- report ----------------------------------------------------------------------------------
declare -A med=() best=()
for key in "${!samples[@]}"; do
  med[$key]=$(median "${samples[$key]}")
  best[$key]=$(minimum "${samples[$key]}")
done
verdict() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = op == "<=" ? v <= t : v < t; print ok ? "met" : "NOT met" }'; }

row() { printf '%-52s %8s %8s %6s   %8s %8s %6s   %s\n' "$@"; }
printf '\nHealth checks: 16 endpoints, %s runs per case, wall seconds of whole processes (median, and best run)\n\n' "$runs"
row "case" "grant" "baseline" "ratio" "grant" "baseline" "ratio" "target (grant, median)"
row "" "median" "median" "median" "best" "best" "best" ""
row "4 hung: health --timeout 1000 / 16 x pg_isready -t 1" "${med[hung_grant]}" "${med[hung_isready]}" \
  "$(ratio "${med[hung_grant]}" "${med[hung_isready]}")" "${best[hung_grant]}" "${best[hung_isready]}" \
  "$(ratio "${best[hung_grant]}" "${best[hung_isready]}")" "<= 1.3 s ($(verdict "${med[hung_grant]}" "<=" 1.3))"
row "all healthy: health / 16 x pg_isready" "${med[healthy_grant]}" "${med[healthy_isready]}" \
  "$(ratio "${med[healthy_grant]}" "${med[healthy_isready]}")" "${best[healthy_grant]}" "${best[healthy_isready]}" \
  "$(ratio "${best[healthy_grant]}" "${best[healthy_isready]}")" "< 0.150 s ($(verdict "${med[healthy_grant]}" "<" 0.150))"
row "grant health, the writer alone (1 endpoint)" "${med[single]}" "" "" "${best[single]}" "" "" ""
row "grant --version (process start-up)" "${med[version]}" "" "" "${best[version]}" "" "" ""
printf '\nslowest endpoint latency_ms in each healthy run (grant'"'"'s own connect + statements): %s\n' "$latencies"

# Untimed: the two parts of each probe, over the 16 healthy endpoints and over the writer alone.
phases() { # CONFIG -> "connect mean/max ms, statements mean/max ms"
  "$grant_bin" --config "$1" health --format prometheus >"$work/health.prom" || true
  awk '/^grant_health_(connect|query)_seconds\{/ {
      split($1, name, "{"); v = $2 * 1000; n[name[1]]++; sum[name[1]] += v; if (v > max[name[1]]) max[name[1]] = v }
    END { c = "grant_health_connect_seconds"; q = "grant_health_query_seconds"
      printf "connect %.1f ms mean, %.1f ms max; statements %.1f ms mean, %.1f ms max", sum[c] / n[c], max[c], sum[q] / n[q], max[q] }' \
    "$work/health.prom"
}
printf 'per probe, 16 healthy endpoints at once: %s\n' "$(phases "$work/healthy.json")"
printf 'per probe, the writer alone:             %s\n' "$(phases "$work/single.json")"

printf '\nraw seconds per run:\n'
for key in hung_grant hung_isready healthy_grant healthy_isready single version; do
  printf '  %-16s %s\n' "$key" "${samples[$key]}"
done
