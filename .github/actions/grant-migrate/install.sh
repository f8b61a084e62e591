#!/usr/bin/env bash
# The grant-migrate action's first step: a grant on PATH, built from the action's own checkout
# (the repository the action lives in) when there is none or GRANT_ACTION_INSTALL=build.
set -euo pipefail
if [[ ${GRANT_ACTION_INSTALL:-auto} == auto ]] && command -v grant >/dev/null 2>&1; then
  echo "grant-migrate: using $(command -v grant) ($(grant --version))"
  exit 0
fi
root=$(cd "$(dirname "$0")/../../.." && pwd)
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$root/build-action" -DCMAKE_BUILD_TYPE=Release -DGRANT_TESTS=OFF -DGRANT_BENCH=OFF -DGRANT_EXAMPLES=OFF
cmake --build "$root/build-action" -j"$(nproc)" --target grant_exe
sudo=()
((EUID == 0)) || sudo=(sudo)
"${sudo[@]}" install -m 0755 "$root/build-action/grant" /usr/local/bin/grant
# The modules grant loads on first use (the PostgreSQL adapter, grant serve's HTTP listener), where
# the program looks for them: bin/../lib/grant for this build's /usr/local prefix.
"${sudo[@]}" install -D -m 0644 -t /usr/local/lib/grant "$root/build-action/grant-postgres.so" "$root/build-action/grant-mysql.so" "$root/build-action/grant-serve.so"
grant --version
