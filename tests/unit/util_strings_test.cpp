#include <grant/util/strings.hpp>

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_util_strings_test {

using namespace grant::util;

TEST_CASE("util::strings") {
  SUBCASE("closest_match suggests a near key and nothing for a far one") {
    CHECK(closest_match("shard", {"shards", "url"}) == "shards");
    CHECK(closest_match("migratons", {"migrations", "migrations_table"}) == "migrations");
    CHECK(closest_match("zzz", {"url", "shards"}).empty());
  }
  SUBCASE("utf8") {
    CHECK(is_valid_utf8("caf\xc3\xa9"));
    CHECK_FALSE(is_valid_utf8("caf\xc3"));
    CHECK_FALSE(is_valid_utf8("\xff"));
  }
}

} // namespace grant_test_util_strings_test
