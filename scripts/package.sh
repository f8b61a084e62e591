#!/usr/bin/env bash
# Builds the Debian packages from a Release tree with CPack: grant_<version>_amd64.deb (the
# program, man pages, completions) and grant-dev_<version>_amd64.deb (library, headers, CMake
# package, grant.pc). Prints the path of grant_<version>_amd64.deb last.
#
#   scripts/package.sh [BUILD_DIR] [OUT_DIR]   (defaults: build, dist)
#
# BUILD_DIR is configured (Release) and built first if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=${2:-dist}
if [[ ! -f $build/CPackConfig.cmake ]]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >&2
fi
targets=(grant_exe grant grant_completions)
# (grep reads the whole list: with pipefail, an early exit would fail make's write.)
if cmake --build "$build" --target help | grep '\bgrant_man\b' >/dev/null; then targets+=(grant_man); fi
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >&2
mkdir -p "$out"
out=$(cd "$out" && pwd)
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$out" >"$out/cpack.log" 2>&1 || {
  cat "$out/cpack.log" >&2
  echo "package.sh: error: cpack failed" >&2
  exit 1
}
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
deb=$out/grant_${version}_amd64.deb
[[ -f $deb ]] || { echo "package.sh: error: cpack did not write $deb" >&2; ls "$out" >&2; exit 1; }
ls "$out"/*.deb >&2
echo "$deb"
