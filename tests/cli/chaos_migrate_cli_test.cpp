// Chaos for `grant migrate` end to end, bounded in time: four shards migrated with --jobs 4 while
// one shard's server (a test::PgPair of its own) is stopped mid-run or one shard is stalled by the
// fault proxy, and a partition between grant and the writer (the proxy stalls, then drops).
#include "support/fault_proxy.hpp"
#include "support/fleet.hpp"
#include "support/pg_pair.hpp"
#include "support/pg_session.hpp"
#include "support/project.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_chaos_migrate_cli_test {

using namespace std::chrono_literals;
using grant::test::contains;

namespace {

struct Bounded {
  int exit_code = -1;
  std::string output; ///< stdout and stderr together
  std::chrono::milliseconds took{0};
};

// Runs grant in `cwd`, failing the test (and killing it) when it outlives `bound`.
Bounded run_bounded(const std::filesystem::path& cwd, const std::vector<std::string>& args,
                    std::chrono::seconds bound = 30s) {
  static int runs = 0;
  const auto output = cwd / ("chaos-run-" + std::to_string(++runs) + ".out");
  const auto started = std::chrono::steady_clock::now();
  grant::test::BackgroundGrant process(args, cwd, output);
  const auto code = process.stop(0, bound); // signal 0: only wait
  Bounded out;
  out.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  out.output = grant::test::read_file(output);
  REQUIRE_MESSAGE(code.has_value(), "grant is still running after " << bound.count() << " s (hung):\n" << out.output);
  out.exit_code = *code;
  return out;
}

std::string scalar(const std::string& url, const std::string& sql) {
  return grant::test::pg_scalar(url + "?connect_timeout=2", sql);
}

int applied(const std::string& url) {
  return scalar(url, "SELECT to_regclass('schema_migrations') IS NOT NULL") == "t"
             ? std::stoi(scalar(url, "SELECT count(*) FROM schema_migrations"))
             : 0;
}

bool has_table(const std::string& url, const std::string& table) {
  return scalar(url, "SELECT to_regclass('" + table + "') IS NOT NULL") == "t";
}

// Advisory locks held in the database of `url` (grant's migration lock is the only kind here).
int advisory_locks(const std::string& url) {
  return std::stoi(scalar(url, "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                               "WHERE l.locktype = 'advisory' AND d.datname = current_database()"));
}

} // namespace

TEST_CASE("chaos::migrate --jobs 4 with one shard's server stopped mid-run") {
  grant::test::PgPair pair;
  grant::test::ShardFleet fleet(3, "chaos_stop");
  const auto own = grant::test::fresh_database(pair.writer_url(), "chaos_stop");
  auto& orders = fleet.config()["databases"]["orders"];
  orders["shards"].push_back({{"name", "s3"}, {"url", own}});
  orders["pool"] = {{"connect_timeout_ms", 2000}};
  fleet.save();
  fleet.file("1_first.sql", grant::test::table_migration("chaos_first"));
  fleet.file("2_slow.sql", "-- grant:up\nCREATE TABLE chaos_slow (id int);\nSELECT pg_sleep(3);\n"
                           "-- grant:down\nDROP TABLE chaos_slow;\n");

  const auto output = fleet.dir / "run.out";
  grant::test::BackgroundGrant run({"migrate", "--jobs", "4"}, fleet.dir.path(), output);
  // Mid-run: shard s3 is inside the second migration's statement.
  REQUIRE(grant::test::eventually(
      [&] {
        return scalar(own, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND state = 'active' AND query LIKE 'SELECT pg_sleep%'") == "1";
      },
      15s));
  pair.stop_writer();
  const auto code = run.stop(0, 30s);
  const auto text = grant::test::read_file(output);
  REQUIRE_MESSAGE(code.has_value(), "migrate hangs with a shard's server stopped:\n" << text);
  CHECK(*code == 3);
  CHECK_MESSAGE(contains(text, "orders/s3"), text);
  for (const auto* other : {"orders/s0:", "orders/s1:", "orders/s2:"}) {
    CHECK_MESSAGE(!contains(text, std::string("error: ") + other), text);
  }
  for (int shard = 0; shard < 3; ++shard) {
    CHECK(fleet.applied_count(shard) == 2);
    CHECK(fleet.has_table(shard, "chaos_slow"));
  }

  pair.start_writer();
  CHECK(applied(own) == 1); // the first migration stays; the second rolled back with the session
  CHECK_FALSE(has_table(own, "chaos_slow"));
  const auto again = run_bounded(fleet.dir.path(), {"migrate", "--jobs", "4"});
  CHECK_MESSAGE(again.exit_code == 0, again.output);
  CHECK(applied(own) == 2);
  CHECK(has_table(own, "chaos_slow"));
  const auto status = run_bounded(fleet.dir.path(), {"status", "--exit-code"});
  CHECK_MESSAGE(status.exit_code == 0, status.output);
}

TEST_CASE("chaos::migrate --jobs 4 with one shard stalled by the proxy: bounded by its timeouts") {
  grant::test::ShardFleet fleet(4, "chaos_stall");
  grant::test::FaultProxy proxy(fleet.url(2));
  fleet.route(2, proxy.url());
  auto& orders = fleet.config()["databases"]["orders"];
  orders["migrate"] = {{"statement_timeout_ms", 1000}};
  orders["pool"] = {{"connect_timeout_ms", 2000}};
  fleet.save();
  fleet.file("1_stall.sql", grant::test::table_migration("chaos_stall"));

  SUBCASE("stalled in the migration's statement") {
    proxy.add_rule("CREATE TABLE chaos_stall", grant::test::FaultProxy::Action::stall);
  }
  SUBCASE("stalled in grant's own bookkeeping (the migration lock)") {
    proxy.add_rule("pg_try_advisory_lock", grant::test::FaultProxy::Action::stall);
  }
  const auto run = run_bounded(fleet.dir.path(), {"migrate", "--jobs", "4"});
  CHECK(proxy.fired() == 1);
  CHECK(run.exit_code == 3);
  CHECK_MESSAGE(contains(run.output, "orders/s2"), run.output);
  CHECK_MESSAGE(contains(run.output, "no reply from orders/s2 within"), run.output);
  // statement_timeout 1000 + connect_timeout 2000 at most per wait, with room for a slow machine.
  CHECK(run.took < 12s);
  for (const int shard : {0, 1, 3}) {
    CHECK(fleet.applied_count(shard) == 1);
  }
  CHECK(fleet.applied_count(2) == 0);
  CHECK_FALSE(fleet.has_table(2, "chaos_stall"));

  proxy.clear_rules();
  proxy.release(); // the stalled sessions end; the server rolls back what they began
  const auto again = run_bounded(fleet.dir.path(), {"migrate", "--jobs", "4", "--lock-timeout", "10"});
  CHECK_MESSAGE(again.exit_code == 0, again.output);
  for (int shard = 0; shard < 4; ++shard) {
    CHECK(fleet.applied_count(shard) == 1);
    CHECK(fleet.has_table(shard, "chaos_stall"));
  }
}

TEST_CASE("chaos::migrate through a partition from the writer: stalls, then drops") {
  grant::test::Project project(grant::test::Engine::postgres, "chaos_partition");
  grant::test::FaultProxy proxy(project.url());
  project.config()["databases"]["app"]["url"] = proxy.url();
  project.config()["databases"]["app"]["migrate"] = {{"statement_timeout_ms", 1000}};
  project.config()["databases"]["app"]["pool"] = {{"connect_timeout_ms", 2000}};
  project.save();
  project.file("1_base.sql", grant::test::table_migration("chaos_base"));
  REQUIRE(run_bounded(project.dir.path(), {"migrate"}).exit_code == 0);
  project.file("2_cut.sql", grant::test::table_migration("chaos_cut"));
  // The tracking row of 2 is the statement that never arrives: its table was created in the
  // same transaction, on the server, just before.
  proxy.add_rule("schema_migrations\" (version, name", grant::test::FaultProxy::Action::stall);

  const auto run = run_bounded(project.dir.path(), {"migrate"});
  CHECK(proxy.fired() == 1);
  CHECK(run.exit_code == 3);
  CHECK_MESSAGE(contains(run.output, "no reply from app within"), run.output);
  CHECK(run.took < 12s);
  // The session still lives behind the stalled link: it holds the migration lock, so another run
  // (straight to the server) waits for it and gives up.
  CHECK(advisory_locks(project.url()) == 1);
  project.config()["databases"]["app"]["url"] = project.url();
  project.save();
  const auto blocked = run_bounded(project.dir.path(), {"migrate", "--lock-timeout", "1"});
  CHECK(blocked.exit_code == 3);
  CHECK_MESSAGE(contains(blocked.output, "migration lock"), blocked.output);

  proxy.release(); // the partition drops the connection: the session dies
  CHECK(grant::test::eventually([&] { return advisory_locks(project.url()) == 0; }, 10s));
  // Nothing half-recorded: neither the table of 2 nor its row.
  CHECK((project.applied() == std::vector<std::string>{"1"}));
  CHECK_FALSE(project.has_table("chaos_cut"));
  CHECK(project.has_table("chaos_base"));

  const auto again = run_bounded(project.dir.path(), {"migrate", "--lock-timeout", "10"});
  CHECK_MESSAGE(again.exit_code == 0, again.output);
  CHECK((project.applied() == std::vector<std::string>{"1", "2"}));
  CHECK(project.has_table("chaos_cut"));
  CHECK(advisory_locks(project.url()) == 0);
}

} // namespace grant_test_chaos_migrate_cli_test
