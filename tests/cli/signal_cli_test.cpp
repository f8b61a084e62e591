// Ctrl-C and SIGTERM end to end on the real servers: grant cancels what runs on the server, rolls
// back, releases the migration lock, says what was done and exits 130 / 143; a second signal exits
// at once. Each signal is sent once the statement is seen running in pg_stat_activity.
#include "support/fault_proxy.hpp"
#include "support/fleet.hpp"
#include "support/pg_pair.hpp"
#include "support/pg_session.hpp"
#include "support/project.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_signal_cli_test {

using namespace std::chrono_literals;
using grant::test::contains;

namespace {

std::string scalar(const std::string& url, const std::string& sql) {
  return grant::test::pg_scalar(url + "?connect_timeout=2", sql);
}

// Sessions of the database of `url` sleeping in pg_sleep (whatever statement called it).
int sleeping(const std::string& url) {
  return std::stoi(scalar(url, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                               "AND wait_event = 'PgSleep'"));
}

// Advisory locks held in the database of `url` (grant's migration lock is the only kind here).
int advisory_locks(const std::string& url) {
  return std::stoi(scalar(url, "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                               "WHERE l.locktype = 'advisory' AND d.datname = current_database()"));
}

bool released(const std::string& url) {
  return grant::test::eventually([&] { return sleeping(url) == 0 && advisory_locks(url) == 0; }, 5s);
}

std::string slow_migration(const std::string& table, const std::string& seconds) {
  return "-- grant:up\nCREATE TABLE " + table + " (id int);\nSELECT pg_sleep(" + seconds +
         ");\n-- grant:down\nDROP TABLE " + table + ";\n";
}

struct Finished {
  int exit_code = -1;
  std::string output;
  std::chrono::milliseconds took{0};
};

// Runs grant to its end, failing the test when it takes longer than `bound` (it waited on a lock).
Finished run_bounded(const std::filesystem::path& cwd, const std::vector<std::string>& args,
                     std::chrono::seconds bound = 20s) {
  static int runs = 0;
  const auto output = cwd / ("signal-run-" + std::to_string(++runs) + ".out");
  const auto started = std::chrono::steady_clock::now();
  grant::test::BackgroundGrant process(args, cwd, output);
  const auto code = process.stop(0, bound);
  Finished out;
  out.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  out.output = grant::test::read_file(output);
  REQUIRE_MESSAGE(code.has_value(), "grant is still running after " << bound.count() << " s:\n" << out.output);
  out.exit_code = *code;
  return out;
}

} // namespace

TEST_CASE("signal::migrate on PostgreSQL: SIGINT cancels the running statement, rolls back, releases the lock") {
  grant::test::Project project(grant::test::Engine::postgres, "signal_int");
  project.file("1_first.sql", grant::test::table_migration("signal_first"));
  project.file("2_slow.sql", slow_migration("signal_slow", "60"));
  project.file("3_after.sql", grant::test::table_migration("signal_after"));

  const auto output = project.dir / "run.out";
  grant::test::BackgroundGrant run({"migrate"}, project.dir.path(), output);
  REQUIRE(grant::test::eventually([&] { return sleeping(project.url()) == 1; }, 15s));
  const auto started = std::chrono::steady_clock::now();
  const auto code = run.stop(SIGINT, 10s);
  const auto text = grant::test::read_file(output);
  REQUIRE_MESSAGE(code.has_value(), "grant still runs 10 s after SIGINT:\n" << text);
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  CHECK_MESSAGE(*code == 130, text);
  CHECK_MESSAGE(contains(text, "app: migration 2_slow interrupted by SIGINT: rolled back, not applied"), text);
  CHECK_MESSAGE(contains(text, "INTERRUPTED  1 applied before the signal, at 1"), text);
  CHECK_MESSAGE(contains(text, "grant: interrupted by SIGINT"), text);

  CHECK(released(project.url()));
  CHECK(project.applied() == std::vector<std::string>{"1"});
  CHECK_FALSE(project.has_table("signal_slow"));
  CHECK_FALSE(project.has_table("signal_after"));

  // The next run takes the lock at once (it would fail after 2 s) and applies the rest.
  project.file("2_slow.sql", slow_migration("signal_slow", "0.1"));
  const auto again = run_bounded(project.dir.path(), {"migrate", "--lock-timeout", "2"});
  CHECK_MESSAGE(again.exit_code == 0, again.output);
  CHECK_MESSAGE(!contains(again.output, "waiting for the migration lock"), again.output);
  CHECK(project.applied() == std::vector<std::string>{"1", "2", "3"});
}

TEST_CASE("signal::migrate fanning out over shards: SIGTERM cancels every shard's statement, exit 143") {
  grant::test::ShardFleet fleet(3, "signal_term");
  fleet.file("1_slow.sql", slow_migration("signal_slow", "60"));

  const auto output = fleet.dir / "run.out";
  grant::test::BackgroundGrant run({"migrate", "--jobs", "3"}, fleet.dir.path(), output);
  REQUIRE(grant::test::eventually(
      [&] {
        for (int shard = 0; shard < fleet.size(); ++shard) {
          if (sleeping(fleet.url(shard)) != 1) {
            return false;
          }
        }
        return true;
      },
      15s));
  const auto code = run.stop(SIGTERM, 10s);
  const auto text = grant::test::read_file(output);
  REQUIRE_MESSAGE(code.has_value(), "grant still runs 10 s after SIGTERM:\n" << text);
  CHECK_MESSAGE(*code == 143, text);
  CHECK_MESSAGE(contains(text, "grant: interrupted by SIGTERM"), text);
  for (int shard = 0; shard < fleet.size(); ++shard) {
    const auto label = "orders/s" + std::to_string(shard);
    CHECK_MESSAGE(contains(text, label + ": migration 1_slow interrupted by SIGTERM: rolled back, not applied"), text);
    CHECK(released(fleet.url(shard)));
    CHECK(fleet.applied_count(shard) == 0);
    CHECK_FALSE(fleet.has_table(shard, "signal_slow"));
  }

  fleet.file("1_slow.sql", slow_migration("signal_slow", "0.1"));
  const auto again = run_bounded(fleet.dir.path(), {"migrate", "--lock-timeout", "2"});
  CHECK_MESSAGE(again.exit_code == 0, again.output);
  for (int shard = 0; shard < fleet.size(); ++shard) {
    CHECK(fleet.applied_count(shard) == 1);
  }
}

TEST_CASE("signal::query --all-shards: SIGINT cancels the statement on every shard") {
  grant::test::ShardFleet fleet(3, "signal_query", true);
  const auto output = fleet.dir / "query.out";
  grant::test::BackgroundGrant run({"query", "--database", "orders", "--all-shards", "SELECT pg_sleep(60) AS slept"},
                                   fleet.dir.path(), output);
  REQUIRE(grant::test::eventually(
      [&] {
        for (int shard = 0; shard < fleet.size(); ++shard) {
          if (sleeping(fleet.url(shard)) != 1) {
            return false;
          }
        }
        return true;
      },
      15s));
  const auto code = run.stop(SIGINT, 10s);
  const auto text = grant::test::read_file(output);
  REQUIRE_MESSAGE(code.has_value(), "grant still runs 10 s after SIGINT:\n" << text);
  CHECK_MESSAGE(*code == 130, text);
  CHECK_MESSAGE(contains(text, "cancelled on the server by SIGINT"), text);
  CHECK_MESSAGE(contains(text, "grant: interrupted by SIGINT"), text);
  for (int shard = 0; shard < fleet.size(); ++shard) {
    CHECK(grant::test::eventually([&] { return sleeping(fleet.url(shard)) == 0; }, 5s));
  }
}

TEST_CASE("signal::a second SIGINT exits at once while the first one's cancel gets no answer") {
  grant::test::Project project(grant::test::Engine::postgres, "signal_twice");
  // The proxy holds the statement and every byte after it: the server never runs it, so the
  // cancel request finds nothing to stop and grant keeps waiting for a reply.
  grant::test::FaultProxy proxy(project.url());
  project.config()["databases"]["app"]["url"] = proxy.url();
  project.save();
  proxy.add_rule("pg_sleep", grant::test::FaultProxy::Action::stall);
  project.file("1_slow.sql", slow_migration("signal_slow", "60"));

  const auto output = project.dir / "run.out";
  grant::test::BackgroundGrant run({"migrate"}, project.dir.path(), output);
  REQUIRE(grant::test::eventually([&] { return proxy.fired() == 1; }, 15s));
  CHECK_FALSE(run.stop(SIGINT, 1500ms).has_value()); // the first signal waits for the server
  const auto started = std::chrono::steady_clock::now();
  const auto code = run.stop(SIGINT, 5s);
  const auto text = grant::test::read_file(output);
  REQUIRE_MESSAGE(code.has_value(), "grant still runs after a second SIGINT:\n" << text);
  CHECK(std::chrono::steady_clock::now() - started < 1s);
  CHECK_MESSAGE(*code == 130, text);
  CHECK_MESSAGE(contains(text, "grant: interrupted: cancelling what runs on the servers"), text);
  CHECK_MESSAGE(contains(text, "grant: second signal: exiting now"), text);
  proxy.release(); // the server ends the session and rolls back
  CHECK(grant::test::eventually([&] { return advisory_locks(project.url()) == 0; }, 5s));
  CHECK(project.applied().empty());
}

TEST_CASE("signal::migrate --atomic: SIGINT before the decision rolls every shard back, nothing left prepared") {
  grant::test::ShardFleet fleet(3, "signal_atomic");
  fleet.file("1_first.sql", grant::test::table_migration("signal_first"));
  fleet.file("2_slow.sql", slow_migration("signal_slow", "60"));

  const auto output = fleet.dir / "run.out";
  grant::test::BackgroundGrant run({"migrate", "--atomic"}, fleet.dir.path(), output);
  REQUIRE(grant::test::eventually(
      [&] {
        for (int shard = 0; shard < fleet.size(); ++shard) {
          if (sleeping(fleet.url(shard)) != 1) {
            return false;
          }
        }
        return true;
      },
      15s));
  const auto code = run.stop(SIGINT, 10s);
  const auto text = grant::test::read_file(output);
  REQUIRE_MESSAGE(code.has_value(), "grant still runs 10 s after SIGINT:\n" << text);
  CHECK_MESSAGE(*code == 130, text);
  CHECK_MESSAGE(contains(text, "grant: interrupted by SIGINT"), text);
  for (int shard = 0; shard < fleet.size(); ++shard) {
    CHECK(released(fleet.url(shard)));
    CHECK(fleet.prepared(shard) == 0);
    CHECK(fleet.applied_count(shard) == 1); // the first version committed everywhere before
    CHECK_FALSE(fleet.has_table(shard, "signal_slow"));
  }
  CHECK(fleet.decisions(0) == 0);

  fleet.file("2_slow.sql", slow_migration("signal_slow", "0.1"));
  const auto again = run_bounded(fleet.dir.path(), {"migrate", "--atomic", "--lock-timeout", "2"});
  CHECK_MESSAGE(again.exit_code == 0, again.output);
  for (int shard = 0; shard < fleet.size(); ++shard) {
    CHECK(fleet.applied_count(shard) == 2);
  }
}

TEST_CASE("signal::migrate on SQLite: SIGINT interrupts the statement, rolls back and frees the lock file") {
  grant::test::Project project(grant::test::Engine::sqlite, "signal_sqlite");
  project.file("1_first.sql", grant::test::table_migration("signal_first"));
  // Counts forever: only an interrupt ends it.
  project.file("2_slow.sql", "-- grant:up\nCREATE TABLE signal_slow (id int);\n"
                             "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c;\n"
                             "-- grant:down\nDROP TABLE signal_slow;\n");
  const auto output = project.dir / "run.out";
  grant::test::BackgroundGrant run({"-v", "migrate"}, project.dir.path(), output);
  REQUIRE(grant::test::eventually([&] { return contains(grant::test::read_file(output), "applying 2_slow"); }, 15s));
  std::this_thread::sleep_for(200ms); // into the statement
  const auto code = run.stop(SIGINT, 10s);
  const auto text = grant::test::read_file(output);
  REQUIRE_MESSAGE(code.has_value(), "grant still runs 10 s after SIGINT:\n" << text);
  CHECK_MESSAGE(*code == 130, text);
  CHECK_MESSAGE(contains(text, "app: migration 2_slow interrupted by SIGINT: rolled back, not applied"), text);
  CHECK(project.applied() == std::vector<std::string>{"1"});
  CHECK_FALSE(project.has_table("signal_slow"));

  project.file("2_slow.sql", grant::test::table_migration("signal_slow"));
  const auto again = run_bounded(project.dir.path(), {"migrate", "--lock-timeout", "2"});
  CHECK_MESSAGE(again.exit_code == 0, again.output);
  CHECK(project.applied() == std::vector<std::string>{"1", "2"});
}

TEST_CASE("signal::rollback: SIGTERM during a down section keeps the version applied") {
  grant::test::Project project(grant::test::Engine::postgres, "signal_down");
  project.file("1_table.sql", "-- grant:up\nCREATE TABLE signal_down (id int);\n"
                              "-- grant:down\nDROP TABLE signal_down;\nSELECT pg_sleep(60);\n");
  const auto applied = project.grant({"migrate"});
  REQUIRE_MESSAGE(applied.exit_code == 0, applied.err);

  const auto output = project.dir / "rollback.out";
  grant::test::BackgroundGrant run({"rollback"}, project.dir.path(), output);
  REQUIRE(grant::test::eventually([&] { return sleeping(project.url()) == 1; }, 15s));
  const auto code = run.stop(SIGTERM, 10s);
  const auto text = grant::test::read_file(output);
  REQUIRE_MESSAGE(code.has_value(), "grant still runs 10 s after SIGTERM:\n" << text);
  CHECK_MESSAGE(*code == 143, text);
  CHECK_MESSAGE(contains(text, "app: rollback of 1_table interrupted by SIGTERM: rolled back, still applied"), text);
  CHECK(released(project.url()));
  CHECK(project.applied() == std::vector<std::string>{"1"});
  CHECK(project.has_table("signal_down"));
}

} // namespace grant_test_signal_cli_test
