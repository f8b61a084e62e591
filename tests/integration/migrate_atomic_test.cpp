// `grant migrate --atomic` (two-phase commit over the four shard servers) and `grant recover`
// (network faults and kills: atomic_faults_test.cpp).
#include "support/fleet.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <future>

#define XXH_INLINE_ALL
#include <xxhash.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_migrate_atomic_test {

using grant::test::contains;

using grant::test::RunResult;

using Fleet = grant::test::ShardFleet;
using grant::test::table_migration;

TEST_CASE("migrate::atomic") {
  Fleet fleet(4, "mig_atomic");
  fleet.file("1_orders.sql", table_migration("orders"));
  fleet.file("2_items.sql", table_migration("order_items"));

  SUBCASE("all shards prepare, then all commit") {
    fleet.file("3_slow.sql", "-- grant:up\nSELECT pg_sleep(0.05);\n");
    auto run = fleet.grant({"migrate", "--atomic", "--dry-run"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "CREATE TABLE order_items"));
    CHECK(fleet.applied_count(0) == 0);
    CHECK_FALSE(fleet.has_table(0, "grant_atomic_decisions"));

    run = fleet.grant({"migrate", "--atomic"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    for (int i = 0; i < 4; ++i) {
      CHECK(fleet.applied_count(i) == 3);
      CHECK(std::stoi(fleet.scalar(i, "SELECT execution_ms FROM schema_migrations WHERE version = '3'")) >= 50);
      CHECK(fleet.has_table(i, "order_items"));
      CHECK(fleet.prepared(i) == 0);
    }
    CHECK(fleet.grant({"migrate", "--atomic"}).exit_code == 0);
    CHECK(fleet.applied_count(0) == 3);
  }

  SUBCASE("concurrent --atomic runs: each version once, none mistaken for a crashed run") {
    for (int version = 3; version <= 12; ++version) {
      fleet.file(std::to_string(version) + "_step.sql",
                 "-- grant:up\nINSERT INTO orders VALUES (" + std::to_string(version) + ");\n");
    }
    std::vector<std::future<RunResult>> runs;
    for (int i = 0; i < 4; ++i) {
      runs.push_back(std::async(std::launch::async, [&] { return fleet.grant({"migrate", "--atomic"}); }));
    }
    for (auto& run : runs) {
      const auto result = run.get();
      INFO(result.out, result.err);
      CHECK(result.exit_code == 0);
    }
    for (int i = 0; i < 4; ++i) {
      CHECK(fleet.applied_count(i) == 12);
      CHECK(fleet.scalar(i, "SELECT count(*) FROM orders") == "11");
      CHECK(fleet.prepared(i) == 0);
    }
  }

  SUBCASE("a live run's prepared transaction is waited for; a dead run's is refused with a pointer to recover") {
    // A live --atomic run between PREPARE and COMMIT PREPARED: it holds the migration lock.
    pqxx::connection live(fleet.url(0) + "?application_name=live-atomic-run");
    pqxx::nontransaction work(live);
    const std::string name =
        "grant:migrate:" + work.exec1("SELECT current_database()")[0].as<std::string>() + ":schema_migrations";
    const auto key = std::to_string(static_cast<long long>(XXH64(name.data(), name.size(), 0)));
    work.exec("SELECT pg_advisory_lock(" + key + ")");
    fleet.execute(0, "BEGIN; CREATE TABLE live_probe (id int); PREPARE TRANSACTION 'grant:orders:1:live:s0'");
    auto run = fleet.grant({"migrate", "--lock-timeout", "1"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "live-atomic-run"));
    CHECK_FALSE(contains(run.err, "in-doubt"));
    // recover must not touch a live run's transaction: that could split the shards.
    run = fleet.grant({"recover"});
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "still working on orders/s0"));
    CHECK(fleet.prepared(0) == 1);
    // status shows it (and --exit-code fails on it).
    run = fleet.grant({"--json", "status", "--exit-code"});
    CHECK(run.exit_code == 1);
    CHECK(nlohmann::json::parse(run.out)["targets"][0]["in_doubt"] == 1);

    work.exec("SELECT pg_advisory_unlock(" + key + ")"); // the run died: its transaction is in doubt
    run = fleet.grant({"migrate"});
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "in-doubt"));
    CHECK(contains(run.err, "orders/s0 has 1 in-doubt"));
    CHECK(contains(run.err, "grant recover"));
    CHECK(fleet.applied_count(0) == 0); // without --atomic the other shards go on on their own
    CHECK(fleet.applied_count(1) == 2);
    CHECK(fleet.grant({"recover"}).exit_code == 0);
    CHECK(fleet.prepared(0) == 0);
    CHECK_FALSE(fleet.has_table(0, "live_probe"));
  }

  SUBCASE("one shard failing leaves no shard changed") {
    fleet.execute(2, "CREATE TABLE orders (conflict text)");
    const auto run = fleet.grant({"migrate", "--atomic"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "orders/s2: migration 1_orders failed"));
    CHECK(contains(run.err, "rolled back"));
    for (int i = 0; i < 4; ++i) {
      CHECK(fleet.applied_count(i) == 0);
      CHECK_FALSE(fleet.has_table(i, "order_items"));
      CHECK(fleet.prepared(i) == 0);
      if (i != 2) {
        CHECK_FALSE(fleet.has_table(i, "orders"));
      }
    }
    // Every target is in the summary.
    for (int i = 0; i < 4; ++i) {
      CHECK(contains(run.out, "orders/s" + std::to_string(i) + "  FAILED"));
    }
  }

  SUBCASE("a later version failing keeps the earlier version on all shards and the failing one on none") {
    fleet.execute(3, "CREATE TABLE order_items (conflict text)");
    const auto run = fleet.grant({"migrate", "--atomic"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    for (int i = 0; i < 4; ++i) {
      CHECK(fleet.applied_count(i) == 1);
      CHECK(fleet.has_table(i, "orders"));
      CHECK(fleet.prepared(i) == 0);
    }
    CHECK_FALSE(fleet.has_table(0, "order_items"));
  }

  SUBCASE("--atomic is refused for SQLite before anything is touched") {
    fleet.config()["databases"]["lite"] = {{"url", "sqlite3:db/lite.sqlite3"}, {"migrations", "db/migrate/orders"}};
    fleet.save();
    auto run = fleet.grant({"migrate", "--atomic", "--database", "lite"});
    INFO(run.err);
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "SQLite"));
    CHECK_FALSE(std::filesystem::exists(fleet.dir / "db/lite.sqlite3"));
    // With every database selected, the PostgreSQL shards stay untouched too.
    run = fleet.grant({"migrate", "--atomic"});
    CHECK(run.exit_code == 2);
    for (int i = 0; i < 4; ++i) {
      CHECK(fleet.applied_count(i) == 0);
      CHECK_FALSE(fleet.has_table(i, "orders"));
    }
  }

  SUBCASE("transaction=false cannot be atomic") {
    fleet.file("3_index.sql", "-- grant:up transaction=false\nCREATE INDEX CONCURRENTLY orders_id ON orders (id);\n");
    const auto run = fleet.grant({"migrate", "--atomic"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "transaction=false"));
    for (int i = 0; i < 4; ++i) {
      CHECK(fleet.applied_count(i) == 0);
      CHECK(fleet.prepared(i) == 0);
    }
  }
}

} // namespace grant_test_migrate_atomic_test
