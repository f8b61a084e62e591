// The pool against the real writer: contention, transactions through pooled sessions, and a
// session killed on the server side.
#include <grant/config/load.hpp>
#include <grant/registry/registry.hpp>

#include "support/support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_pool_test {

using namespace grant;
using namespace std::chrono_literals;
using grant::test::TempDir;

namespace {

config::Config config_for(const TempDir& dir, const std::string& url, const std::string& pool) {
  const std::string text = R"({"databases": {"app": {"url": ")" + url + R"(", "pool": )" + pool + "}}}";
  return config::parse(text, dir / "grant.json", config::process_env());
}

std::unique_ptr<db::Connection> admin() {
  return db::connect(util::parse_database_url(test::writer_url(), "/"), {"admin", 5000, "grant-test-admin"});
}

} // namespace

TEST_CASE("registry::pool under contention against the writer") {
  TempDir dir;
  const auto url = test::fresh_database(test::writer_url(), "pool_contention");
  const auto cfg = config_for(dir, url, R"({"size": 3, "checkout_timeout_ms": 20000})");
  registry::Registry registry(cfg);
  auto& pool = registry.writer("app");
  {
    auto c = pool.checkout();
    c->execute("CREATE TABLE hits (thread integer, n integer)");
  }

  constexpr int k_threads = 8;
  constexpr int k_rounds = 60;
  std::mutex mutex;
  std::set<std::string> pids;
  std::atomic<int> held{0};
  std::atomic<int> max_held{0};
  std::atomic<int> committed{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < k_rounds; ++i) {
        try {
          auto c = pool.checkout();
          const int now = ++held;
          int seen = max_held.load();
          while (now > seen && !max_held.compare_exchange_weak(seen, now)) {
          }
          const auto pid = c->query("SELECT pg_backend_pid()").scalar().value_or("");
          {
            std::lock_guard guard(mutex);
            pids.insert(pid);
          }
          db::Transaction tx(*c);
          c->query("INSERT INTO hits VALUES ($1, $2)", {std::to_string(t), std::to_string(i)});
          if (i % 3 != 0) {
            tx.commit();
            ++committed;
          }
          --held;
        } catch (const std::exception& error) {
          --held;
          ++errors;
          MESSAGE(error.what());
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }

  CHECK(errors == 0);
  CHECK(max_held <= 3);
  CHECK(pids.size() <= 3);
  const auto stats = pool.stats();
  CHECK(stats.checkouts == 1 + k_threads * k_rounds);
  CHECK(stats.in_use == 0);
  CHECK(stats.created <= 3);
  CHECK(stats.idle == stats.created);
  CHECK(stats.timeouts == 0);
  CHECK(stats.discarded == 0);

  // Rolled-back rounds left nothing behind; no session was left inside a transaction.
  auto c = pool.checkout();
  CHECK(c->query("SELECT count(*) FROM hits").scalar() == std::to_string(committed.load()));
  CHECK(committed == k_threads * (k_rounds - k_rounds / 3));
  const auto dbname = c->query("SELECT current_database()").scalar().value_or("");
  const auto sessions = admin()->query("SELECT count(*), count(*) FILTER (WHERE state LIKE 'idle in transaction%') "
                                       "FROM pg_stat_activity WHERE datname = $1",
                                       {dbname});
  CHECK(std::stoi(sessions.at(0, 0).value_or("99")) <= 3);
  CHECK(sessions.at(0, 1) == "0");
}

TEST_CASE("registry::pool recovers from a session killed by the server") {
  TempDir dir;
  const auto url = test::fresh_database(test::writer_url(), "pool_killed");
  const auto cfg = config_for(dir, url, R"({"size": 2, "checkout_timeout_ms": 5000})");
  registry::Registry registry(cfg);
  auto& pool = registry.writer("app");

  std::string pid;
  {
    auto c = pool.checkout();
    pid = c->query("SELECT pg_backend_pid()").scalar().value_or("");
  }
  auto server = admin();
  CHECK(server->query("SELECT pg_terminate_backend($1)", {pid}).scalar() == "t");
  for (int i = 0;
       i < 100 && server->query("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", {pid}).scalar() != "0"; ++i) {
    std::this_thread::sleep_for(20ms);
  }

  // The dead idle session is noticed at checkout and closed: the caller gets a new one.
  auto c = pool.checkout();
  CHECK(pool.stats().discarded == 1);
  CHECK(pool.stats().idle == 0);
  const auto new_pid = c->query("SELECT pg_backend_pid()").scalar().value_or("");
  CHECK(new_pid != pid);
  CHECK(c->query("SELECT 1").scalar() == "1");
  CHECK(pool.stats().created == 2);
}

TEST_CASE("registry::pool against real endpoints") {
  TempDir dir;

  SUBCASE("checkout times out while every session is held") {
    const auto cfg = config_for(dir, test::fresh_database(test::writer_url(), "pool_timeout"),
                                R"({"size": 1, "checkout_timeout_ms": 100})");
    registry::Registry registry(cfg);
    auto held = registry.writer("app").checkout();
    CHECK_THROWS_WITH_AS(registry.writer("app").checkout(), doctest::Contains("within 100 ms"), db::DbError);
    CHECK(registry.writer("app").stats().timeouts == 1);
  }

  SUBCASE("connect retries, then fails with the endpoint named and the password hidden") {
    const std::string password = test::server_env("GRANT_TEST_PG_PASSWORD");
    auto url = test::writer_url();
    url.replace(url.find(password), password.size(), "not-the-password");
    const auto cfg = config_for(dir, url, R"({"size": 1, "retry_attempts": 2, "retry_delay_ms": 50})");
    registry::Registry registry(cfg);
    try {
      registry.writer("app").checkout();
      FAIL("expected a DbError");
    } catch (const db::DbError& error) {
      CHECK(error.target() == "app");
      CHECK(std::string(error.what()).find("not-the-password") == std::string::npos);
      CHECK(std::string(error.what()).find("password authentication failed") != std::string::npos);
    }
    CHECK(registry.writer("app").stats().connect_failures == 3);
    CHECK(registry.writer("app").stats().in_use == 0);
  }
}

} // namespace grant_test_pool_test
