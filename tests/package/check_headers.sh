#!/usr/bin/env bash
# Proves that grant's installed public headers stand on their own and keep libpqxx, libpq,
# sqlite3, OpenSSL, Nettle, xxhash and cpp-httplib private:
#   1. no installed header includes one of their headers;
#   2. one translation unit including every installed header compiles with only PREFIX/include
#      on the include path, while every header of those libraries is shadowed by a stub that
#      is an #error (so a transitive include fails too, even though /usr/include has them).
#
#   tests/package/check_headers.sh PREFIX WORK_DIR
set -euo pipefail
prefix=$1
work=$2
include=$prefix/include
[[ -f $include/grant/version.hpp ]] || { echo "check_headers: $include/grant/version.hpp is missing" >&2; exit 1; }

forbidden='#[[:space:]]*include[[:space:]]*[<"](pqxx/|libpq-fe\.h|postgresql/|sqlite3\.h|sqlite3ext\.h|openssl/|nettle/|httplib\.h|xxhash\.h|pg_query)'
if grep -rEn "$forbidden" "$include"; then
  echo "check_headers: an installed header includes a private dependency's header (above)" >&2
  exit 1
fi
for internal in config/reader.hpp route/gather.hpp route/row_batch.hpp rebalance/fleet.hpp rebalance/table_sql.hpp rebalance/work.hpp; do
  if [[ -e $include/grant/$internal ]]; then
    echo "check_headers: the internal header grant/$internal was installed" >&2
    exit 1
  fi
done

rm -rf "$work"
mkdir -p "$work/poison"
# A stub for every header those libraries' development packages put on the system path.
poison() {
  local header=$1
  mkdir -p "$work/poison/$(dirname "$header")"
  printf '#error "a grant public header includes <%s>, a private dependency"\n' "$header" >"$work/poison/$header"
}
count=0
for dir in /usr/include/pqxx /usr/include/openssl /usr/include/nettle /usr/include/postgresql; do
  [[ -d $dir ]] || continue
  while IFS= read -r file; do
    poison "${file#/usr/include/}"
    # /usr/include/postgresql is on libpqxx's Cflags: its headers by bare name too.
    [[ $dir != */postgresql ]] || poison "${file#"$dir"/}"
    count=$((count + 1))
  done < <(find "$dir" -type f)
done
for header in sqlite3.h sqlite3ext.h httplib.h xxhash.h xxh3.h libpq-fe.h pg_query.h pg_query/pg_query_internal.h; do
  poison "$header"
  count=$((count + 1))
done
# The stubs themselves must fire, or the compile below proves nothing.
printf '#include <pqxx/pqxx>\n' >"$work/poison_self_test.cpp"
if c++ -std=c++20 -fsyntax-only -I"$work/poison" "$work/poison_self_test.cpp" 2>/dev/null; then
  echo "check_headers: the stub for <pqxx/pqxx> did not fire" >&2
  exit 1
fi

tu=$work/all_headers.cpp
headers=0
{
  while IFS= read -r header; do
    echo "#include <${header#"$include"/}>"
    headers=$((headers + 1))
  done < <(find "$include/grant" -name '*.hpp' | sort)
  echo 'int main() { return 0; }'
} >"$tu"
headers=$(grep -c '^#include' "$tu")
# -I puts the stubs ahead of /usr/include; -nostdinc++ is not used: the C++ library and
# nlohmann_json (a public dependency) come from the system paths as a consumer's would.
c++ -std=c++20 -Wall -Wextra -Werror -fsyntax-only -I"$work/poison" -I"$include" "$tu"
echo "check_headers: $headers installed headers compile together with only $include on the include path ($count private-dependency headers stubbed as #error); none includes pqxx, libpq, sqlite3, OpenSSL, Nettle, xxhash or cpp-httplib"
