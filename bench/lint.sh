#!/usr/bin/env bash
# grant lint benchmark (two figures, each against a baseline measured in the same run):
#
#   files    `grant lint --fail-on none --format json FILE...` on N generated migration files
#            against squawk (squawk-cli from npm) on the same files, `--reporter json`:
#            wall time of each whole process and the ratio grant / squawk. Target: <= 1.0.
#   connect  `grant lint --connect --database orders` on 16 shards (4 fresh databases on each of
#            the 4 shard servers), table orders created by `grant migrate` with rows on every shard
#            and one pending migration of hazardous statements on it: wall time against the 1 s
#            target, and the ratio to `grant status --database orders` (the same 16 connections).
#            `grant lint --database orders` without --connect (pending status only) is timed too.
#
# The N files are plain SQL (a file without a `-- grant:up` marker is one up section; the few that
# carry a marker, for CREATE INDEX CONCURRENTLY outside a transaction, are comments to squawk),
# 1-3 statements each, cycling through CREATE TABLE + CREATE INDEX, CREATE INDEX with and without
# CONCURRENTLY, ALTER TABLE ADD COLUMN / ALTER COLUMN TYPE / SET NOT NULL / ADD CONSTRAINT FOREIGN
# KEY (with and without NOT VALID), DROP COLUMN, RENAME COLUMN, UPDATE and INSERT, on tables the
# set creates and on ten tables it assumes exist. Both tools get the same paths (relative to the
# folder they run in); grant reads them under a one-database config that needs no server. Output
# goes to a file for both. Each case runs BENCH_RUNS times, the cases alternating within a run and
# their order rotating from run to run; median and best are reported. The findings each tool
# reports are printed for information only: the two tools have different rules. squawk's prebuilt
# binary (@squawk-cli/linux-x64) is called directly, so node's start-up is not timed. To show where
# a difference comes from, the same run also times both tools held to one CPU (`taskset -c`, when
# installed: squawk lints on one thread per CPU, grant on one), on one file, and `--version` (the
# bare process), and prints the cost per file after the first. Nothing here asserts a time.
#
#   bench/lint.sh                   run from anywhere after a Release build in build/
#
#   GRANT_BIN=PATH            the grant binary (default: build/grant)
#   SQUAWK_BIN=PATH           a squawk binary (default: squawk on PATH, else installed from npm
#                             into ${XDG_CACHE_HOME:-~/.cache}/grant-bench/squawk)
#   BENCH_FILES=N             migration files for the files case (default 1000)
#   BENCH_SHARDS=N            shards for the connect case, spread over the 4 servers (default 16)
#   BENCH_ROWS_PER_SHARD=N    rows of orders on each shard (default 10000)
#   BENCH_RUNS=N              runs per case (default 5)
#
# Uses the servers named by GRANT_TEST_PG_SHARD0..3_URL; when GRANT_TEST_PG_SHARD0_URL is unset it
# starts its own with tests/servers.sh and stops them on exit. Needs psql (from $GRANT_TEST_PG_BIN
# or PATH), and npm unless squawk is found.

set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_args "$@"

readonly file_count=${BENCH_FILES:-1000}
readonly shard_count=${BENCH_SHARDS:-16}
readonly rows_per_shard=${BENCH_ROWS_PER_SHARD:-10000}
readonly runs=${BENCH_RUNS:-5}
bench_need_grant
bench_positive BENCH_FILES "$file_count"
bench_positive BENCH_SHARDS "$shard_count"
bench_positive BENCH_ROWS_PER_SHARD "$rows_per_shard"
bench_positive BENCH_RUNS "$runs"

bench_start

# ---- squawk ----------------------------------------------------------------------------------
squawk=${SQUAWK_BIN:-}
bench_npm_tool squawk squawk squawk-cli

bench_servers GRANT_TEST_PG_SHARD0_URL GRANT_TEST_PG_SHARD1_URL GRANT_TEST_PG_SHARD2_URL GRANT_TEST_PG_SHARD3_URL
bench_psql

# ---- files case: the migration files ---------------------------------------------------------
# Tables the set assumes exist (hazards apply to them) and, per file, one of 12 shapes.
existing=(users orders products invoices payments events sessions accounts shipments reviews)
mkdir -p "$work/files"
for ((i = 1; i <= file_count; i++)); do
  t=${existing[i % 10]}
  u=${existing[(i * 7 + 3) % 10]}
  ref=${u%s}_id
  case $((i % 12)) in
    0) printf 'CREATE TABLE t_%d (\n  id bigint PRIMARY KEY,\n  user_id bigint NOT NULL REFERENCES users (id),\n  name text NOT NULL,\n  created_at timestamptz NOT NULL DEFAULT now()\n);\nCREATE INDEX t_%d_user_id_idx ON t_%d (user_id);\n' \
      "$i" "$i" "$i" ;;
    1) printf -- '-- grant:up transaction=false\nCREATE INDEX CONCURRENTLY %s_c%d_idx ON %s (created_at, id);\n' "$t" "$i" "$t" ;;
    2) printf 'CREATE INDEX %s_c%d_idx ON %s (updated_at);\nCREATE UNIQUE INDEX %s_u%d_idx ON %s (id, created_at);\n' \
      "$t" "$i" "$t" "$t" "$i" "$t" ;;
    3) printf 'ALTER TABLE %s ADD COLUMN c_%d text;\nALTER TABLE %s ADD COLUMN n_%d integer NOT NULL DEFAULT 0;\nALTER TABLE %s ADD COLUMN r_%d integer NOT NULL;\n' \
      "$t" "$i" "$t" "$i" "$t" "$i" ;;
    4) printf 'ALTER TABLE %s ALTER COLUMN amount TYPE numeric(14, 2);\nALTER TABLE %s ALTER COLUMN note TYPE varchar(500);\n' "$t" "$t" ;;
    5) printf "SET lock_timeout = '5s';\nALTER TABLE %s ALTER COLUMN email SET NOT NULL;\nALTER TABLE %s ALTER COLUMN status SET DEFAULT 'new';\n" "$t" "$t" ;;
    6) printf 'ALTER TABLE %s ADD CONSTRAINT %s_%s_fk_%d FOREIGN KEY (%s) REFERENCES %s (id);\n' "$t" "$t" "$u" "$i" "$ref" "$u" ;;
    7) printf 'ALTER TABLE %s ADD CONSTRAINT %s_%s_fk_%d FOREIGN KEY (%s) REFERENCES %s (id) NOT VALID;\nALTER TABLE %s VALIDATE CONSTRAINT %s_%s_fk_%d;\n' \
      "$t" "$t" "$u" "$i" "$ref" "$u" "$t" "$t" "$u" "$i" ;;
    8) printf 'ALTER TABLE %s DROP COLUMN legacy_%d;\n' "$t" "$i" ;;
    9) printf "UPDATE %s SET status = 'archived' WHERE created_at < now() - interval '1 year';\nINSERT INTO %s (id, name, created_at) VALUES (%d, 'seed %d', now()), (%d, 'seed %d', now());\n" \
      "$t" "$t" "$i" "$i" "$((i + 1000000))" "$i" ;;
    10) printf "CREATE TABLE t_%d (id bigserial PRIMARY KEY, %s bigint NOT NULL, kind text NOT NULL CHECK (kind <> ''), payload jsonb);\nALTER TABLE t_%d ADD CONSTRAINT t_%d_fk FOREIGN KEY (%s) REFERENCES %s (id);\nINSERT INTO t_%d (%s, kind) SELECT id, 'init' FROM %s;\n" \
      "$i" "${t%s}_id" "$i" "$i" "${t%s}_id" "$t" "$i" "${t%s}_id" "$t" ;;
    11) printf 'ALTER TABLE %s ADD COLUMN token uuid DEFAULT gen_random_uuid();\nALTER TABLE %s RENAME COLUMN old_%d TO new_%d;\n' "$t" "$t" "$i" "$i" ;;
  esac >"$work/files/$((20240101000000 + i))_m$i.sql"
done
files=()
for ((i = 1; i <= file_count; i++)); do
  files+=("files/$((20240101000000 + i))_m$i.sql")
done
statements=$(cat "$work/files"/*.sql | grep -c ';$')

# No server behind this URL: named files need none without --connect.
cat >"$work/files.json" <<'EOF'
{"databases": {"primary": {"url": "postgres://bench@127.0.0.1:1/unused"}}}
EOF

# Both run in $work (squawk would read a .squawk.toml of the folder it runs in) on the same paths,
# under "${pin[@]}" (empty, or taskset to one CPU).
pin=()
grant_lint_files() (
  cd "$work"
  exec "${pin[@]}" "$grant_bin" --config files.json lint --fail-on none --format json "$@"
)
# squawk has no switch for its exit status: 1 means "violations found".
squawk_files() (
  cd "$work"
  "${pin[@]}" "$squawk" --reporter json "$@" || (($? == 1))
)
run_grant_files() { grant_lint_files "${files[@]}"; }
run_squawk_files() { squawk_files "${files[@]}"; }
# squawk lints the files on several threads (one per CPU); the same two, each held to one CPU.
cpu=$(awk '/^Cpus_allowed_list:/ { split($2, a, /[-,]/); print a[1] }' /proc/self/status 2>/dev/null || true)
if command -v taskset >/dev/null && [[ -n $cpu ]] && taskset -c "$cpu" true 2>/dev/null; then
  have_taskset=1
else
  have_taskset=
fi
run_grant_files_1cpu() {
  local pin=(taskset -c "$cpu")
  grant_lint_files "${files[@]}"
}
run_squawk_files_1cpu() {
  local pin=(taskset -c "$cpu")
  squawk_files "${files[@]}"
}
# What costs the same for any number of files: one file, and the bare process.
run_grant_one() { grant_lint_files "${files[0]}"; }
run_squawk_one() { squawk_files "${files[0]}"; }
run_grant_version() { "$grant_bin" --version; }
run_squawk_version() { "$squawk" --version; }

# Rule names, one a line -> "rule count, rule count, ..." (most frequent first).
per_rule() { sort | uniq -c | sort -k1,1rn -k2 | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }'; }

# Outside the timed runs: both tools read every file, and what each reports.
timed run_grant_files
grep -q "\"migrations\": $file_count," "$work/last.log" || die "grant lint did not read $file_count files: $(head -c 2000 "$work/last.log")"
grep -q "\"statements\": $statements," "$work/last.log" || die "grant lint did not read $statements statements"
grant_findings=$(sed -n 's/^    "findings": \([0-9]*\),$/\1/p' "$work/last.log")
grant_rules=$(grep -o '"rule": "[a-z-]*"' "$work/last.log" | cut -d'"' -f4 | per_rule)
timed run_squawk_files
! grep -q '"rule_name":"syntax-error"' "$work/last.log" || die "squawk rejects some of the files: $(head -c 2000 "$work/last.log")"
squawk_findings=$(grep -o '"rule_name":' "$work/last.log" | wc -l)
squawk_rules=$(grep -o '"rule_name":"[a-z-]*"' "$work/last.log" | cut -d'"' -f4 | per_rule)

# ---- connect case: 16 shards -----------------------------------------------------------------
shard_base=("$GRANT_TEST_PG_SHARD0_URL" "$GRANT_TEST_PG_SHARD1_URL" "$GRANT_TEST_PG_SHARD2_URL" "$GRANT_TEST_PG_SHARD3_URL")
shards=()
for s in 0 1 2 3; do
  per_server=$(((shard_count - s + 3) / 4)) # shard i is on server i % 4
  ((per_server > 0)) || continue
  fresh_pg_many "${shard_base[$s]}" "$per_server"
  for ((k = 0; k < per_server; k++)); do
    shards[4 * k + s]=${fresh_list[$k]}
  done
done

mkdir -p "$work/orders"
printf -- '-- grant:up\n%s\n-- grant:down\nDROP TABLE orders;\n' \
  'CREATE TABLE orders (id bigint NOT NULL, customer_id bigint NOT NULL, status text, quantity integer NOT NULL DEFAULT 1,
  amount numeric(12, 2) NOT NULL, note varchar(200), created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, id));' >"$work/orders/20250101000001_create_orders.sql"
{
  printf '{"databases": {"orders": {"migrations": "%s/orders", "shards": [' "$work"
  for ((i = 0; i < shard_count; i++)); do
    # shellcheck disable=SC2016 # ${BENCH_Si} is for grant's config interpolation
    printf '%s\n  {"name": "s%d", "url": "${BENCH_S%d}"}' "$([[ $i == 0 ]] || printf ',')" "$i" "$i"
    export "BENCH_S$i=${shards[$i]}"
  done
  printf '],\n  "sharding": {"key": "customer_id", "tables": ["orders"], "resolver": {"type": "hash"}}}}}\n'
} >"$work/orders.json"
orders() { "$grant_bin" --config "$work/orders.json" "$@"; }

say "grant:  $grant_bin ($("$grant_bin" --version))"
say "squawk: $squawk ($("$squawk" --version))"
say "$file_count files ($statements statements), $shard_count shards x $rows_per_shard rows, $runs runs per case, $(nproc) CPUs"
say "creating orders on $shard_count shards (grant migrate) and loading rows"
t0=$(now)
orders migrate -q --database orders
pids=()
for ((i = 0; i < shard_count; i++)); do
  sql "${shards[$i]}" -c "INSERT INTO orders (id, customer_id, status, quantity, amount, note)
    SELECT g, g * $shard_count + $i, (ARRAY['new', 'paid', 'shipped'])[g % 3 + 1], g % 5 + 1, (g % 1000) / 10.0, 'order ' || g
    FROM generate_series(1, $rows_per_shard) g" -c "ANALYZE orders" >/dev/null &
  pids+=($!)
  if ((${#pids[@]} == 4 || i == shard_count - 1)); then
    for pid in "${pids[@]}"; do
      wait "$pid" || die "loading orders failed"
    done
    pids=()
  fi
done
say "loaded in $(seconds_since "$t0") s"

# The pending migration: hazards on the table every shard holds.
cat >"$work/orders/20250101000002_orders_hazards.sql" <<'EOF'
-- grant:up
CREATE INDEX orders_status_idx ON orders (status);
ALTER TABLE orders ALTER COLUMN quantity TYPE bigint;
ALTER TABLE orders ADD COLUMN region text NOT NULL;
ALTER TABLE orders ALTER COLUMN status SET NOT NULL;
ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0);
-- grant:down
ALTER TABLE orders DROP CONSTRAINT orders_amount_positive;
ALTER TABLE orders ALTER COLUMN status DROP NOT NULL;
ALTER TABLE orders DROP COLUMN region;
ALTER TABLE orders ALTER COLUMN quantity TYPE integer;
DROP INDEX orders_status_idx;
EOF

run_lint_connect() { orders lint --connect --database orders --fail-on none --format json; }
run_lint_pending() { orders lint --database orders --fail-on none --format json; }
run_status() { orders status --database orders; }

# Outside the timed runs: lint saw the pending migration and every shard answered for each finding.
timed run_lint_connect
connect_findings=$(sed -n 's/^    "findings": \([0-9]*\),$/\1/p' "$work/last.log")
with_table=$(grep -c '^      "table": "orders",$' "$work/last.log" || true)
reachable=$(grep -c '"reachable": true' "$work/last.log" || true)
grep -q '"migrations": 1,' "$work/last.log" || die "grant lint --connect did not lint the one pending migration: $(head -c 2000 "$work/last.log")"
((with_table > 0 && reachable == with_table * shard_count)) ||
  die "grant lint --connect: $reachable shard answers for $with_table findings on orders, expected $shard_count each"
! grep -q '"reachable": false' "$work/last.log" || die "grant lint --connect found an unreachable shard"
connect_errors=$(sed -n 's/^    "errors": \([0-9]*\),$/\1/p' "$work/last.log")
connect_rules=$(grep -o '"rule": "[a-z-]*"' "$work/last.log" | cut -d'"' -f4 | per_rule)
timed run_status
grep -q 'pending' "$work/last.log" || die "grant status does not show the pending migration: $(cat "$work/last.log")"

# ---- runs ------------------------------------------------------------------------------------
# The cases alternate within each run so drift in machine load hits all of them alike, and the
# order rotates from run to run so that no case always goes first.
file_cases=("grant_files run_grant_files" "squawk_files run_squawk_files")
pinned_cases=("grant_files_1cpu run_grant_files_1cpu" "squawk_files_1cpu run_squawk_files_1cpu")
startup_cases=("grant_one run_grant_one" "squawk_one run_squawk_one" "grant_version run_grant_version"
  "squawk_version run_squawk_version")
connect_cases=("lint_connect run_lint_connect" "status run_status" "lint_pending run_lint_pending")
run_case() { # KEY RUNNER
  timed "$2"
  record "$1"
}
run_rotated() { # RUN "KEY RUNNER"...: each case once, starting with case number RUN
  local run=$1 c
  shift
  local cases=("$@")
  for ((c = 0; c < ${#cases[@]}; c++)); do
    # shellcheck disable=SC2086 # "KEY RUNNER", split on purpose
    run_case ${cases[(c + run - 1) % ${#cases[@]}]}
  done
}
for ((run = 1; run <= runs; run++)); do
  say "run $run/$runs"
  run_rotated "$run" "${file_cases[@]}"
  [[ -z $have_taskset ]] || run_rotated "$run" "${pinned_cases[@]}"
  run_rotated "$run" "${startup_cases[@]}"
  run_rotated "$run" "${connect_cases[@]}"
done

# ---- report ----------------------------------------------------------------------------------
declare -A med=() best=()
for key in "${!samples[@]}"; do
  med[$key]=$(median "${samples[$key]}")
  best[$key]=$(minimum "${samples[$key]}")
done
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == "<=") ? v <= t : v < t; print ok ? "met" : "NOT met" }'; }

row() { printf '%-46s %8s %8s %6s   %8s %8s %6s   %s\n' "$@"; }
line() { # label, tool key, baseline key, target text, threshold (empty: no target)
  local r verdict=
  r=$(ratio "${med[$2]}" "${med[$3]}")
  [[ -z ${5:-} ]] || verdict=$(verdict "$r" "$5" "<=")
  row "$1" "${med[$2]}" "${med[$3]}" "$r" \
    "${best[$2]}" "${best[$3]}" "$(ratio "${best[$2]}" "${best[$3]}")" "$4${verdict:+ ($verdict)}"
}
printf '\ngrant lint: wall seconds of the whole process, %s runs per case (median, and best run)\n\n' "$runs"
printf 'Files: %s migration files, %s statements; the same paths to both tools, JSON output to a file\n\n' "$file_count" "$statements"
row "case" "tool" "baseline" "ratio" "tool" "baseline" "ratio" "target (on the median)"
row "" "median" "median" "median" "best" "best" "best" ""
line "grant lint FILE... / squawk FILE..." grant_files squawk_files "<= 1.0" 1.0
[[ -z $have_taskset ]] || line "the same, each on one CPU (taskset -c $cpu)" grant_files_1cpu squawk_files_1cpu ""
line "one file: grant / squawk" grant_one squawk_one ""
line "start-up: grant --version / squawk --version" grant_version squawk_version ""
per_file() { awk -v n="${med[$1]}" -v one="${med[$2]}" -v f="$file_count" 'BEGIN { printf "%.3f", (f > 1 ? (n - one) * 1000 / (f - 1) : 0) }'; }
printf '\nper file after the first (median of %s files - median of one file): grant %s ms, squawk %s ms (ratio %s)\n' \
  "$file_count" "$(per_file grant_files grant_one)" "$(per_file squawk_files squawk_one)" \
  "$(ratio "$(per_file grant_files grant_one)" "$(per_file squawk_files squawk_one)")"
printf '\nfindings (for information; the rules differ):\n'
printf '  grant   %s: %s\n' "$grant_findings" "$grant_rules"
printf '  squawk  %s: %s\n' "$squawk_findings" "$squawk_rules"

printf '\nConnect: %s shards (%s servers), orders with %s rows each, 1 pending migration of 5 statements\n\n' \
  "$shard_count" "$((shard_count < 4 ? shard_count : 4))" "$rows_per_shard"
row "case" "median" "best" "" "" "" "" "target (on the median)"
row "grant lint --connect --database orders" "${med[lint_connect]}" "${best[lint_connect]}" "" "" "" "" \
  "< 1 s ($(verdict "${med[lint_connect]}" 1 "<"))"
row "grant status --database orders" "${med[status]}" "${best[status]}" "" "" "" "" ""
row "grant lint --database orders (no --connect)" "${med[lint_pending]}" "${best[lint_pending]}" "" "" "" "" ""
printf '\n'
row "case" "tool" "baseline" "ratio" "tool" "baseline" "ratio" ""
row "" "median" "median" "median" "best" "best" "best" ""
line "lint --connect / status" lint_connect status ""
line "lint (no --connect) / status" lint_pending status ""
printf '\nfindings of lint --connect: %s, of which errors %s: %s; %s shard answers, none unreachable\n' \
  "$connect_findings" "$connect_errors" "$connect_rules" "$reachable"

printf '\nraw seconds per run:\n'
for key in grant_files squawk_files grant_files_1cpu squawk_files_1cpu grant_one squawk_one grant_version \
  squawk_version lint_connect status lint_pending; do
  [[ -z ${samples[$key]:-} ]] || printf '  %-17s %s\n' "$key" "${samples[$key]}"
done
