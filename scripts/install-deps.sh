#!/usr/bin/env bash
# Installs the Debian 12 packages grant needs to build and test. Idempotent: when everything
# is present it runs one dpkg-query and exits.
#
#   scripts/install-deps.sh [--with-postgres] [--with-shells] [--with-bench] [--with-fuzz] [--with-format]
#
#   --with-postgres  also the test servers of tests/servers.sh (integration tests): PostgreSQL 15
#                    server and client, and MariaDB 10.11's server and client programs without the
#                    system service (mariadb-server-core, mariadb-client: nothing starts on install)
#   --with-shells    also zsh and fish, which check the completion scripts grant generates
#   --with-bench     also what bench/*.sh compare against or measure with: the sqlite3 shell, strace,
#                    wrk and GNU time
#   --with-fuzz      also clang and libFuzzer, for the fuzz targets under fuzz/ (scripts/fuzz.sh)
#   --with-format    also clang-format, which scripts/test.sh runs over every C++ file
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libpqxx-dev libmariadb-dev libsqlite3-dev libcli11-dev nlohmann-json3-dev doctest-dev
  nettle-dev libxxhash-dev libbenchmark-dev libcpp-httplib-dev libpg-query-dev
  help2man man-db dpkg-dev mold
)

usage() {
  sed -n '2,/^set /s/^# \{0,1\}//p' "$0"
}

for arg in "$@"; do
  case $arg in
    --with-postgres) packages+=(postgresql-15 postgresql-client-15 mariadb-server-core mariadb-client) ;;
    --with-shells) packages+=(zsh fish) ;;
    --with-bench) packages+=(sqlite3 strace wrk time) ;; # libbenchmark-dev is in the base list
    --with-fuzz) packages+=(clang libfuzzer-14-dev) ;;
    --with-format) packages+=(clang-format) ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install-deps.sh: error: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-deps.sh: error: dpkg-query not found; this script supports Debian 12 only" >&2
  exit 1
fi

# One dpkg-query for all packages; unknown packages go to stderr and are simply "not installed".
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)
missing=()
for pkg in "${packages[@]}"; do
  if ! grep -qx "$pkg install ok installed" <<<"$installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps.sh: all dependencies present"
  exit 0
fi

sudo=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "install-deps.sh: error: not root and sudo is not installed; as root run:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-deps.sh: installing ${missing[*]}" >&2
if ! "${sudo[@]}" apt-get update -qq >&2; then
  echo "install-deps.sh: error: apt-get update failed" >&2
  exit 1
fi
if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
  echo "install-deps.sh: error: apt-get install ${missing[*]} failed" >&2
  exit 1
fi
echo "install-deps.sh: installed ${missing[*]}"
