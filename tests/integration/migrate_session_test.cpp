// Each migration runs on a session that starts clean: what one sets for its session
// (pg_dump's empty search_path, SET ROLE, timeouts) reaches neither grant's bookkeeping nor the
// next migration, with and without --atomic. Lock timeouts are retried and name the blocker.
#include "support/fleet.hpp"

#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_migrate_session_test {

using grant::test::contains;
using grant::test::ShardFleet;

TEST_CASE("migrate::session state does not leak") {
  for (const bool atomic : {false, true}) {
    CAPTURE(atomic);
    ShardFleet fleet(2, "mig_session");
    fleet.execute(0,
                  "DO $$ BEGIN CREATE ROLE grant_limited NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
    fleet.execute(1,
                  "DO $$ BEGIN CREATE ROLE grant_limited NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
    fleet.file("1_dump.sql", "-- grant:up\nSELECT pg_catalog.set_config('search_path', '', false);\n"
                             "CREATE TABLE public.dumped (id int);\n");
    fleet.file("2_role.sql", "-- grant:up\nSET ROLE grant_limited;\nSELECT 1;\n");
    fleet.file("3_timeout.sql", "-- grant:up\nSET statement_timeout = '1ms';\n");
    fleet.file("4_plain.sql", "-- grant:up\nCREATE TABLE plain (id int);\nSELECT pg_sleep(0.05);\n");
    std::vector<std::string> args{"migrate"};
    if (atomic) {
      args.push_back("--atomic");
    }
    const auto run = fleet.grant(args);
    INFO(run.out, run.err);
    REQUIRE(run.exit_code == 0);
    for (int i = 0; i < 2; ++i) {
      CHECK(fleet.applied_count(i) == 4);
      // search_path was back to normal for 4_plain, and the timeout and role were gone.
      CHECK(fleet.scalar(i, "SELECT to_regclass('public.plain') IS NOT NULL") == "t");
      CHECK(fleet.scalar(i, "SELECT tableowner FROM pg_tables WHERE tablename = 'plain'") == "grant");
      CHECK(fleet.scalar(i, "SELECT execution_ms >= 50 FROM schema_migrations WHERE version = '4'") == "t");
    }
  }
}

TEST_CASE("migrate::lock timeout names the blocking session") {
  ShardFleet fleet(1, "mig_lock");
  fleet.file("1_orders.sql", "-- grant:up\nCREATE TABLE orders (id int);\n");
  REQUIRE(fleet.grant({"migrate"}).exit_code == 0);
  fleet.file("2_alter.sql", "-- grant:up lock_timeout=100ms retries=2\nALTER TABLE orders ADD COLUMN note text;\n");

  // Another session holds a lock on the table, as a long report or a stuck transaction would.
  pqxx::connection blocker(fleet.url(0) + "?application_name=nightly-report");
  pqxx::work hold(blocker);
  hold.exec("LOCK TABLE orders IN ACCESS SHARE MODE");
  hold.exec("SELECT count(*) FROM orders");

  auto run = fleet.grant({"migrate"});
  INFO(run.out, run.err);
  CHECK(run.exit_code == 3);
  CHECK(contains(run.err, "lock timeout"));
  CHECK(contains(run.err, "3 attempt(s)"));
  CHECK(contains(run.err, "nightly-report"));
  CHECK(contains(run.err, "pid " + std::to_string(blocker.backendpid())));
  CHECK(contains(run.err, "2_alter.sql:2"));
  CHECK(contains(run.out + run.err, "retry 2 of 2"));
  CHECK(fleet.applied_count(0) == 1);

  // Released while grant retries: the migration goes through.
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    hold.commit();
  });
  run = fleet.grant({"migrate"});
  release.join();
  INFO(run.out, run.err);
  CHECK(run.exit_code == 0);
  CHECK(fleet.applied_count(0) == 2);
}

TEST_CASE("migrate::a failed CREATE INDEX CONCURRENTLY names the invalid index it left") {
  ShardFleet fleet(1, "mig_cic");
  fleet.file("1_users.sql", "-- grant:up\nCREATE TABLE users (id int, email text);\n"
                            "INSERT INTO users VALUES (1, 'a@example.com'), (2, 'a@example.com');\n");
  fleet.file("2_email_idx.sql",
             "-- grant:up transaction=false\nCREATE UNIQUE INDEX CONCURRENTLY users_email_idx ON users (email);\n");
  auto run = fleet.grant({"migrate"});
  INFO(run.out, run.err);
  CHECK(run.exit_code == 3);
  CHECK(contains(run.err, "2_email_idx.sql:2"));
  CHECK(contains(run.err, "invalid index left behind: users_email_idx on users"));
  CHECK(contains(run.err, "DROP INDEX CONCURRENTLY"));
  CHECK(fleet.applied_count(0) == 1);
  // validate flags it too, until it is dropped.
  run = fleet.grant({"validate"});
  CHECK(run.exit_code == 1);
  CHECK(contains(run.out + run.err, "users_email_idx"));
  fleet.execute(0, "DROP INDEX CONCURRENTLY users_email_idx");
  fleet.execute(0, "DELETE FROM users WHERE id = 2");
  CHECK(fleet.grant({"migrate"}).exit_code == 0);
  CHECK(fleet.grant({"validate"}).exit_code == 0);
}

} // namespace grant_test_migrate_session_test
