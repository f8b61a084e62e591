#!/usr/bin/env bash
# From a fresh clone to a migrated database: installs the build dependencies (no PostgreSQL
# server), builds Release into build/, then runs
#   ./build/grant --config db/grant.json migrate
#   ./build/grant --config db/grant.json status
# and exits with the first failing status (0 when both succeed).
set -euo pipefail

cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
# Only the program: the tests and benchmarks are scripts/test.sh's business.
cmake --build build -j"$(nproc)" --target grant_exe

if [[ ! -x build/grant ]]; then
  echo "quickstart.sh: error: the build did not produce build/grant" >&2
  exit 1
fi

echo "==> grant migrate" >&2
./build/grant --config db/grant.json migrate
echo "==> grant status" >&2
./build/grant --config db/grant.json status
