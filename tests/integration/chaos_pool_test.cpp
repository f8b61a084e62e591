// Chaos for registry::Pool on real servers: more threads than connections for longer than the
// checkout timeout, and a server restarted under a pool in use (a test::PgPair of its own).
#include <grant/registry/pool.hpp>

#include "support/leak_allowed.hpp"
#include "support/pg_pair.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <thread>
#include <vector>

#include <unistd.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_chaos_pool_test {

using namespace grant;
using namespace std::chrono_literals;

namespace {

registry::Pool pool_on(const std::string& url, const std::string& application, std::size_t size,
                       std::chrono::milliseconds checkout_timeout) {
  const auto parsed = util::parse_database_url(url, "/");
  registry::PoolOptions options;
  options.max_size = size;
  options.max_idle = size;
  options.checkout_timeout = checkout_timeout;
  options.retry_attempts = 0;
  return registry::Pool(
      "chaos",
      [parsed, application] {
        return db::connect(parsed, {"chaos", 2000, application});
      },
      options);
}

int sessions_of(const std::string& url, const std::string& application) {
  auto admin = db::connect(util::parse_database_url(url, "/"), {"admin", 2000, "grant-test-admin"});
  return std::stoi(admin->query("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", {application})
                       .scalar()
                       .value_or("-1"));
}

std::string backend_pid(db::Connection& connection) {
  return connection.query("SELECT pg_backend_pid()").scalar().value_or("");
}

} // namespace

TEST_CASE("chaos::pool exhaustion: more threads than connections past the checkout timeout") {
  const auto url = test::fresh_database(test::writer_url(), "chaos_pool");
  const std::string application = "grant-chaos-pool-" + std::to_string(::getpid());
  auto pool = pool_on(url, application, 2, 300ms);

  // Each holder keeps its session twice as long as a waiter may wait: the waiters time out.
  constexpr int k_threads = 8;
  std::atomic<int> served{0};
  std::atomic<int> timed_out{0};
  std::atomic<int> other{0};
  std::latch start(k_threads);
  std::vector<std::future<void>> threads;
  const auto began = std::chrono::steady_clock::now();
  for (int t = 0; t < k_threads; ++t) {
    threads.push_back(std::async(std::launch::async, [&] {
      start.arrive_and_wait();
      try {
        auto connection = pool.checkout();
        connection->query("SELECT pg_sleep(0.6)");
        ++served;
      } catch (const db::DbError& error) {
        ++(test::contains(error.what(), "became free within 300 ms") ? timed_out : other);
      }
    }));
  }
  for (auto& thread : threads) {
    REQUIRE_MESSAGE(thread.wait_for(20s) == std::future_status::ready, "a checkout is stuck: deadlock");
  }
  const auto took = std::chrono::steady_clock::now() - began;

  CHECK(other == 0);
  CHECK(served >= 2);
  CHECK(timed_out >= 1);
  CHECK(served + timed_out == k_threads);
  CHECK(took < 10s);
  const auto stats = pool.stats();
  CHECK(stats.checkouts == k_threads);
  CHECK(stats.timeouts == static_cast<std::uint64_t>(timed_out.load()));
  CHECK(stats.waits >= stats.timeouts);
  CHECK(stats.in_use == 0);
  CHECK(pool.in_use() == 0);
  CHECK(stats.created <= 2);
  CHECK(stats.idle == stats.created);
  CHECK(stats.discarded == 0);
  // Every session came back: the server sees no more than the pool's size, and a checkout now
  // gets one at once.
  CHECK(sessions_of(url, application) <= 2);
  const auto again = std::chrono::steady_clock::now();
  auto connection = pool.checkout();
  CHECK(connection->query("SELECT 1").scalar() == "1");
  CHECK(std::chrono::steady_clock::now() - again < 250ms);
}

TEST_CASE("chaos::pool server restart: broken connections discarded, the next checkout reconnects") {
  test::PgPair pair;
  const std::string application = "grant-chaos-restart";
  auto pool = pool_on(pair.writer_url(), application, 2, 2000ms);
  std::string first_pid;
  {
    auto a = pool.checkout();
    auto b = pool.checkout();
    first_pid = backend_pid(*a);
    CHECK(backend_pid(*b) != first_pid);
  }
  REQUIRE(pool.stats().idle == 2);

  SUBCASE("idle sessions: dropped at the first checkout after the restart") {
    pair.stop_writer();
    pair.start_writer();
    auto connection = pool.checkout();
    CHECK(connection->query("SELECT 1").scalar() == "1"); // not the dead session's lost connection
    CHECK(backend_pid(*connection) != first_pid);
    const auto stats = pool.stats();
    CHECK(stats.discarded == 2);
    CHECK(stats.created == 3);
    CHECK(stats.idle == 0);
  }
  SUBCASE("a session in use: its statement fails, it is discarded on check-in, the next one reconnects") {
    auto held = pool.checkout();
    pair.stop_writer();
    pair.start_writer();
    {
      test::LibpqxxLeakAllowed known_leak;
      try {
        held->query("SELECT 1");
        FAIL("a statement on a session the restart ended must fail");
      } catch (const db::DbError& error) {
        CHECK(error.connection_lost());
      }
    }
    CHECK_FALSE(held->is_usable());
    held = {};
    CHECK(pool.stats().in_use == 0);
    auto connection = pool.checkout();
    CHECK(connection->query("SELECT 1").scalar() == "1");
    const auto stats = pool.stats();
    CHECK(stats.discarded == 2); // the one in use on check-in, the idle one at this checkout
    CHECK(stats.created == 3);
  }
  CHECK(sessions_of(pair.writer_url(), application) == 1);
}

} // namespace grant_test_chaos_pool_test
