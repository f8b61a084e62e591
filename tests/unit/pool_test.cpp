// Pool logic against a fake connection. A real server cannot produce these situations on demand:
// an exact number of connect failures followed by success, 3200 checkouts with no server latency
// to hide a race, a connection that reports itself broken at a chosen moment, and a connection
// handed back while a Transaction is still open on it. Tests against the real writer live in
// tests/integration/pool_test.cpp.
#include <grant/registry/pool.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <new>
#include <set>
#include <string>
#include <thread>
#include <vector>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_pool_test {

using namespace grant;
using namespace std::chrono_literals;
using registry::Pool;
using registry::PooledConnection;
using registry::PoolOptions;

namespace {

// Shared by the factory and every connection it makes.
struct World {
  std::atomic<int> next_id{1};
  std::atomic<int> alive{0}; ///< connections not yet destroyed
  std::atomic<int> held{0};  ///< connections checked out right now
  std::atomic<int> max_held{0};
  std::atomic<int> fail_next{0}; ///< the factory fails this many more times
};

class FakeConnection final : public db::Connection {
public:
  explicit FakeConnection(World& world) : Connection("fake"), m_world(world), m_id(world.next_id++) { ++m_world.alive; }
  ~FakeConnection() override { --m_world.alive; }

  db::Dialect dialect() const override { return db::Dialect::postgres; }
  void execute(std::string_view sql) override {
    if (fail_on.count(std::string(sql)) != 0) {
      throw db::DbError("database is locked", {"fake", std::string(sql), {}, 5, false, 0});
    }
  }
  db::Rows query(std::string_view, const db::Params&) override { return {}; }
  void stream(std::string_view, const db::RowCallback&) override {}
  void stream_result(std::string_view, db::ResultSink&, const db::StreamOptions&) override {}
  void interrupt() noexcept override {}
  void set_statement_timeout(std::chrono::milliseconds) override {}
  std::string reset_session_sql() const override { return {}; }
  bool in_recovery() override { return false; }
  std::string server_version() override { return "fake"; }
  bool is_usable() const noexcept override { return !broken; }

  int id() const { return m_id; }
  bool broken = false;
  std::set<std::string> fail_on; ///< statements that fail, e.g. a COMMIT that meets SQLITE_BUSY

protected:
  std::string begin_statement(const db::TxOptions&) const override { return "BEGIN"; }

private:
  World& m_world;
  int m_id;
};

Pool::Factory factory_of(World& world) {
  return [&world]() -> std::unique_ptr<db::Connection> {
    if (world.fail_next > 0) {
      --world.fail_next;
      throw db::DbError("connection refused", {"fake", {}, {}, 0, true, 0});
    }
    return std::make_unique<FakeConnection>(world);
  };
}

PoolOptions options(std::size_t size, std::chrono::milliseconds checkout_timeout = 5000ms) {
  PoolOptions out;
  out.max_size = size;
  out.max_idle = size;
  out.checkout_timeout = checkout_timeout;
  out.retry_attempts = 0;
  out.retry_delay = 0ms;
  return out;
}

int id_of(const PooledConnection& connection) {
  return dynamic_cast<FakeConnection&>(*connection).id();
}

} // namespace

TEST_CASE("registry::pool under many threads") {
  World world;
  Pool pool("fake", factory_of(world), options(4));
  constexpr int k_threads = 16;
  constexpr int k_checkouts = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < k_checkouts; ++i) {
        try {
          auto connection = pool.checkout();
          const int now = ++world.held;
          int seen = world.max_held.load();
          while (now > seen && !world.max_held.compare_exchange_weak(seen, now)) {
          }
          if (i % 7 == 0) {
            std::this_thread::yield();
          }
          --world.held;
        } catch (...) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  const auto stats = pool.stats();
  CHECK(failures == 0);
  CHECK(world.max_held <= 4);
  CHECK(world.alive <= 4);
  CHECK(stats.checkouts == k_threads * k_checkouts);
  CHECK(stats.in_use == 0);
  CHECK(stats.created <= 4);
  CHECK(stats.created >= 1);
  CHECK(stats.idle == stats.created); // nothing was discarded, everything came back
  CHECK(stats.timeouts == 0);
  CHECK(stats.discarded == 0);
  CHECK(stats.idle == static_cast<std::size_t>(world.alive.load()));
}

TEST_CASE("registry::pool checkout timeout") {
  World world;
  Pool pool("orders/s1", factory_of(world), options(2, 80ms));
  auto first = pool.checkout();
  auto second = pool.checkout();

  SUBCASE("fires when every connection is held, and is counted") {
    const auto start = std::chrono::steady_clock::now();
    try {
      pool.checkout();
      FAIL("expected a DbError");
    } catch (const db::DbError& error) {
      const std::string what = error.what();
      CHECK(what.find("orders/s1") != std::string::npos);
      CHECK(what.find("80 ms") != std::string::npos);
      CHECK(error.hint().find("pool.size") != std::string::npos);
    }
    CHECK(std::chrono::steady_clock::now() - start >= 75ms);
    const auto stats = pool.stats();
    CHECK(stats.timeouts == 1);
    CHECK(stats.waits == 1);
    CHECK(stats.in_use == 2);
    CHECK(stats.created == 2);
  }

  SUBCASE("a waiting checkout wakes as soon as a connection comes back") {
    Pool slow("fake", factory_of(world), options(2, 10s));
    auto a = slow.checkout();
    auto b = slow.checkout();
    const int returned_id = id_of(a);
    std::atomic<int> got_id{0};
    const auto start = std::chrono::steady_clock::now();
    std::thread waiter([&] { got_id = id_of(slow.checkout()); });
    std::this_thread::sleep_for(50ms);
    a = PooledConnection{}; // check in
    waiter.join();
    CHECK(got_id == returned_id);
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    CHECK(slow.stats().waits == 1);
    CHECK(slow.stats().timeouts == 0);
  }
}

TEST_CASE("registry::pool discards what must not be reused") {
  World world;
  Pool pool("fake", factory_of(world), options(2));

  SUBCASE("a connection marked broken is discarded, not handed out again") {
    int broken_id = 0;
    {
      auto connection = pool.checkout();
      broken_id = id_of(connection);
      dynamic_cast<FakeConnection&>(*connection).broken = true;
    }
    CHECK(world.alive == 0); // closed on check-in
    auto next = pool.checkout();
    CHECK(id_of(next) != broken_id);
    const auto stats = pool.stats();
    CHECK(stats.discarded == 1);
    CHECK(stats.created == 2);
  }

  SUBCASE("a healthy connection is reused") {
    int first_id = 0;
    {
      auto connection = pool.checkout();
      first_id = id_of(connection);
    }
    CHECK(id_of(pool.checkout()) == first_id);
    CHECK(pool.stats().created == 1);
  }

  SUBCASE("discard() closes it and frees the slot") {
    auto connection = pool.checkout();
    auto other = pool.checkout();
    connection.discard();
    CHECK_FALSE(connection);
    CHECK(world.alive == 1);
    auto third = pool.checkout(); // would time out if the slot were still counted
    CHECK(pool.stats().discarded == 1);
    CHECK(pool.stats().in_use == 2);
  }

  SUBCASE("a connection returned mid-transaction is discarded") {
    // The Transaction outlives the connection on purpose; storage without a destructor call keeps
    // its rollback from touching the connection the pool has already closed.
    alignas(db::Transaction) std::byte storage[sizeof(db::Transaction)];
    int id = 0;
    {
      auto connection = pool.checkout();
      id = id_of(connection);
      new (storage) db::Transaction(*connection);
      CHECK(connection->transaction_depth() == 1);
    }
    CHECK(world.alive == 0);
    auto next = pool.checkout();
    CHECK(id_of(next) != id);
    CHECK(next->transaction_depth() == 0);
    CHECK(pool.stats().discarded == 1);
  }

  SUBCASE("a failed COMMIT is rolled back, and the connection reused only if that worked") {
    int id = 0;
    {
      auto connection = pool.checkout();
      id = id_of(connection);
      auto& fake = static_cast<FakeConnection&>(*connection);
      fake.fail_on = {"COMMIT"};
      db::Transaction tx(*connection);
      CHECK_THROWS_AS(tx.commit(), db::DbError);
      CHECK_FALSE(connection->is_abandoned()); // the ROLLBACK after it worked
      CHECK(connection->transaction_depth() == 0);
      fake.fail_on = {"COMMIT", "ROLLBACK"};
      db::Transaction again(*connection);
      CHECK_THROWS_AS(again.commit(), db::DbError);
      CHECK(connection->is_abandoned());
    }
    CHECK(world.alive == 0);
    CHECK(id_of(pool.checkout()) != id);
    CHECK(pool.stats().discarded == 1);
  }

  SUBCASE("a finished transaction does not stop reuse") {
    int id = 0;
    {
      auto connection = pool.checkout();
      id = id_of(connection);
      db::Transaction tx(*connection);
      db::Transaction savepoint(*connection);
      savepoint.rollback();
      tx.commit();
    }
    CHECK(id_of(pool.checkout()) == id);
    CHECK(pool.stats().discarded == 0);
  }
}

TEST_CASE("registry::pool retries a failed connect") {
  World world;
  auto opts = options(1, 10s);
  opts.retry_attempts = 2;
  opts.retry_delay = 40ms;

  SUBCASE("with a delay, then succeeds") {
    Pool pool("fake", factory_of(world), opts);
    world.fail_next = 2;
    const auto start = std::chrono::steady_clock::now();
    auto connection = pool.checkout();
    CHECK(connection);
    CHECK(std::chrono::steady_clock::now() - start >= 80ms); // two delays
    const auto stats = pool.stats();
    CHECK(stats.connect_failures == 2);
    CHECK(stats.created == 1);
    CHECK(stats.in_use == 1);
  }

  SUBCASE("gives up after the last attempt and frees its slot") {
    Pool pool("fake", factory_of(world), opts);
    world.fail_next = 3;
    CHECK_THROWS_WITH_AS(pool.checkout(), "connection refused", db::DbError);
    auto stats = pool.stats();
    CHECK(stats.connect_failures == 3);
    CHECK(stats.created == 0);
    CHECK(stats.in_use == 0);
    // The server is back: the single slot is free again (a leaked slot would time out here).
    auto connection = pool.checkout();
    CHECK(connection);
    CHECK(pool.stats().created == 1);
  }

  SUBCASE("no retries when retry_attempts is 0") {
    opts.retry_attempts = 0;
    Pool pool("fake", factory_of(world), opts);
    world.fail_next = 1;
    CHECK_THROWS_AS(pool.checkout(), db::DbError);
    CHECK(pool.stats().connect_failures == 1);
  }
}

TEST_CASE("registry::pool max_idle") {
  World world;
  auto opts = options(4);
  opts.max_idle = 1;
  Pool pool("fake", factory_of(world), opts);
  {
    auto a = pool.checkout();
    auto b = pool.checkout();
    auto c = pool.checkout();
    CHECK(world.alive == 3);
  }
  CHECK(pool.stats().idle == 1);
  CHECK(world.alive == 1);            // the others were closed, not kept
  CHECK(pool.stats().discarded == 0); // closing surplus idle connections is not a discard
}

TEST_CASE("registry::pool moves") {
  World world;
  Pool pool("fake", factory_of(world), options(1, 50ms));
  auto a = pool.checkout();
  PooledConnection b = std::move(a);
  CHECK_FALSE(a);
  CHECK(b);
  PooledConnection c;
  c = std::move(b);
  CHECK(pool.stats().in_use == 1);
  c = PooledConnection{};
  CHECK(pool.stats().in_use == 0);
  CHECK(pool.stats().idle == 1);
}

} // namespace grant_test_pool_test
