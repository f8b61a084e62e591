#!/usr/bin/env bash
# Runs every test: installs dependencies, builds Release with warnings as errors, starts the
# PostgreSQL and MariaDB test servers (tests/servers.sh), runs ctest, tests the package (tests/package/run.sh:
# install into a scratch prefix, build and run examples/* against it with find_package, the
# public headers alone, pkg-config, man pages, completions, the .deb), runs every fuzz target
# for a few seconds (scripts/fuzz.sh --ci: clang, libFuzzer, ASan+UBSan), then builds the
# threaded tests under ThreadSanitizer + UBSan and runs them against the same servers.
# docs/testing.md says what runs where and what each pass costs.
#
#   scripts/test.sh [--full] [--no-sanitize]
#
#   --full                 also build the whole suite under AddressSanitizer + UBSan and run it
#                          (about 20 more minutes on 2 cores; before a release, or nightly)
#   --no-sanitize          skip the ThreadSanitizer pass (same as GRANT_SKIP_SANITIZE=1)
#   GRANT_SKIP_SANITIZE=1  skip the ThreadSanitizer pass (and --full's AddressSanitizer pass)
#
# The servers are stopped and their folder removed on exit, whether the tests pass, fail or
# the run is interrupted. Exits non-zero if any phase fails.
# Functions below run from traps and run_phase, which shellcheck cannot follow.
# shellcheck disable=SC2317
set -euo pipefail

usage() {
  sed -n '2,18s/^# \{0,1\}//p' "$0"
}

sanitize=1
full=0
[[ ${GRANT_SKIP_SANITIZE:-0} == 1 ]] && sanitize=0
for arg in "$@"; do
  case $arg in
    --full) full=1 ;;
    --no-sanitize) sanitize=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "test.sh: error: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."

started=$SECONDS
results=() # "STATUS|phase|seconds"
pg_dir=
# Each phase's output is also kept here, so the summary can repeat the end of a failed phase's
# output where a CI log that shows only its tail will show it.
log_dir=$(mktemp -d /tmp/grant-test-logs.XXXXXX)

say() { printf '\n==> test.sh: %s\n' "$*" >&2; }

phase=
phase_started=0

# run_phase NAME COMMAND...: runs COMMAND, records PASS/FAIL and its duration. The command's
# output (stdout and stderr, together) goes to the terminal and to the phase's log.
run_phase() {
  local name=$1 rc=0
  shift
  phase=$name
  phase_started=$SECONDS
  say "$name"
  set +e
  "$@" 2>&1 | tee "$log_dir/${name// /-}.log"
  rc=${PIPESTATUS[0]}
  set -e
  local t0=$phase_started
  phase=
  if ((rc == 0)); then
    results+=("PASS|$name|$((SECONDS - t0))")
  else
    results+=("FAIL|$name|$((SECONDS - t0))")
    echo "test.sh: $name failed (exit $rc)" >&2
  fi
  return "$rc"
}

summary() {
  local line status name secs any_fail=0
  printf '\ntest.sh: summary\n' >&2
  for line in "${results[@]}"; do
    IFS='|' read -r status name secs <<<"$line"
    printf '  %-4s  %-26s %5ss\n' "$status" "$name" "$secs" >&2
    [[ $status == PASS || $status == SKIP ]] || any_fail=1
  done
  for line in "${results[@]}"; do
    IFS='|' read -r status name secs <<<"$line"
    [[ $status == FAIL && -f $log_dir/${name// /-}.log ]] || continue
    printf '\ntest.sh: the last lines of the failed phase "%s":\n' "$name" >&2
    grep -v '^\[ *[0-9]*%\]\|^\[[0-9]*/[0-9]*\]' "$log_dir/${name// /-}.log" | tail -n 25 | sed 's/^/  | /' >&2
  done
  if ((any_fail)) || (($1 != 0)); then
    printf 'test.sh: FAILED after %ss\n' "$((SECONDS - started))" >&2
  else
    printf 'test.sh: all phases passed in %ss\n' "$((SECONDS - started))" >&2
  fi
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $pg_dir ]]; then
    tests/servers.sh stop "$pg_dir" || true
  fi
  summary "$rc"
  rm -rf "$log_dir"
  exit "$rc"
}
# Ctrl-C reaches the running command too; bash runs this once that command has exited.
on_signal() {
  echo "test.sh: interrupted" >&2
  [[ -z $phase ]] || results+=("STOP|$phase|$((SECONDS - phase_started))")
  exit "$1"
}
trap on_exit EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# A compiler cache when one is installed (never required; CI's fresh machine has none).
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

# build DIR CMAKE_ARGS...: configure and build one tree.
build() {
  local dir=$1
  shift
  cmake -S . -B "$dir" "${launcher[@]}" "$@" && cmake --build "$dir" -j"$(nproc)"
}

run_tests() {
  # --no-tests=error: a build that registers no tests must not look like a pass.
  # -j3: the integration suite and the two halves of the cli suite run side by side. They spend
  # most of their time waiting on servers, timeouts and child processes, not on the CPU, and
  # every test makes its own database, so they share the servers safely; docs/testing.md has
  # what this saves.
  ctest --test-dir "$1" --output-on-failure --no-tests=error -j3
}

run_sanitized_tests() {
  # Make UBSan findings fail the test instead of only printing them.
  # tests/lsan.supp: libpqxx 6.4's own leak on a lost connection (the fault tests lose many).
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0} run_tests build-asan
}

# The tests that run threads against each other: pool, registry, balancer, breaker, monitor,
# serve, scatter-gather, the router, 2PC fan-out, migrate's per-shard fan-out (the TSan-built grant
# binary, started by the tests), interrupting a silent session, and the chaos tests.
# Only their two test binaries (and the binary they start) are built under ThreadSanitizer.
readonly tsan_unit='registry::pool*,route*,serve::View*'
readonly tsan_integration='route*,scatter*,registry::*,serve*,twophase::DistributedTransaction*,migrate::shards,db::interrupt*,health::probe*,chaos::*'

# The TSan tree builds only the files holding those tests (tests/CMakeLists.txt lists them); the
# filters must find the same test cases there as in the release tree's full binaries.
same_tests() { # FULL_BINARY TSAN_BINARY FILTER
  local full tsan
  full=$("$1" -ltc -tc="$3" | grep -v '^\[doctest\]\|^====') || return 1
  tsan=$("$2" -ltc -tc="$3" | grep -v '^\[doctest\]\|^====') || return 1
  if [[ $full != "$tsan" ]]; then
    echo "test.sh: the ThreadSanitizer build of $(basename "$2") lacks tests the filter '$3' selects:" >&2
    diff <(printf '%s\n' "$full") <(printf '%s\n' "$tsan") | sed -n 's/^< /  /p' >&2
    echo "test.sh: add their files to GRANT_TSAN_*_FILES in tests/CMakeLists.txt" >&2
    return 1
  fi
}

run_thread_sanitized_tests() {
  same_tests build/tests/grant_unit_tests build-tsan/tests/grant_tsan_unit_tests "$tsan_unit" &&
    same_tests build/tests/grant_integration_tests build-tsan/tests/grant_tsan_integration_tests "$tsan_integration" ||
    return 1
  # halt_on_error: a race fails the run. tests/tsan.supp: races inside uninstrumented libpq/OpenSSL.
  local options="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp"
  export TSAN_OPTIONS=${TSAN_OPTIONS:-$options} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  build-tsan/tests/grant_tsan_unit_tests -tc="$tsan_unit" || return 1
  # The integration cases in two processes side by side: alone they keep the CPU about 57% busy
  # (waits on servers, timeouts and the grant processes they start). The two longest cases take
  # about as long as all the others together; with the chaos cases, the halves take about the
  # same time. Each half's output is printed when both are done.
  local longest='migrate::shards,scatter_gather*,chaos::*' rc_longest=0 rc_rest=0 longest_pid rest_pid
  build-tsan/tests/grant_tsan_integration_tests -tc="$longest" >"$log_dir/tsan-longest.log" 2>&1 &
  longest_pid=$!
  build-tsan/tests/grant_tsan_integration_tests -tc="$tsan_integration" -tce="$longest" >"$log_dir/tsan-rest.log" 2>&1 &
  rest_pid=$!
  wait "$longest_pid" || rc_longest=$?
  wait "$rest_pid" || rc_rest=$?
  echo "== grant_tsan_integration_tests -tc='$longest' (exit $rc_longest)"
  cat "$log_dir/tsan-longest.log"
  echo "== grant_tsan_integration_tests, the rest (exit $rc_rest)"
  cat "$log_dir/tsan-rest.log"
  ((rc_longest == 0 && rc_rest == 0))
}

build_tsan() {
  # -g1 (line tables: a race report still names functions, files and lines) compiles about 12%
  # faster than Debug's -g. clang (installed for the fuzz targets) builds this tree in about half
  # GCC's time and its TSan binaries run faster; the release tree stays on GCC, so both compilers
  # see every file. docs/testing.md has the figures.
  local compiler=()
  command -v clang++ >/dev/null 2>&1 && compiler=(-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang)
  cmake -S . -B build-tsan "${launcher[@]}" "${compiler[@]}" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DGRANT_TSAN=ON \
    -DGRANT_BENCH=OFF -DGRANT_EXAMPLES=OFF -DGRANT_MAN_PAGES=OFF &&
    cmake --build build-tsan -j"$(nproc)" --target grant_tsan_unit_tests grant_tsan_integration_tests
}

# Every C++ file as .clang-format has it: a difference fails the run (and prints the diff lines).
format_check() {
  local files=()
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -d '' files < <(git ls-files -z -- '*.cpp' '*.hpp' '*.cc' '*.ipp')
  else
    mapfile -d '' files < <(find apps bench examples fuzz lib tests -name '*.[ch]pp' -print0 -o -name '*.cc' -print0)
  fi
  ((${#files[@]} > 0)) || { echo "format: no C++ files found" >&2; return 1; }
  clang-format --dry-run -Werror "${files[@]}" && echo "format: ${#files[@]} files formatted as .clang-format says"
}

failed=0
run_phase "dependencies" scripts/install-deps.sh --with-postgres --with-shells --with-fuzz --with-format
run_phase "format" format_check || failed=1
run_phase "release build" build build -DCMAKE_BUILD_TYPE=Release -DGRANT_WERROR=ON

# The folder exists before the servers do, so the EXIT trap can always clean it up.
pg_dir=$(mktemp -d /tmp/grant-pg.XXXXXX)
run_phase "test servers" tests/servers.sh start "$pg_dir" >/dev/null
# shellcheck source=/dev/null
source "$pg_dir/env"

run_phase "release tests" run_tests build || failed=1
run_phase "package" tests/package/run.sh build || failed=1

# libFuzzer targets (fuzz/, docs/fuzzing.md): builds build-fuzz, then a bounded run of each, one
# target per core.
run_phase "fuzz" scripts/fuzz.sh --ci --jobs "$(nproc)" || failed=1

if ((sanitize)); then
  if run_phase "thread sanitizer build" build_tsan; then
    run_phase "thread sanitizer tests" run_thread_sanitized_tests || failed=1
  else
    failed=1
  fi
  if ((full)); then
    if run_phase "address sanitizer build" build build-asan -DCMAKE_BUILD_TYPE=Debug -DGRANT_SANITIZE=ON \
      -DGRANT_BENCH=OFF; then
      run_phase "address sanitizer tests" run_sanitized_tests || failed=1
    else
      failed=1
    fi
  else
    results+=("SKIP|address sanitizer (--full)|0")
  fi
else
  results+=("SKIP|sanitizer builds+tests|0")
fi

exit "$failed"
