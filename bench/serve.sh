#!/usr/bin/env bash
# `grant serve` under a bounded local load (issue 8 figures): requests per second and p99 latency
# from wrk over loopback, beside the floor measured in the same run, bench_http_floor: the same
# HTTP library with the same settings answering a fixed body and touching no state.
#
#   replica  GET /replica/analytics/r1?lag=5000   (target: >= 10,000 req/s, p99 < 5 ms on 2 cores)
#   health   GET /health                          (the whole JSON document; no target)
#
# Each run is `wrk -t2 -c8 -d${BENCH_SECONDS}s --latency` (8 keep-alive connections; grant serve
# runs its default 8 request threads and a health monitor checking every second). wrk and the
# server share the machine's cores, as a local load balancer's probes would. Cases alternate,
# their order rotating from run to run. Nothing asserts a rate: the targets are reported, met or not.
#
#   bench/serve.sh                    run from anywhere after a Release build in build/
#
#   GRANT_BIN=PATH         the grant binary (default: build/grant)
#   BENCH_FLOOR=PATH       bench_http_floor (default: beside GRANT_BIN, bench/)
#   BENCH_RUNS=N           runs per case (default 3); the median is reported
#   BENCH_SECONDS=N        seconds per wrk run (default 3)
#
# Uses the PostgreSQL servers named by GRANT_TEST_PG_WRITER_URL and _REPLICA_URL; when
# GRANT_TEST_PG_WRITER_URL is unset it starts its own with tests/servers.sh and stops them on exit.
# Needs wrk (scripts/install-deps.sh --with-bench).

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_args "$@"

readonly runs=${BENCH_RUNS:-3}
readonly seconds=${BENCH_SECONDS:-3}
bench_need_grant
bench_positive BENCH_RUNS "$runs"
bench_positive BENCH_SECONDS "$seconds"
floor=${BENCH_FLOOR:-$(dirname "$grant_bin")/bench/bench_http_floor}
[[ -x $floor ]] || die "no bench_http_floor at $floor: build it (cmake --build build --target bench_http_floor) or set BENCH_FLOOR"
wrk=$(command -v wrk) || die "wrk not found: scripts/install-deps.sh --with-bench"

bench_start
bench_servers GRANT_TEST_PG_WRITER_URL GRANT_TEST_PG_REPLICA_URL

cat >"$work/grant.json" <<EOF
{"databases": {"analytics": {"url": "\${GRANT_TEST_PG_WRITER_URL}",
  "replicas": [{"name": "r1", "url": "\${GRANT_TEST_PG_REPLICA_URL}"}]}}}
EOF

# ---- the two servers -------------------------------------------------------------------------
pids=()
stop_servers() { local pid; for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
bench_exit_hooks+=(stop_servers)

# start_server NAME CMD...: runs CMD in the background and sets $address to the host:port it prints.
address=
start_server() {
  local name=$1 i
  shift
  : >"$work/$name.out"
  "$@" >>"$work/$name.out" 2>&1 &
  pids+=($!)
  for ((i = 0; i < 200; i++)); do
    address=$(grep -o -m1 'http://127\.0\.0\.1:[0-9]*' "$work/$name.out" || true)
    [[ -n $address ]] && { address=${address#http://}; return 0; }
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/$name.out" >&2; die "$name exited"; }
    sleep 0.05
  done
  die "$name did not say where it listens"
}

# status_of HOST:PORT PATH: the HTTP status code of one GET, over bash's /dev/tcp (no curl needed).
status_of() {
  local line
  exec 3<>"/dev/tcp/${1%:*}/${1##*:}"
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$2" "$1" >&3
  IFS= read -r line <&3 || line=
  exec 3>&-
  line=${line#* }
  printf '%s' "${line%% *}"
}

start_server grant "$grant_bin" --config "$work/grant.json" serve --listen 127.0.0.1:0 --interval 1000
grant_address=$address
start_server floor "$floor" 8
floor_address=$address

# The monitor's first round lets the replica in; until then /replica answers 503.
for ((i = 0; i < 200; i++)); do
  [[ $(status_of "$grant_address" "/replica/analytics/r1?lag=5000") == 200 ]] && break
  sleep 0.05
done
[[ $(status_of "$grant_address" "/replica/analytics/r1?lag=5000") == 200 ]] ||
  die "grant serve never answered 200 for the replica: $(cat "$work/grant.out")"

# ---- measuring ---------------------------------------------------------------------------------
declare -A rps=() p99=()

# load KEY HOST:PORT PATH: one wrk run; appends requests/s and p99 (ms) to rps[KEY], p99[KEY].
load() {
  local out
  out=$("$wrk" -t2 -c8 -d"${seconds}s" --latency "http://$2$3")
  grep -q 'Non-2xx or 3xx responses' <<<"$out" && die "$1: non-2xx answers under load:"$'\n'"$out"
  rps[$1]+="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out") "
  # wrk prints "99%  1.23ms" (us, ms or s).
  p99[$1]+="$(awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
    printf "%.3f", u == "us" ? v / 1000 : u == "s" ? v * 1000 : v }' <<<"$out") "
}

cases=(replica_grant replica_floor health_grant)
run_case() {
  case $1 in
    replica_grant) load "$1" "$grant_address" "/replica/analytics/r1?lag=5000" ;;
    replica_floor) load "$1" "$floor_address" "/replica/analytics/r1?lag=5000" ;;
    health_grant) load "$1" "$grant_address" "/health" ;;
  esac
}

say "warm-up"
"$wrk" -t1 -c2 -d1s "http://$grant_address/replica/analytics/r1?lag=5000" >/dev/null
"$wrk" -t1 -c2 -d1s "http://$floor_address/" >/dev/null
for ((run = 0; run < runs; run++)); do
  for ((k = 0; k < ${#cases[@]}; k++)); do
    key=${cases[$(((k + run) % ${#cases[@]}))]}
    say "run $((run + 1))/$runs: $key"
    run_case "$key"
  done
done

declare -A med_rps=() med_p99=()
for key in "${cases[@]}"; do
  med_rps[$key]=$(median "${rps[$key]}" 0)
  med_p99[$key]=$(median "${p99[$key]}" 3)
done
verdict() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN { ok = op == ">=" ? a >= b : a < b; print ok ? "met" : "NOT met" }'; }

printf '\ngrant serve under wrk -t2 -c8 -d%ss, %s runs per case (medians)\n\n' "$seconds" "$runs"
printf '%-44s %10s %10s   %s\n' "case" "req/s" "p99 ms" "target"
printf '%-44s %10s %10s   %s\n' "GET /replica/analytics/r1?lag=5000, grant" "${med_rps[replica_grant]}" \
  "${med_p99[replica_grant]}" ">= 10000 req/s ($(verdict "${med_rps[replica_grant]}" ">=" 10000)), p99 < 5 ms ($(verdict "${med_p99[replica_grant]}" "<" 5))"
printf '%-44s %10s %10s\n' "same path, bench_http_floor (fixed body)" "${med_rps[replica_floor]}" "${med_p99[replica_floor]}"
printf '%-44s %10s %10s\n' "GET /health, grant" "${med_rps[health_grant]}" "${med_p99[health_grant]}"
printf '\nratio grant / floor, req/s: %s (1.00 = answering from the monitor costs nothing over HTTP)\n' \
  "$(ratio "${med_rps[replica_grant]}" "${med_rps[replica_floor]}")"
printf 'all runs, req/s: grant replica [%s] floor [%s] grant health [%s]\n' "${rps[replica_grant]% }" \
  "${rps[replica_floor]% }" "${rps[health_grant]% }"
