// route::RecentWrites: when a pending write holds reads, and when it is forgotten. Times are
// passed in, so nothing here sleeps; the real writer and replica: tests/integration.
#include <grant/route/prevent_writes.hpp>
#include <grant/route/read_your_writes.hpp>

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_route_read_your_writes_test {

using grant::route::RecentWrites;
using namespace std::chrono_literals;

TEST_CASE("route::parse_position and reached") {
  using grant::route::parse_position;
  using grant::route::Position;
  using grant::route::reached;
  CHECK(parse_position("16/B374D848") == Position{{0, 0x16ull << 32 | 0xB374D848ull}}); // PostgreSQL's LSN
  CHECK(parse_position("0-1-42,1-3-7") == Position{{0, 42}, {1, 7}});                   // MariaDB's GTIDs
  CHECK_FALSE(parse_position(""));        // no binary log: nothing to wait for, the window applies
  CHECK_FALSE(parse_position("garbage")); // never a guessed position
  CHECK(reached(Position{{0, 42}}, Position{{0, 42}, {1, 1}}));
  CHECK_FALSE(reached(Position{{0, 42}, {1, 8}}, Position{{0, 50}, {1, 7}})); // one domain behind
  CHECK_FALSE(reached(Position{{1, 1}}, Position{{0, 50}}));                  // a domain it has not seen
  CHECK(reached(Position{}, Position{}));
}

TEST_CASE("route::RecentWrites") {
  using grant::route::Position;
  RecentWrites writes;
  const auto now = RecentWrites::Clock::now();
  constexpr grant::route::ReplicaSet two = 0b11;
  const auto lsn = [](std::uint64_t value) { return Position{{0, value}}; };

  SUBCASE("a position holds until every replica has replayed it") {
    writes.note("orders/s0", lsn(1000), std::nullopt);
    auto token = writes.current("orders/s0", now, two);
    REQUIRE(token);
    CHECK(token->position == lsn(1000));
    CHECK_FALSE(token->until);
    CHECK_FALSE(writes.current("orders/s1", now, two)); // per database/shard
    writes.caught_up("orders/s0", lsn(999), 0, two);    // not yet
    CHECK(writes.current("orders/s0", now, two)->caught_up == 0);
    writes.caught_up("orders/s0", lsn(1000), 0, two);
    CHECK(writes.current("orders/s0", now, two)->caught_up == 0b01);
    writes.caught_up("orders/s0", lsn(5000), 1, two);
    CHECK_FALSE(writes.current("orders/s0", now, two));
    CHECK(writes.size() == 0);
  }
  SUBCASE("a newer write moves the position forward and forgets who had caught up") {
    writes.note("app", lsn(1000), std::nullopt);
    writes.caught_up("app", lsn(1000), 0, two);
    writes.note("app", lsn(2000), std::nullopt);
    auto token = writes.current("app", now, two);
    REQUIRE(token);
    CHECK(token->position == lsn(2000));
    CHECK(token->caught_up == 0);
    writes.caught_up("app", lsn(2000), 0, two);
    writes.note("app", lsn(1500), std::nullopt); // an older position, noted late, never moves it back
    CHECK(writes.current("app", now, two)->position == lsn(2000));
    CHECK(writes.current("app", now, two)->caught_up == 0b01); // nor forgets who had caught up
    writes.caught_up("app", lsn(1999), 1, two);
    CHECK(writes.current("app", now, two)->caught_up == 0b01);
  }
  SUBCASE("GTID domains: each moves on its own, and a replica must be past all of them") {
    writes.note("app", Position{{0, 10}}, std::nullopt);
    writes.note("app", Position{{1, 5}}, std::nullopt); // another domain's write, noted by another thread
    CHECK(writes.current("app", now, two)->position == (Position{{0, 10}, {1, 5}}));
    writes.caught_up("app", Position{{0, 12}}, 0, two); // domain 1 not replayed
    CHECK(writes.current("app", now, two)->caught_up == 0);
    writes.caught_up("app", Position{{0, 12}, {1, 5}}, 0, two);
    writes.caught_up("app", Position{{0, 10}, {1, 9}}, 1, two);
    CHECK_FALSE(writes.current("app", now, two));
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
    writes.note("app", lsn(10), std::nullopt);
    writes.caught_up("app", lsn(10), 0, 0b1);
    CHECK(writes.current("app", now, 0b1)); // the window is still open
    CHECK_FALSE(writes.current("app", now + 100ms, 0b1));
  }
  SUBCASE("without replicas nothing waits for a position") {
    writes.note("solo", lsn(10), std::nullopt);
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
