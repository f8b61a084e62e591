// Chaos for db::Connection's reply timeout: a session behind the fault proxy that stalls is given
// up within its bound; a slow statement that answers in time is not touched.
#include <grant/db/connection.hpp>

#include "support/fault_proxy.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <chrono>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_chaos_reply_timeout_test {

using namespace grant;
using namespace std::chrono_literals;

TEST_CASE("chaos::reply timeout on a stalled session") {
  test::FaultProxy proxy(test::writer_url());
  auto connection = db::connect(util::parse_database_url(proxy.url(), "/"), {"stalled", 2000, "grant-chaos"});
  connection->set_reply_timeout(2000ms);

  SUBCASE("a slow statement that answers within the bound") {
    CHECK(connection->query("SELECT pg_sleep(0.3), 1").at(0, 1) == "1");
    CHECK(connection->is_usable());
  }
  SUBCASE("a stalled statement: a lost connection after the bound, not a hang") {
    proxy.add_rule("SELECT 'stall me'", test::FaultProxy::Action::stall);
    connection->set_reply_timeout(500ms);
    const auto started = std::chrono::steady_clock::now();
    try {
      connection->query("SELECT 'stall me'");
      FAIL("a stalled statement must not return");
    } catch (const db::DbError& error) {
      CHECK(error.connection_lost());
      CHECK(test::contains(error.what(), "no reply from stalled within 500 ms"));
    }
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(took >= 500ms);
    CHECK(took < 5s);
    CHECK(proxy.fired() == 1);
    CHECK_FALSE(connection->is_usable());
    CHECK_FALSE(connection->check_idle());
    proxy.release();
  }
  SUBCASE("no bound: the default") {
    connection->set_reply_timeout(0ms);
    CHECK(connection->query("SELECT pg_sleep(0.3), 1").at(0, 1) == "1");
    CHECK(connection->is_usable());
    CHECK(connection->check_idle());
  }
}

} // namespace grant_test_chaos_reply_timeout_test
