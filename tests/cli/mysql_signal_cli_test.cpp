// Signals against MySQL / MariaDB: a SIGKILLed migrate leaves no lock behind (its session ends with
// it) and a dirty version; SIGINT kills the running statement on the server (KILL QUERY from a second
// session), freeing an application's writer it blocked; SIGTERM half way says which statements
// stay and leaves the version dirty.
#include "support/mysql_project.hpp"
#include "support/pg_pair.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include <csignal>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_mysql_signal_cli_test {

using grant::test::contains;
using grant::test::MysqlProject;

TEST_CASE("mysql: a SIGKILLed migrate leaves its lock behind with its session, and a dirty version") {
  MysqlProject project("my_kill");
  project.file("20240101000000_slow.sql", "-- grant:up\nCREATE TABLE before_sleep (id int);\n"
                                          "SELECT SLEEP(4);\nCREATE TABLE after_sleep (id int);\n");
  grant::test::BackgroundGrant slow({"migrate"}, project.dir.path(), project.dir / "slow.log");
  // Wait until it sleeps on the server (the first statement ran).
  REQUIRE(grant::test::eventually([&] { return grant::test::statement_running(project.url(), "SELECT SLEEP(4)"); },
                                  std::chrono::seconds(10)));
  CHECK(slow.stop(SIGKILL) == 128 + SIGKILL);
  // The server ends the killed client's session when it notices the closed socket; its lock goes with it.
  const auto started = std::chrono::steady_clock::now();
  auto run = project.grant({"migrate"});
  const auto waited = std::chrono::steady_clock::now() - started;
  CHECK(run.exit_code == 2);
  CHECK(contains(run.err, "version 20240101000000 (slow) is dirty"));
  CHECK(waited < std::chrono::seconds(30)); // the session ends with its statement: the lock goes with it
  CHECK(project.has_table("before_sleep"));
  CHECK_FALSE(project.has_table("after_sleep"));
}

TEST_CASE("mysql: SIGINT kills the running statement on the server, frees the writer it blocked, exit 130") {
  MysqlProject project("my_sigint");
  project.query("CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL) ENGINE=InnoDB");
  project.query("INSERT INTO counters VALUES (1, 0)");
  // Its first statement holds counters' row 1 for a minute: an UPDATE keeps its row lock to its end.
  project.file("20240101000000_hold.sql", "-- grant:up\nUPDATE counters SET n = n + SLEEP(60) WHERE id = 1;\n"
                                          "CREATE TABLE after_hold (id int);\n");
  // The application: one UPDATE of that row after another, each timed.
  std::atomic<bool> stop{false};
  std::atomic<long long> longest_ms{0};
  std::atomic<int> writes{0};
  // When the write on its way started (steady clock ticks), 0 between writes.
  std::atomic<std::chrono::steady_clock::rep> in_flight_since{0};
  std::thread writer([&] {
    auto connection = grant::test::open_mysql(project.url());
    while (!stop) {
      const auto started = std::chrono::steady_clock::now();
      in_flight_since = started.time_since_epoch().count();
      connection->execute("UPDATE counters SET n = n + 1 WHERE id = 1");
      in_flight_since = 0;
      const auto ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
      longest_ms = std::max<long long>(longest_ms, ms);
      ++writes;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const auto holding = [&] {
    return grant::test::statement_running(project.url(), "UPDATE counters SET n = n + SLEEP(60)");
  };
  grant::test::BackgroundGrant run({"migrate"}, project.dir.path(), project.dir / "run.out");
  REQUIRE(grant::test::eventually(holding, std::chrono::seconds(15)));
  const auto writes_while_held = writes.load();
  std::this_thread::sleep_for(std::chrono::seconds(1)); // the writer is blocked behind it now
  CHECK(writes.load() <= writes_while_held + 1);        // (one may have been on its way)
  const auto signalled = std::chrono::steady_clock::now();
  // The write blocked behind the held row at the signal, and since when (no wall-clock bound: the
  // writer thread may have started it a little after the statement was seen holding the row).
  const auto blocked_since = in_flight_since.load();
  const auto writes_at_signal_sent = writes.load();
  const auto code = run.stop(SIGINT, std::chrono::seconds(10));
  const auto writes_at_signal = writes.load();
  const auto text = grant::test::read_file(project.dir / "run.out");
  REQUIRE_MESSAGE(code.has_value(), "grant still runs 10 s after SIGINT:\n" << text);
  CHECK(std::chrono::steady_clock::now() - signalled < std::chrono::seconds(5));
  CHECK_MESSAGE(*code == 130, text);
  CHECK_MESSAGE(contains(text, "app: migration 20240101000000_hold interrupted by SIGINT: its first statement was "
                               "cancelled, so nothing of it was applied"),
                text);
  CHECK_MESSAGE(contains(text, "grant: interrupted by SIGINT"), text);
  CHECK_FALSE(contains(text, "dirty"));
  // The statement is gone from the server and the writer goes on.
  CHECK_FALSE(holding());
  bool wrote = false;
  for (int i = 0; i < 100 && !wrote; ++i) {
    wrote = writes > writes_at_signal + 2;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop = true;
  writer.join();
  CHECK(wrote);
  MESSAGE("MySQL, SIGINT 1 s into a statement holding the writer's row: the writer's longest blocked write ",
          longest_ms.load(), " ms, ", writes.load(), " writes");
  // A write was blocked when the signal went, and it lasted at least until then.
  REQUIRE(blocked_since != 0);
  const auto blocked_before_signal = std::chrono::duration_cast<std::chrono::milliseconds>(
      signalled - std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(blocked_since)));
  CHECK(writes_at_signal_sent <= writes_while_held + 1);
  CHECK(longest_ms >= blocked_before_signal.count());
  CHECK(longest_ms < 10000);
  CHECK(project.rows("SELECT COUNT(*) FROM schema_migrations") == std::vector<std::string>{"0"});

  // The lock went with the signal: the next run takes it at once and applies the fixed file.
  project.file("20240101000000_hold.sql", "-- grant:up\nUPDATE counters SET n = n + 1 WHERE id = 1;\n"
                                          "CREATE TABLE after_hold (id int);\n");
  const auto again = project.grant({"migrate", "--lock-timeout", "2"});
  CHECK_MESSAGE(again.exit_code == 0, again.err);
  CHECK(project.has_table("after_hold"));
}

TEST_CASE("mysql: SIGTERM half way through a migration says which statements stay and leaves it dirty") {
  MysqlProject project("my_sigterm");
  project.file("20240101000000_half.sql", "-- grant:up\nCREATE TABLE before_sleep (id int);\nSELECT SLEEP(60);\n"
                                          "CREATE TABLE after_sleep (id int);\n");
  grant::test::BackgroundGrant run({"migrate"}, project.dir.path(), project.dir / "run.out");
  REQUIRE(grant::test::eventually([&] { return grant::test::statement_running(project.url(), "SELECT SLEEP(60)"); },
                                  std::chrono::seconds(15)));
  const auto code = run.stop(SIGTERM, std::chrono::seconds(10));
  const auto text = grant::test::read_file(project.dir / "run.out");
  REQUIRE_MESSAGE(code.has_value(), "grant still runs 10 s after SIGTERM:\n" << text);
  CHECK_MESSAGE(*code == 143, text);
  CHECK_MESSAGE(contains(text, "interrupted by SIGTERM: statements 1-1 of 3 stay applied (MySQL commits DDL as it "
                               "runs); the version is recorded as dirty"),
                text);
  CHECK_MESSAGE(contains(text, "grant repair"), text);
  CHECK_FALSE_MESSAGE(contains(text, "SIGTERM: rolled back"), text); // the PostgreSQL wording would be false here
  CHECK_FALSE(grant::test::statement_running(project.url(), "SELECT SLEEP(60)"));
  CHECK(project.has_table("before_sleep"));
  CHECK_FALSE(project.has_table("after_sleep"));
  const auto refused = project.grant({"migrate", "--lock-timeout", "2"});
  CHECK(refused.exit_code == 2);
  CHECK(contains(refused.err, "is dirty"));
}

TEST_CASE("mysql: a signal during a rollback: cancelled at its first statement the row is as it was, later dirty") {
  MysqlProject project("my_sigdown");
  // The down section's first statement sleeps as long as the test says (a minute, then not at all).
  project.query("CREATE TABLE naps (seconds int)");
  project.query("INSERT INTO naps VALUES (60)");
  project.file("20240101000000_two.sql", "-- grant:up\nCREATE TABLE b1 (id int);\nCREATE TABLE b2 (id int);\n"
                                         "-- grant:down\nSELECT SLEEP((SELECT seconds FROM naps));\nDROP TABLE b2;\n"
                                         "SELECT SLEEP(61);\nDROP TABLE b1;\n");
  REQUIRE(project.grant({"migrate"}).exit_code == 0);
  project.query("UPDATE schema_migrations SET applied_at = '2024-01-02 03:04:05'");
  const auto rollback_until = [&](const std::string& statement, int signal) {
    grant::test::BackgroundGrant run({"rollback"}, project.dir.path(), project.dir / "run.out");
    REQUIRE(grant::test::eventually([&] { return grant::test::statement_running(project.url(), statement); },
                                    std::chrono::seconds(15)));
    const auto code = run.stop(signal, std::chrono::seconds(10));
    const auto text = grant::test::read_file(project.dir / "run.out");
    REQUIRE_MESSAGE(code.has_value(), "grant still runs 10 s after the signal:\n" << text);
    CHECK(*code == 128 + signal);
    CHECK_FALSE(grant::test::statement_running(project.url(), statement));
    return text;
  };

  auto text = rollback_until("SELECT SLEEP((SELECT seconds", SIGINT);
  CHECK_MESSAGE(contains(text, "app: rollback of 20240101000000_two interrupted by SIGINT: its first statement was "
                               "cancelled, so nothing of it was applied; the version stays recorded as applied"),
                text);
  CHECK(project.rows("SELECT dirty, applied_at FROM schema_migrations") ==
        std::vector<std::string>{"0|2024-01-02 03:04:05.000000"});
  CHECK(project.has_table("b2"));

  project.query("UPDATE naps SET seconds = 0");
  text = rollback_until("SELECT SLEEP(61)", SIGTERM);
  CHECK_MESSAGE(contains(text, "interrupted by SIGTERM: statements 1-2 of 4 stay applied (MySQL commits DDL as it "
                               "runs); the version is recorded as dirty"),
                text);
  CHECK_MESSAGE(contains(text, "finish the rollback by hand (the down section's statements from 3 on)"), text);
  CHECK(project.rows("SELECT dirty FROM schema_migrations") == std::vector<std::string>{"1"});
  CHECK_FALSE(project.has_table("b2"));
  CHECK(project.has_table("b1"));
  const auto refused = project.grant({"rollback"});
  CHECK(refused.exit_code == 2);
  CHECK(contains(refused.err, "is dirty"));
}

} // namespace grant_test_mysql_signal_cli_test
