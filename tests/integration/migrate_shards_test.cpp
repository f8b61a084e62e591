// A sharded database "orders" on the four shard servers (a fresh database on each): fan-out,
// --shard selection, --jobs, one shard failing, version skew.
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

using grant::test::contains;

using grant::test::RunResult;
using grant::test::TempDir;

namespace {

class Fleet {
public:
  Fleet() {
    nlohmann::json shards = nlohmann::json::array();
    for (int i = 0; i < 4; ++i) {
      m_urls.push_back(grant::test::fresh_database(grant::test::shard_url(i), "mig_shard"));
      shards.push_back({{"name", "s" + std::to_string(i)}, {"url", m_urls.back()}});
    }
    nlohmann::json config;
    config["databases"]["orders"] = {{"shards", shards},
                                     {"migrations", "db/migrate/orders"},
                                     {"sharding", {{"key", "user_id"}, {"resolver", {{"type", "modulo"}}}}}};
    dir.write("grant.json", config.dump(2));
    std::filesystem::create_directories(dir / "db/migrate/orders");
  }

  TempDir dir;

  void file(const std::string &name, const std::string &text) const { dir.write("db/migrate/orders/" + name, text); }
  RunResult grant(const std::vector<std::string> &args) const { return grant::test::run_grant(args, dir.path()); }

  std::string scalar(int shard, const std::string &sql) const {
    pqxx::connection connection(m_urls.at(static_cast<std::size_t>(shard)));
    pqxx::nontransaction work(connection);
    const auto value = work.exec1(sql)[0];
    return value.is_null() ? "NULL" : value.c_str();
  }
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

private:
  std::vector<std::string> m_urls;
};

std::string table_migration(const std::string &table) {
  return "-- grant:up\nCREATE TABLE " + table +
         " (id bigint PRIMARY KEY, user_id bigint);\n"
         "-- grant:down\nDROP TABLE " +
         table + ";\n";
}

} // namespace

TEST_CASE("migrate::shards") {
  Fleet fleet;
  fleet.file("1_orders.sql", table_migration("orders"));
  fleet.file("2_items.sql", table_migration("order_items"));

  SUBCASE("--jobs 4 migrates every shard; the summary lists each") {
    const auto run = fleet.grant({"migrate", "--jobs", "4"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    for (int i = 0; i < 4; ++i) {
      CHECK(fleet.applied_count(i) == 2);
      CHECK(fleet.has_table(i, "order_items"));
      CHECK(contains(run.out, "orders/s" + std::to_string(i) + "  ok  2 applied, at 2"));
    }
    CHECK(fleet.grant({"status", "--exit-code"}).exit_code == 0);
  }

  SUBCASE("--shard narrows the run; status calls out the version skew") {
    auto run = fleet.grant({"migrate", "--shard", "s1", "--shard", "s3"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(fleet.applied_count(0) == 0);
    CHECK(fleet.applied_count(1) == 2);
    CHECK(fleet.applied_count(2) == 0);
    CHECK(fleet.applied_count(3) == 2);
    CHECK_FALSE(contains(run.out, "orders/s0"));

    run = fleet.grant({"status"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "version skew in orders: none on s0 s2; 2 on s1 s3"));
    CHECK(fleet.grant({"status", "--exit-code"}).exit_code == 1);
    run = fleet.grant({"status", "--json"});
    const auto document = nlohmann::json::parse(run.out);
    CHECK(document["version_skew"]["orders"]["s1"] == "2");
    CHECK(document["version_skew"]["orders"]["s0"] == "");
    CHECK(document["targets"].size() == 4);

    run = fleet.grant({"migrate", "--database", "orders", "--shard", "s9"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "s9"));
    CHECK(fleet.applied_count(0) == 0);
  }

  SUBCASE("status reads like a fleet: one line while the shards agree, details only where they differ") {
    REQUIRE(fleet.grant({"migrate"}).exit_code == 0);
    auto run = fleet.grant({"status"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "orders  4 shards agree: 2 applied, 0 pending, at 2\n"));
    CHECK_FALSE(contains(run.out, "orders/s"));

    fleet.file("3_notes.sql", table_migration("notes"));
    REQUIRE(fleet.grant({"migrate", "--shard", "s2"}).exit_code == 0);
    run = fleet.grant({"status"});
    CHECK(contains(run.out, "orders  4 shards: 3 agree (2 applied, 1 pending, at 2), 1 differs"));
    CHECK(contains(run.out, "    pending  3_notes"));
    CHECK(contains(run.out, "    orders/s2  3 applied, 0 pending, at 3"));
    CHECK_FALSE(contains(run.out, "orders/s0"));
    CHECK(contains(run.out, "version skew in orders: 2 on s0 s1 s3; 3 on s2"));
    CHECK(fleet.grant({"status", "--exit-code"}).exit_code == 1);

    run = fleet.grant({"status", "--verbose"});
    for (int i = 0; i < 4; ++i) {
      CHECK(contains(run.out, "    orders/s" + std::to_string(i) + "  "));
    }

    run = fleet.grant({"status", "--json"});
    const auto document = nlohmann::json::parse(run.out);
    CHECK(document["targets"].size() == 4);
    REQUIRE(document["databases"].size() == 1);
    const auto &orders = document["databases"][0];
    CHECK(orders["database"] == "orders");
    CHECK(orders["targets"] == 4);
    CHECK(orders["agree"] == false);
    CHECK(orders["agreeing"] == 3);
    CHECK(orders["common"]["current_version"] == "2");
    CHECK(orders["common"]["pending"][0]["version"] == "3");
    CHECK(orders["differing"] == nlohmann::json::array({"orders/s2"}));
    CHECK(orders["version_skew"]["s2"] == "3");
  }

  SUBCASE("one shard failing does not affect the others") {
    // Plant a conflicting table on shard 2 only.
    fleet.execute(2, "CREATE TABLE order_items (conflict text)");
    const auto run = fleet.grant({"migrate", "--jobs", "4"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    for (const int i : {0, 1, 3}) {
      CHECK(fleet.applied_count(i) == 2);
      CHECK(contains(run.out, "orders/s" + std::to_string(i) + "  ok  2 applied"));
    }
    CHECK(fleet.applied_count(2) == 1);
    CHECK(contains(run.out, "orders/s2  FAILED  1 applied before the failure"));
    CHECK(contains(run.err, "orders/s2: migration 2_items failed"));
    CHECK(contains(run.err, "2_items.sql:2"));

    const auto json = fleet.grant({"migrate", "--json"});
    CHECK(json.exit_code == 3);
    const auto document = nlohmann::json::parse(json.out);
    CHECK(document["ok"] == false);
    REQUIRE(document["targets"].size() == 4);
    CHECK(document["targets"][2]["ok"] == false);
    CHECK(document["targets"][3]["ok"] == true);
  }
}
