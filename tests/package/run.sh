#!/usr/bin/env bash
# The package's own test (scripts/test.sh's "package" phase), from a built Release tree:
#   1. `cmake --install` into a scratch prefix; the public headers stand alone (check_headers.sh);
#   2. each examples/*/ project configures with find_package(grant) against that prefix only,
#      builds and runs (routing needs the servers of tests/servers.sh, as ctest's does);
#   3. grant.pc: a consumer compiles and links with `pkg-config --cflags --libs grant`;
#   4. the man pages render; the installed bash completion parses (bash -n) and completes
#      subcommands and flags in a bash session; zsh and fish scripts are installed (and parse
#      where those shells exist);
#   5. scripts/package.sh builds the .deb; it is listed, unpacked into a scratch root, and the
#      unpacked grant prints --version/--help and migrates a SQLite project; its Depends resolve.
#
#   tests/package/run.sh BUILD_DIR
# Everything goes under BUILD_DIR/package-test (fixed paths: ccache hits on a re-run).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(cd "$1" && pwd)
work=$build/package-test
prefix=$work/prefix
rm -rf "$work"
mkdir -p "$work"
step() { printf 'package: %s\n' "$*" >&2; }
fail() { printf 'package: FAILED: %s\n' "$*" >&2; exit 1; }

version=$(sed -n 's/^#define GRANT_VERSION "\(.*\)"$/\1/p' "$build/lib/generated/grant/version.hpp")
[[ -n $version ]] || fail "no GRANT_VERSION in $build/lib/generated/grant/version.hpp"
commit=unknown
if git rev-parse --short HEAD >/dev/null 2>&1; then commit=$(git rev-parse --short HEAD); fi

step "install into $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
for file in bin/grant lib/libgrant.a lib/cmake/grant/grantConfig.cmake lib/cmake/grant/grantConfigVersion.cmake \
  lib/cmake/grant/grantTargets.cmake lib/pkgconfig/grant.pc include/grant/migrate/runner.hpp include/grant/version.hpp \
  share/man/man1/grant.1 share/man/man1/grant-migrate.1 share/bash-completion/completions/grant \
  share/zsh/vendor-completions/_grant share/fish/vendor_completions.d/grant.fish \
  lib/grant/grant-postgres.so lib/grant/grant-mysql.so lib/grant/grant-serve.so; do
  [[ -f $prefix/$file ]] || fail "the install has no $file"
done
[[ $("$prefix/bin/grant" --version) == "grant $version (commit $commit)" ]] ||
  fail "installed grant --version says '$("$prefix/bin/grant" --version)', expected 'grant $version (commit $commit)'"

# The PostgreSQL adapter is a module the program loads on first use: an installed grant finds it
# (a connection error, exit 3, not "cannot load", exit 2).
postgres_reaches() {
  local program=$1 dir
  dir=$(mktemp -d "$work/postgres-XXXX")
  printf '{"databases": {"app": {"url": "postgres://u@127.0.0.1:1/app?connect_timeout=2"}}}' >"$dir/grant.json"
  mkdir -p "$dir/db/migrate/app"
  local rc=0
  (cd "$dir" && "$program" status >"$dir/out.log" 2>&1) || rc=$?
  [[ $rc == 3 ]] && grep -q "127.0.0.1" "$dir/out.log" || fail "$program with a PostgreSQL URL: exit $rc, $(cat "$dir/out.log")"
}
postgres_reaches "$prefix/bin/grant"

step "public headers"
tests/package/check_headers.sh "$prefix" "$work/headers"

launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
for project in examples/*/; do
  name=$(basename "$project")
  step "examples/$name against the install"
  cmake -S "$project" -B "$work/example-$name" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
    "${launcher[@]}" >"$work/example-$name.log" || { cat "$work/example-$name.log" >&2; fail "configuring examples/$name"; }
  # find_package must have used the scratch prefix, not some other grant on the machine.
  grep -qx "grant_DIR:PATH=$prefix/lib/cmake/grant" "$work/example-$name/CMakeCache.txt" ||
    fail "examples/$name found grant elsewhere: $(grep '^grant_DIR' "$work/example-$name/CMakeCache.txt")"
  cmake --build "$work/example-$name" -j"$(nproc)" >>"$work/example-$name.log" ||
    { cat "$work/example-$name.log" >&2; fail "building examples/$name"; }
done
step "run examples/migrate"
cmake -DPROGRAM="$work/example-migrate/grant-example-migrate" -DWORK_DIR="$work/migrate-run" \
  -P examples/migrate/check.cmake >"$work/migrate-run.log" 2>&1 || { cat "$work/migrate-run.log" >&2; fail "examples/migrate"; }
step "run examples/routing"
cmake -DPROGRAM="$work/example-routing/grant-example-routing" -P examples/routing/check.cmake \
  >"$work/routing-run.log" 2>&1 || { cat "$work/routing-run.log" >&2; fail "examples/routing"; }

step "pkg-config"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
[[ $(pkg-config --modversion grant) == "$version" ]] || fail "pkg-config --modversion grant: $(pkg-config --modversion grant)"
[[ $(pkg-config --variable=prefix grant) -ef $prefix ]] || fail "grant.pc's prefix is $(pkg-config --variable=prefix grant), not $prefix"
cat >"$work/pc_consumer.cpp" <<'CPP'
#include <grant/shard/key.hpp>
#include <grant/util/sha256.hpp>
#include <grant/version.hpp>
#include <cstdio>
int main() {
  const auto key = grant::shard::Key::from_integer(42);
  // libcrypto comes in through grant.pc's Libs.
  std::printf("%s %zu %s\n", GRANT_VERSION, key.bytes().size(), grant::util::sha256_hex("grant").c_str());
  return 0;
}
CPP
# shellcheck disable=SC2046
c++ -std=c++20 -o "$work/pc_consumer" "$work/pc_consumer.cpp" $(pkg-config --cflags --libs grant)
[[ $("$work/pc_consumer") == "$version "* ]] || fail "the pkg-config consumer printed '$("$work/pc_consumer")'"

step "man pages"
pages=("$prefix"/share/man/man1/*.1)
((${#pages[@]} >= 8)) || fail "only ${#pages[@]} man pages installed"
for page in "${pages[@]}"; do
  name=$(basename "$page" .1)
  text=$(MANWIDTH=80 man -l "$page" 2>"$work/man.err") || fail "man -l $page: $(cat "$work/man.err")"
  [[ ! -s $work/man.err ]] || fail "man -l $page warns: $(cat "$work/man.err")"
  if ! grep -q "^NAME" <<<"$text" || ! grep -q "^SYNOPSIS" <<<"$text" || ! grep -qE "^ *${name} +- " <<<"$text"; then
    fail "$page lacks NAME/SYNOPSIS for $name"
  fi
done
man_migrate=$(MANWIDTH=80 man -l "$prefix/share/man/man1/grant-migrate.1")
for command in migrate rollback redo status validate baseline repair recover; do
  grep -q "grant $command \[OPTIONS\]" <<<"$man_migrate" || fail "grant-migrate(1) does not cover grant $command"
done
grep -q -- "--atomic" <<<"$man_migrate" || fail "grant-migrate(1) lacks --atomic"

step "completions"
bash_completion=$prefix/share/bash-completion/completions/grant
bash -n "$bash_completion" || fail "bash -n $bash_completion"
# complete WORDS...: what the installed script offers for the last word, as bash would ask it.
complete_bash() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _grant; printf "%s\n" "${COMPREPLY[@]}"' \
    complete_bash "$bash_completion" "$@"
}
[[ $(complete_bash grant mig) == migrate ]] || fail "bash completes 'grant mig' to '$(complete_bash grant mig)'"
[[ $(complete_bash grant rollback --st) == --steps ]] || fail "bash completes 'grant rollback --st' to '$(complete_bash grant rollback --st)'"
# Captured first: under pipefail, `producer | grep -q` fails when grep exits at its first match
# and the producer, still writing, dies of SIGPIPE (it did in CI).
offered=$(complete_bash grant "")
grep -qx completion <<<"$offered" || fail "bash does not offer the completion command"
registration=$(bash -c 'source "$1"; complete -p grant' _ "$bash_completion")
grep -q -- "-F _grant grant" <<<"$registration" ||
  fail "the bash completion does not register itself for grant"
! command -v zsh >/dev/null 2>&1 || zsh -n "$prefix/share/zsh/vendor-completions/_grant" || fail "zsh -n _grant"
! command -v fish >/dev/null 2>&1 || fish -n "$prefix/share/fish/vendor_completions.d/grant.fish" || fail "fish -n grant.fish"

step "the .deb"
deb=$(scripts/package.sh "$build" "$work/dist" | tail -n 1)
[[ $(basename "$deb") == "grant_${version}_amd64.deb" ]] || fail "package.sh built '$deb'"
dpkg-deb -c "$deb" >"$work/deb-contents.txt"
for path in ./usr/bin/grant ./usr/share/man/man1/grant.1 ./usr/share/man/man1/grant-migrate.1 \
  ./usr/share/bash-completion/completions/grant ./usr/share/zsh/vendor-completions/_grant \
  ./usr/share/fish/vendor_completions.d/grant.fish; do
  grep -q " $path\$" "$work/deb-contents.txt" || fail "$deb lacks $path"
done
for path in ./usr/lib/grant/grant-postgres.so ./usr/lib/grant/grant-mysql.so ./usr/lib/grant/grant-serve.so; do
  grep -q " $path\$" "$work/deb-contents.txt" || fail "$deb lacks $path (a module grant loads on first use)"
done
if grep -E ' \./usr/(include|lib)/' "$work/deb-contents.txt" | grep -qvE ' \./usr/lib/(grant/(grant-[a-z]+\.so)?)?$'; then
  fail "$deb carries development files (they belong in grant-dev)"
fi
depends=$(dpkg-deb -f "$deb" Depends)
for library in libpqxx-6.4 libpq5 libsqlite3-0 libxxhash0 libnettle8 libcpp-httplib0.11; do
  grep -q "$library" <<<"$depends" || fail "$deb's Depends lacks $library: $depends"
done
root=$work/root
dpkg-deb -x "$deb" "$root"
[[ $("$root/usr/bin/grant" --version) == "grant $version (commit $commit)" ]] || fail "the unpacked grant --version: $("$root/usr/bin/grant" --version)"
postgres_reaches "$root/usr/bin/grant"
unpacked_help=$("$root/usr/bin/grant" --help)
grep -q "^Usage: grant" <<<"$unpacked_help" || fail "the unpacked grant --help"
project=$work/sqlite-project
mkdir -p "$project"
(
  cd "$project"
  unset GRANT_CONFIG
  "$root/usr/bin/grant" init >/dev/null
  file=$("$root/usr/bin/grant" generate migration create_widgets --database primary)
  [[ -f $file ]] || fail "grant generate printed '$file', not a file"
  printf -- '-- grant:up\nCREATE TABLE widgets (id integer PRIMARY KEY, name text NOT NULL);\n-- grant:down\nDROP TABLE widgets;\n' >"$file"
  "$root/usr/bin/grant" migrate >"$work/deb-migrate.log" 2>&1 || { cat "$work/deb-migrate.log" >&2; fail "the unpacked grant migrate"; }
  "$root/usr/bin/grant" status --exit-code >/dev/null || fail "status --exit-code after migrate: something still pending"
  [[ $("$root/usr/bin/grant" --json status | grep -c create_widgets) -ge 1 ]] || fail "status does not list create_widgets"
  [[ -f db/primary.sqlite3 ]] || fail "migrate did not create db/primary.sqlite3"
)
for page in grant grant-migrate grant-shard grant-lint grant-health grant-serve grant-query grant-rebalance grant-config grant-init; do
  MANWIDTH=80 man -l "$root/usr/share/man/man1/$page.1" >/dev/null 2>&1 || fail "the .deb's $page(1) does not render"
done
bash -n "$root/usr/share/bash-completion/completions/grant" || fail "bash -n on the .deb's completion"
if command -v apt-get >/dev/null 2>&1 && ((EUID == 0)); then
  # A dry run of installing it: every Depends resolves on this Debian (nothing is changed).
  apt-get install --simulate "$deb" >"$work/apt-simulate.log" 2>&1 || { cat "$work/apt-simulate.log" >&2; fail "apt-get --simulate install $deb"; }
fi
examples=(examples/*/)
step "passed: install, ${#examples[@]} examples, headers, pkg-config, man pages, completions, $(basename "$deb")"
