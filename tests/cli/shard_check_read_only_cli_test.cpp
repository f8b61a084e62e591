// shard-check only reads: SQLite shards that do not exist yet are reported, never created.
#include "support/support.hpp"

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_shard_check_read_only_cli_test {

using grant::test::contains;
using grant::test::run_grant;
using grant::test::TempDir;

TEST_CASE("cli: shard-check creates no SQLite file") {
  TempDir dir;
  dir.write("grant.json",
            R"({"databases": {"orders": {"shards": [{"url": "sqlite3:s0.sqlite3"}, {"url": "sqlite3:s1.sqlite3"}],
    "sharding": {"key": "user_id", "resolver": {"type": "modulo"}}}}})");
  const auto run = run_grant({"shard-check"}, dir.path());
  INFO(run.out, run.err);
  CHECK(run.exit_code == 1);
  CHECK(contains(run.out, "no such file: "));
  CHECK(!std::filesystem::exists(dir / "s0.sqlite3"));
  CHECK(!std::filesystem::exists(dir / "s1.sqlite3"));
}

} // namespace grant_test_shard_check_read_only_cli_test
