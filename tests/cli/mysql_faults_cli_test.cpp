// MySQL / MariaDB under network faults, through the fault proxy (tests/support/fault_proxy.hpp,
// which reads MySQL's COM_QUERY packets): on two shard servers, one shard's connection dropped
// before a statement mid-migration (the other shard finishes; the dropped one is dirty with what
// it applied named, and refused until repair), and a stalled server bounded by the section's
// statement_timeout plus the connect timeout, then the same fan-out finishing once the network is
// back. Scatter-gather over both shards equals the rows of both.
#include "support/fault_proxy.hpp"
#include "support/support.hpp"

#include <grant/db/connection.hpp>
#include <grant/util/url.hpp>

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <random>

#include <unistd.h>

namespace grant_test_mysql_faults_cli_test {

using grant::test::contains;
using grant::test::FaultProxy;
using grant::test::RunResult;
using Json = nlohmann::json;

namespace {

std::unique_ptr<grant::db::Connection> open(const std::string& url) {
  return grant::db::connect(grant::util::parse_database_url(url, "/"), {});
}

std::string fresh(const std::string& variable, const std::string& prefix) {
  static std::atomic<int> counter{0};
  static const auto run_id = std::random_device{}() % 100000;
  const auto server = grant::test::server_env(variable);
  const auto name =
      prefix + "_" + std::to_string(getpid()) + "_" + std::to_string(run_id) + "_" + std::to_string(counter++);
  open(server)->execute("CREATE DATABASE `" + name + "`");
  return grant::test::with_dbname(server, name);
}

long long count(const std::string& url, const std::string& sql) {
  return std::stoll(open(url)->query(sql).scalar().value_or("-1"));
}

// Two shards on the two MySQL shard servers; s1 through `proxy_url` when given.
struct Shards {
  std::string s0 = fresh("GRANT_TEST_MY_SHARD0_URL", "my_fault");
  std::string s1 = fresh("GRANT_TEST_MY_SHARD1_URL", "my_fault");
  grant::test::TempDir dir;

  void config(const std::string& s1_url) const {
    dir.write(
        "grant.json",
        Json{{"databases",
              {{"orders",
                {{"shards", Json::array({Json{{"name", "s0"}, {"url", s0}}, Json{{"name", "s1"}, {"url", s1_url}}})},
                 {"sharding", {{"key", "user_id"}, {"tables", {"orders"}}, {"resolver", {{"type", "modulo"}}}}},
                 {"pool", {{"connect_timeout_ms", 2000}}}}}}}}
            .dump(2));
  }
  void file(const std::string& name, const std::string& text) const { dir.write("db/migrate/orders/" + name, text); }
  RunResult grant(const std::vector<std::string>& args) const { return grant::test::run_grant(args, dir.path()); }
};

const std::string k_orders = "-- grant:up\nCREATE TABLE orders (user_id bigint, id bigint, total decimal(10,2), "
                             "PRIMARY KEY (user_id, id));\n";

} // namespace

TEST_CASE("mysql faults: a connection dropped mid-migration on one shard") {
  Shards shards;
  FaultProxy proxy(shards.s1);
  shards.config(proxy.url());
  shards.file("1_orders.sql", k_orders);
  shards.file("2_more.sql", "-- grant:up\nCREATE TABLE fault_a (id int);\nCREATE TABLE fault_b (id int);\n"
                            "-- grant:down\nDROP TABLE fault_b;\nDROP TABLE fault_a;\n");
  proxy.add_rule("CREATE TABLE fault_b", FaultProxy::Action::drop_before);
  auto run = shards.grant({"migrate"});
  CHECK(run.exit_code == 3);
  CHECK(proxy.fired() == 1);
  CHECK(contains(run.err, "orders/s1"));
  CHECK(contains(run.err, "statements 1-1 of 2 stay applied"));
  CHECK(count(shards.s0, "SELECT COUNT(*) FROM schema_migrations WHERE NOT dirty") == 2);
  CHECK(count(shards.s1, "SELECT COUNT(*) FROM schema_migrations WHERE dirty") == 1);
  CHECK(count(shards.s1, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND "
                         "table_name = 'fault_a'") == 1);

  // The network is back; the dirty version is refused until repair, then finishes.
  proxy.clear_rules();
  run = shards.grant({"migrate"});
  CHECK(run.exit_code == 2);
  CHECK(contains(run.err, "is dirty"));
  open(shards.s1)->execute("DROP TABLE fault_a");
  run = shards.grant({"repair"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  run = shards.grant({"migrate"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  CHECK(count(shards.s1, "SELECT COUNT(*) FROM schema_migrations WHERE NOT dirty") == 2);
}

TEST_CASE("mysql faults: a stalled server is given up within statement_timeout plus the connect timeout") {
  Shards shards;
  FaultProxy proxy(shards.s1);
  shards.config(proxy.url());
  shards.file("1_orders.sql", k_orders);
  shards.file("2_stall.sql", "-- grant:up statement_timeout=1s\nCREATE TABLE stall_a (id int);\n"
                             "CREATE TABLE stall_b (id int);\n");
  proxy.add_rule("CREATE TABLE stall_b", FaultProxy::Action::stall);
  const auto started = std::chrono::steady_clock::now();
  auto run = shards.grant({"migrate"});
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  CAPTURE(seconds);
  CHECK(run.exit_code == 3);
  CHECK(contains(run.err, "no reply from orders/s1"));
  CHECK(seconds < 30); // bounded: 1 s + 2 s of grace, not forever (no wall-clock assertion tighter than that)
  CHECK(count(shards.s0, "SELECT COUNT(*) FROM schema_migrations WHERE NOT dirty") == 2);
  proxy.release();
  proxy.clear_rules();
  open(shards.s1)->execute("DROP TABLE IF EXISTS stall_a");
  open(shards.s1)->execute("DROP TABLE IF EXISTS stall_b");
  run = shards.grant({"repair"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  run = shards.grant({"migrate"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
}

TEST_CASE("mysql faults: scatter-gather over both shards equals the combined rows") {
  Shards shards;
  shards.config(shards.s1);
  shards.file("1_orders.sql", k_orders);
  auto run = shards.grant({"migrate"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  for (int key = 1; key <= 40; ++key) {
    run = shards.grant({"query", "--database", "orders", "--key", std::to_string(key),
                        "INSERT INTO orders VALUES (" + std::to_string(key) + ", 1, " + std::to_string(key) + ".5)"});
    REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  }
  run = shards.grant({"query", "--database", "orders", "--all-shards", "--format", "json",
                      "SELECT user_id, total FROM orders ORDER BY total DESC LIMIT 5"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  const auto rows = Json::parse(run.out);
  REQUIRE(rows.size() == 5);
  CHECK(rows[0].at("user_id") == 40);
  CHECK(rows[4].at("user_id") == 36);
  CHECK(count(shards.s0, "SELECT COUNT(*) FROM orders") + count(shards.s1, "SELECT COUNT(*) FROM orders") == 40);
  CHECK(count(shards.s0, "SELECT COUNT(*) FROM orders WHERE user_id % 2 = 1") == 0); // modulo: even keys on s0
  run = shards.grant({"shard-check"});
  CHECK_MESSAGE(run.exit_code == 0, run.out);
}

} // namespace grant_test_mysql_faults_cli_test
