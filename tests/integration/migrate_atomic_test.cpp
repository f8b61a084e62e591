// `grant migrate --atomic` (two-phase commit over the four shard servers) and `grant recover`
// after a process killed between PREPARE TRANSACTION and COMMIT PREPARED.
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <future>

#define XXH_INLINE_ALL
#include <xxhash.h>

using grant::test::contains;

using grant::test::RunResult;
using grant::test::TempDir;

namespace {

class Fleet {
public:
  Fleet() {
    nlohmann::json shards = nlohmann::json::array();
    for (int i = 0; i < 4; ++i) {
      m_urls.push_back(grant::test::fresh_database(grant::test::shard_url(i), "mig_atomic"));
      shards.push_back({{"name", "s" + std::to_string(i)}, {"url", m_urls.back()}});
    }
    m_config["databases"]["orders"] = {{"shards", shards}, {"migrations", "db/migrate/orders"}};
    save();
    std::filesystem::create_directories(dir / "db/migrate/orders");
  }

  TempDir dir;

  nlohmann::json &config() { return m_config; }
  void save() const { dir.write("grant.json", m_config.dump(2)); }
  void file(const std::string &name, const std::string &text) const { dir.write("db/migrate/orders/" + name, text); }
  RunResult grant(const std::vector<std::string> &args,
                  const std::map<std::string, std::optional<std::string>> &env = {}) const {
    return grant::test::run_grant(args, dir.path(), env);
  }

  std::string scalar(int shard, const std::string &sql) const {
    pqxx::connection connection(m_urls.at(static_cast<std::size_t>(shard)));
    pqxx::nontransaction work(connection);
    const auto value = work.exec1(sql)[0];
    return value.is_null() ? "NULL" : value.c_str();
  }
  const std::string &url(int shard) const { return m_urls.at(static_cast<std::size_t>(shard)); }
  void execute(int shard, const std::string &sql) const {
    pqxx::connection connection(m_urls.at(static_cast<std::size_t>(shard)));
    pqxx::nontransaction work(connection);
    work.exec(sql);
  }
  bool has_table(int shard, const std::string &name) const {
    return scalar(shard, "SELECT to_regclass('" + name + "') IS NOT NULL") == "t";
  }
  int applied_count(int shard) const {
    return has_table(shard, "schema_migrations") ? std::stoi(scalar(shard, "SELECT count(*) FROM schema_migrations"))
                                                 : 0;
  }
  /// grant's prepared transactions for this shard's database.
  int prepared(int shard) const {
    return std::stoi(scalar(shard, "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database() "
                                   "AND gid LIKE 'grant:%'"));
  }

private:
  std::vector<std::string> m_urls;
  nlohmann::json m_config;
};

std::string table_migration(const std::string &table) {
  return "-- grant:up\nCREATE TABLE " + table + " (id bigint PRIMARY KEY);\nINSERT INTO " + table +
         " VALUES (1);\n-- grant:down\nDROP TABLE " + table + ";\n";
}

} // namespace

TEST_CASE("migrate::atomic") {
  Fleet fleet;
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
    for (auto &run : runs) {
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

  SUBCASE("killed after prepare: recover rolls back every shard, then migrate completes") {
    auto run = fleet.grant({"migrate", "--atomic"}, {{"GRANT_FAULT", "after-prepare"}});
    CHECK(run.exit_code == 128 + 9);
    for (int i = 0; i < 4; ++i) {
      CHECK(fleet.prepared(i) == 1);
    }
    // Running on would block on the in-doubt transactions' locks: migrate refuses and says why.
    run = fleet.grant({"migrate"});
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "in-doubt"));
    CHECK(contains(run.err, "grant recover"));
    CHECK(fleet.prepared(1) == 1);

    run = fleet.grant({"recover", "--dry-run"});
    CHECK(run.exit_code == 1);
    CHECK(contains(run.out, "would rollback"));
    CHECK(fleet.prepared(0) == 1);

    run = fleet.grant({"recover"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "decision none recorded"));
    CHECK(contains(run.out, "rolled back"));
    for (int i = 0; i < 4; ++i) {
      CHECK(fleet.prepared(i) == 0);
      CHECK(fleet.applied_count(i) == 0);
      CHECK_FALSE(fleet.has_table(i, "orders"));
    }
    CHECK(contains(fleet.grant({"recover"}).out, "no in-doubt transactions"));

    run = fleet.grant({"migrate", "--atomic"});
    CHECK(run.exit_code == 0);
    for (int i = 0; i < 4; ++i) {
      CHECK(fleet.applied_count(i) == 2);
      CHECK(fleet.scalar(i, "SELECT count(*) FROM orders") == "1");
    }
  }

  SUBCASE("killed after the commit decision: recover commits every shard, then migrate is a no-op") {
    std::filesystem::remove(fleet.dir / "db/migrate/orders/2_items.sql");
    auto run = fleet.grant({"migrate", "--atomic"}, {{"GRANT_FAULT", "after-decision"}});
    CHECK(run.exit_code == 128 + 9);
    for (int i = 0; i < 4; ++i) {
      CHECK(fleet.prepared(i) == 1);
      CHECK(fleet.applied_count(i) == 0); // not visible before COMMIT PREPARED
    }
    run = fleet.grant({"recover", "--json"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    const auto document = nlohmann::json::parse(run.out);
    REQUIRE(document["in_doubt"].size() == 4);
    for (const auto &item : document["in_doubt"]) {
      CHECK(item["decision"] == "commit");
      CHECK(item["action"] == "commit");
      CHECK(item["done"] == true);
    }
    for (int i = 0; i < 4; ++i) {
      CHECK(fleet.prepared(i) == 0);
      CHECK(fleet.applied_count(i) == 1);
      CHECK(fleet.scalar(i, "SELECT count(*) FROM orders") == "1");
    }
    run = fleet.grant({"migrate", "--atomic"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "0 applied, at 1"));
    CHECK(fleet.applied_count(3) == 1);
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
