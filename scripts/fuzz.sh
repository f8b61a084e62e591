#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang, in build-fuzz) and runs each one on a copy of its
# seed corpus, after replaying its regression inputs (fuzz/regressions/<target>/). Prints one
# line per target: seconds, executions, exec/s, new corpus entries, crashes. Exits non-zero
# when a target crashes or breaks a property, printing the path of the input that did it.
#
#   scripts/fuzz.sh [--ci] [--no-build | --build-only] [--jobs N] [SECONDS] [TARGET...]
#
#   SECONDS     how long each target runs (default 60; GRANT_FUZZ_SECONDS overrides the default)
#   TARGET      run only these (config key key_range migration resolver sql_split url)
#   --ci        the short bounded run scripts/test.sh makes: 10 s per target unless SECONDS
#               is given, and no dependency installation
#   --no-build  use the targets already built in the build folder
#   --build-only  build the targets and stop
#   --jobs N    run N targets at a time (default 1; each target is one process on one core)
#   GRANT_FUZZ_BUILD_DIR  the build folder (default build-fuzz)
#
# Crashing inputs, new corpus entries and logs stay under BUILD_DIR/fuzz-run/<target>/.
set -euo pipefail

usage() {
  sed -n '2,18s/^# \{0,1\}//p' "$0"
}

ci=0
build=1
build_only=0
jobs=1
seconds=${GRANT_FUZZ_SECONDS:-}
targets=()
all_targets=(config key key_range migration resolver sql_split url)
expect_jobs=0
for arg in "$@"; do
  if ((expect_jobs)); then
    [[ $arg =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: error: --jobs takes a positive count, not '$arg'" >&2; exit 2; }
    jobs=$arg
    expect_jobs=0
    continue
  fi
  case $arg in
    --ci) ci=1 ;;
    --no-build) build=0 ;;
    --build-only) build_only=1 ;;
    --jobs) expect_jobs=1 ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "fuzz.sh: error: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
    *)
      if [[ $arg =~ ^[0-9]+$ ]]; then
        seconds=$arg
      elif [[ " ${all_targets[*]} " == *" $arg "* ]]; then
        targets+=("$arg")
      else
        echo "fuzz.sh: error: unknown target '$arg' (targets: ${all_targets[*]})" >&2
        exit 2
      fi
      ;;
  esac
done
((!expect_jobs)) || { echo "fuzz.sh: error: --jobs needs a count" >&2; exit 2; }
((!build_only || build)) || { echo "fuzz.sh: error: --build-only and --no-build contradict" >&2; exit 2; }
if [[ -z $seconds ]]; then
  seconds=$((ci ? 10 : 60))
fi
((${#targets[@]} > 0)) || targets=("${all_targets[@]}")

cd "$(dirname "$0")/.."
root=$PWD
build_dir=${GRANT_FUZZ_BUILD_DIR:-build-fuzz}

if ((build)); then
  if ((!ci)); then
    scripts/install-deps.sh --with-fuzz
  fi
  if [[ ! -f $build_dir/CMakeCache.txt ]]; then
    generator=()
    command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
    launcher=()
    command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    # -g1: line tables are enough for a crash's stack, and compile faster than -g.
    cmake -S . -B "$build_dir" "${generator[@]}" "${launcher[@]}" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
      -DCMAKE_CXX_COMPILER=clang++ -DGRANT_FUZZ=ON -DGRANT_TESTS=OFF -DGRANT_BENCH=OFF \
      -DGRANT_EXAMPLES=OFF -DGRANT_MAN_PAGES=OFF >/dev/null
  fi
  cmake --build "$build_dir" -j "$(nproc)" --target grant_fuzz_all
fi

((!build_only)) || exit 0

run_root=$build_dir/fuzz-run
total_started=$SECONDS

# fuzz_one TARGET: the regression inputs, then a bounded run on a copy of the seed corpus.
# Writes its table row to DIR/row and what went wrong to DIR/report (printed in target order).
fuzz_one() {
  local target=$1 binary=$build_dir/fuzz/${1}_fuzz dir=$run_root/$1
  local seeds crashes=0 started rc=0 elapsed executions per_second entries artifacts artifact
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp fuzz/corpus/"$target"/* "$dir/corpus/"
  seeds=$(find "$dir/corpus" -type f | wc -l)
  exec 3>"$dir/report"

  # Inputs that once found a bug: each is run once, and must pass.
  if compgen -G "fuzz/regressions/$target/*" >/dev/null; then
    if ! "$binary" -artifact_prefix="$dir/artifacts/" fuzz/regressions/"$target"/* >"$dir/regressions.log" 2>&1; then
      echo "fuzz.sh: $target: a regression input fails again (log: $dir/regressions.log)" >&3
      tail -20 "$dir/regressions.log" >&3
      crashes=1
    fi
  fi

  started=$SECONDS
  "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/fuzz.log" 2>&1 || rc=$?
  elapsed=$((SECONDS - started))
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -1)
  per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/fuzz.log" | tail -1)
  entries=$(($(find "$dir/corpus" -type f | wc -l) - seeds))
  artifacts=$(find "$dir/artifacts" -type f | wc -l)
  if ((rc != 0)); then
    crashes=$((crashes + (artifacts > 0 ? artifacts : 1)))
    echo "fuzz.sh: $target failed (exit $rc); log: $root/$dir/fuzz.log" >&3
    grep -E '^\*\*\* |^==[0-9]+==ERROR|runtime error|^SUMMARY' "$dir/fuzz.log" | head -8 >&3 || true
    for artifact in "$dir"/artifacts/*; do
      [[ -f $artifact ]] || continue
      echo "fuzz.sh: $target: crashing input: $root/$artifact" >&3
      # A CI log is often all there is of the run: the input itself, to replay it elsewhere with
      # base64 -d > input && build-fuzz/fuzz/${target}_fuzz input
      if (($(stat -c %s "$artifact") <= 4096)); then
        echo "fuzz.sh: $target: the input as base64: $(base64 -w0 "$artifact")" >&3
      fi
    done
  fi
  exec 3>&-
  echo "$target|$elapsed|${executions:-?}|${per_second:-?}|$entries|$crashes" >"$dir/row"
}

for target in "${targets[@]}"; do
  if [[ ! -x $build_dir/fuzz/${target}_fuzz ]]; then
    echo "fuzz.sh: error: $build_dir/fuzz/${target}_fuzz is not built (run without --no-build)" >&2
    exit 1
  fi
done
running=0
for target in "${targets[@]}"; do
  if ((running >= jobs)); then
    wait -n || true
    running=$((running - 1))
  fi
  fuzz_one "$target" &
  running=$((running + 1))
done
wait || true

failed=0
rows=()
for target in "${targets[@]}"; do
  dir=$run_root/$target
  if [[ ! -f $dir/row ]]; then
    echo "fuzz.sh: $target: the run ended without a result" >&2
    failed=1
    continue
  fi
  [[ ! -s $dir/report ]] || cat "$dir/report" >&2
  rows+=("$(cat "$dir/row")")
  IFS='|' read -r _ _ _ _ _ crashes <"$dir/row"
  ((crashes == 0)) || failed=1
done

printf '\n%-10s %8s %12s %8s %12s %8s\n' target seconds executions exec/s new-entries crashes
for row in "${rows[@]}"; do
  IFS='|' read -r target elapsed executions per_second entries crashes <<<"$row"
  printf '%-10s %8s %12s %8s %12s %8s\n' "$target" "$elapsed" "$executions" "$per_second" "$entries" "$crashes"
done
printf 'fuzz.sh: %d target(s), %d at a time, %d s in all\n' "${#targets[@]}" "$jobs" "$((SECONDS - total_started))"
exit "$failed"
