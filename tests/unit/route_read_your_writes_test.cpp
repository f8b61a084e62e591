// route::RecentWrites: when a pending write holds reads, and when it is forgotten. Times are
// passed in, so nothing here sleeps; the real writer and replica: tests/integration.
#include <grant/route/prevent_writes.hpp>
#include <grant/route/read_your_writes.hpp>

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_route_read_your_writes_test {

using grant::route::RecentWrites;
using namespace std::chrono_literals;

TEST_CASE("route::RecentWrites") {
  RecentWrites writes;
  const auto now = RecentWrites::Clock::now();
  constexpr grant::route::ReplicaSet two = 0b11;

  SUBCASE("an LSN holds until every replica has replayed it") {
    writes.note("orders/s0", 1000, std::nullopt);
    auto token = writes.current("orders/s0", now, two);
    REQUIRE(token);
    CHECK(token->lsn == 1000u);
    CHECK_FALSE(token->until);
    CHECK_FALSE(writes.current("orders/s1", now, two)); // per database/shard
    writes.caught_up("orders/s0", 999, 0, two);         // not yet
    CHECK(writes.current("orders/s0", now, two)->caught_up == 0);
    writes.caught_up("orders/s0", 1000, 0, two);
    CHECK(writes.current("orders/s0", now, two)->caught_up == 0b01);
    writes.caught_up("orders/s0", 5000, 1, two);
    CHECK_FALSE(writes.current("orders/s0", now, two));
    CHECK(writes.size() == 0);
  }
  SUBCASE("a newer write moves the position forward and forgets who had caught up") {
    writes.note("app", 1000, std::nullopt);
    writes.caught_up("app", 1000, 0, two);
    writes.note("app", 2000, std::nullopt);
    auto token = writes.current("app", now, two);
    REQUIRE(token);
    CHECK(token->lsn == 2000u);
    CHECK(token->caught_up == 0);
    writes.note("app", 1500, std::nullopt); // an older position never moves it back
    CHECK(writes.current("app", now, two)->lsn == 2000u);
    writes.caught_up("app", 1999, 1, two);
    CHECK(writes.current("app", now, two)->caught_up == 0);
  }
  SUBCASE("a window holds until it has passed, then the token goes") {
    writes.note("app", std::nullopt, now + 2000ms);
    CHECK(writes.current("app", now, two));
    CHECK(writes.current("app", now + 1999ms, two));
    CHECK_FALSE(writes.current("app", now + 2000ms, two));
    CHECK(writes.size() == 0);
  }
  SUBCASE("a window and a position both have to be over") {
    writes.note("app", std::nullopt, now + 100ms);
    writes.note("app", 10, std::nullopt);
    writes.caught_up("app", 10, 0, 0b1);
    CHECK(writes.current("app", now, 0b1)); // the window is still open
    CHECK_FALSE(writes.current("app", now + 100ms, 0b1));
  }
  SUBCASE("without replicas nothing waits for a position") {
    writes.note("solo", 10, std::nullopt);
    CHECK_FALSE(writes.current("solo", now, 0));
  }
}

TEST_CASE("route::WriteRefused") {
  const grant::route::WriteRefused error("orders/s1", "INSERT", "INSERT INTO t SELECT 'postgres://grant:hunter2@db/x'");
  CHECK(error.exit_code() == 2);
  CHECK(error.keyword() == "INSERT");
  CHECK(error.where() == "orders/s1");
  const std::string what = error.what();
  CHECK(what.find("orders/s1: writes are prevented here; refused INSERT before it reached the server: INSERT INTO t") ==
        0);
  CHECK(what.find("hunter2") == std::string::npos); // the message is redacted
  CHECK(error.hint().find("Role::writing") != std::string::npos);
}

} // namespace grant_test_route_read_your_writes_test
