// Read-your-writes through route::Router on the real writer and its streaming replica: reads
// after a write see it, from many threads; with replay paused they go to the writer (lsn mode);
// the time window alone lets a stale replica serve once it has passed, which is why lsn is the
// default.
#include <grant/config/load.hpp>
#include <grant/health/monitor.hpp>
#include <grant/route/router.hpp>

#include "support/pg_pair.hpp"
#include "support/replica.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_route_read_your_writes_test {

using namespace grant;
using namespace std::chrono_literals;
using registry::Role;

namespace {

std::unique_ptr<db::Connection> open(const std::string& url) {
  return db::connect(util::parse_database_url(url, {}), {"ryw-test", 5000, "grant-test"});
}

std::string scalar(const std::string& url, const std::string& sql) {
  return open(url)->query(sql).scalar().value_or("NULL");
}

// A fresh database on the writer with a table `seen`, present on the replica too; its config.
struct Setup {
  test::TempDir dir;
  std::string writer;
  std::string replica;
  config::Config config;

  explicit Setup(const std::string& routing) {
    writer = test::fresh_database(test::writer_url(), "ryw");
    replica = test::with_dbname(test::replica_url(), writer.substr(writer.rfind('/') + 1));
    open(writer)->execute("CREATE TABLE seen (thread int, i int, PRIMARY KEY (thread, i))");
    REQUIRE(test::eventually([&] {
      try {
        return scalar(replica, "SELECT to_regclass('seen') IS NOT NULL") == "t";
      } catch (const std::exception&) {
        return false;
      }
    }));
    const auto json = R"({"databases": {"app": {"url": ")" + writer + R"(", "replicas": [{"name": "r1", "url": ")" +
                      replica + R"("}], "pool": {"size": 8}, "health": {"max_lag_ms": 60000}, "routing": )" + routing +
                      "}}}";
    config = config::parse(json, dir.write("grant.json", json), config::process_env());
  }
};

} // namespace

TEST_CASE("route::Router read-your-writes (lsn): every read after a write sees it, from 4 threads") {
  Setup setup(R"({"read_your_writes": "lsn"})");
  registry::Registry registry(setup.config);
  std::vector<const config::Database*> databases{&setup.config.databases[0]};
  health::MonitorOptions monitor_options;
  monitor_options.interval = 100ms;
  health::Monitor monitor(databases, {}, monitor_options);

  SUBCASE("without a monitor (each read after a write asks the replica)") {
    route::Router router(registry);
    std::atomic<int> stale{0};
    std::atomic<int> on_replica{0};
    std::atomic<int> on_writer{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 100; ++i) {
          router.with_connection("app", Role::writing, {}, [&](route::Session& session) {
            session.query("INSERT INTO seen VALUES ($1, $2)", {std::to_string(t), std::to_string(i)});
          });
          router.with_connection("app", Role::reading, {}, [&](route::Session& session) {
            const auto found = session.query("SELECT count(*) FROM seen WHERE thread = $1 AND i = $2",
                                             {std::to_string(t), std::to_string(i)});
            if (found.scalar() != db::Value{"1"}) {
              ++stale;
            }
            ++(session.on_replica() ? on_replica : on_writer);
          });
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    MESSAGE("reads on the replica: " << on_replica.load() << ", kept on the writer: " << on_writer.load());
    CHECK(stale == 0);
    CHECK(on_replica + on_writer == 400);
    const auto stats = router.stats();
    CHECK(stats.writes_noted == 400);
    CHECK(stats.kept_on_writer == static_cast<std::uint64_t>(on_writer.load()));
    CHECK(stats.replay_checks > 0);
    // Once the replica has caught up, reads go to it again and the token is gone.
    CHECK(test::eventually([&] {
      return router.with_connection("app", Role::reading, {}, [](route::Session& s) { return s.on_replica(); });
    }));
    CHECK(router.pending_writes() == 0);
  }

  SUBCASE("with the health monitor's replay positions") {
    monitor.start();
    route::RouterOptions options;
    options.health = route::from_monitor(monitor);
    route::Router router(registry, options);
    REQUIRE(test::eventually([&] { return !router.balancer("app").pick().is_writer(); }));
    std::atomic<int> stale{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 50; ++i) {
          router.with_connection("app", Role::writing, {}, [&](route::Session& session) {
            session.query("INSERT INTO seen VALUES ($1, $2)", {std::to_string(t), std::to_string(i)});
          });
          router.with_connection("app", Role::reading, {}, [&](route::Session& session) {
            if (session
                    .query("SELECT count(*) FROM seen WHERE thread = $1 AND i = $2",
                           {std::to_string(t), std::to_string(i)})
                    .scalar() != db::Value{"1"}) {
              ++stale;
            }
          });
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    monitor.stop();
    CHECK(stale == 0);
    CHECK(router.stats().writes_noted == 200);
  }
}

TEST_CASE("route::Router read-your-writes: with replay paused, reads go to the writer and see the write") {
  Setup setup(R"({"read_your_writes": "lsn", "read_your_writes_ms": 100})");
  registry::Registry registry(setup.config);
  route::Router router(registry);
  // Reads go to the replica while nothing was written.
  CHECK(router.with_connection("app", Role::reading, {}, [](route::Session& s) { return s.on_replica(); }));
  {
    test::ReplayPause pause;
    router.with_connection("app", Role::writing, {},
                           [](route::Session& session) { session.execute("INSERT INTO seen VALUES (0, 1)"); });
    std::this_thread::sleep_for(200ms); // past read_your_writes_ms: only the LSN holds the reads now
    for (int i = 0; i < 20; ++i) {
      router.with_connection("app", Role::reading, {}, [](route::Session& session) {
        CHECK(session.kept_on_writer());
        CHECK_FALSE(session.on_replica());
        CHECK(session.query("SELECT count(*) FROM seen").scalar() == db::Value{"1"});
      });
    }
    CHECK(router.stats().kept_on_writer == 20);
    CHECK(router.stats().replay_checks == 20);
    CHECK(scalar(setup.replica, "SELECT count(*) FROM seen") == "0"); // the replica really is behind
    // A write made outside the router, noted with its session: held by its position too.
    auto outside = open(setup.writer);
    outside->execute("INSERT INTO seen VALUES (0, 2)");
    router.note_write("app", {}, outside.get());
    router.with_connection("app", Role::reading, {}, [](route::Session& session) {
      CHECK(session.kept_on_writer());
      CHECK(session.query("SELECT count(*) FROM seen").scalar() == db::Value{"2"});
    });
    CHECK(router.stats().replay_checks == 21);
  }
  // Replay resumed: the replica catches up and serves again, with the row.
  CHECK(test::eventually([&] {
    return router.with_connection("app", Role::reading, {}, [](route::Session& session) {
      return session.on_replica() && session.query("SELECT count(*) FROM seen").scalar() == db::Value{"2"};
    });
  }));
  CHECK(router.pending_writes() == 0);
}

TEST_CASE("route::Router read-your-writes: the window keeps reads on the writer for its length only") {
  Setup setup(R"({"read_your_writes": "window", "read_your_writes_ms": 400})");
  registry::Registry registry(setup.config);
  route::Router router(registry);
  test::ReplayPause pause;
  const auto started = std::chrono::steady_clock::now();
  router.with_connection("app", Role::writing, {},
                         [](route::Session& session) { session.execute("INSERT INTO seen VALUES (0, 1)"); });
  router.with_connection("app", Role::reading, {}, [&](route::Session& session) {
    if (std::chrono::steady_clock::now() - started < 400ms) {
      CHECK(session.kept_on_writer());
      CHECK(session.query("SELECT count(*) FROM seen").scalar() == db::Value{"1"});
    }
  });
  CHECK(router.stats().replay_checks == 0); // window mode never asks the replica
  std::this_thread::sleep_for(500ms);
  // Past the window the replica serves although it has not replayed the write: the stale read
  // that lsn mode prevents.
  router.with_connection("app", Role::reading, {}, [](route::Session& session) {
    CHECK(session.on_replica());
    CHECK(session.query("SELECT count(*) FROM seen").scalar() == db::Value{"0"});
  });
  CHECK(router.pending_writes() == 0);

  SUBCASE("note_write holds reads for a write made elsewhere") {
    router.note_write("app");
    router.with_connection("app", Role::reading, {}, [](route::Session& session) { CHECK(session.kept_on_writer()); });
  }
}

} // namespace grant_test_route_read_your_writes_test
