// MySQL / MariaDB under network faults, through the fault proxy (tests/support/fault_proxy.hpp,
// which reads MySQL's COM_QUERY packets): on two shard servers, one shard's connection dropped
// before a statement mid-migration (the other shard finishes; the dropped one is dirty with what
// it applied named, and refused until repair), and a stalled server bounded by the section's
// statement_timeout plus the connect timeout, then the same fan-out finishing once the network is
// back; a shard server shut down mid fan-out (the other shard finishes, the stopped one is dirty
// once it is back); a rollback dropped or stalled on one shard (its version dirty). Scatter-gather
// over both shards equals the rows of both.
#include "support/fault_proxy.hpp"
#include "support/mysql_project.hpp"
#include "support/pg_pair.hpp"
#include "support/support.hpp"

#include <grant/db/connection.hpp>
#include <grant/error.hpp>
#include <grant/util/url.hpp>

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <thread>

#include <unistd.h>

namespace grant_test_mysql_faults_cli_test {

using grant::test::contains;
using grant::test::FaultProxy;
using grant::test::RunResult;
using Json = nlohmann::json;

namespace {

std::string fresh(const std::string& variable, const std::string& prefix) {
  return grant::test::fresh_database(grant::test::server_env(variable), prefix);
}

long long count(const std::string& url, const std::string& sql) {
  return std::stoll(grant::test::open_mysql(url)->query(sql).scalar().value_or("-1"));
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
  // After a fault left s1 dirty and its leftovers were undone by hand: repair, then both shards finish.
  void repair_and_finish() const {
    auto run = grant({"repair"});
    REQUIRE_MESSAGE(run.exit_code == 0, run.err);
    run = grant({"migrate"});
    REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  }
};

bool reachable(const std::string& url) {
  try {
    grant::db::connect(grant::util::parse_database_url(url, "/"), {"probe", 1000, "grant-test"})->query("SELECT 1");
    return true;
  } catch (const grant::Error&) {
    return false;
  }
}

// The fleet's second shard server, shut down for the scope and started again as tests/servers.sh
// started it (its own config file under GRANT_TEST_MY_DIR; as the postgres OS user under root).
// Every test of the fleet's shard servers is in this file, so none runs while it is down.
class ShardServerDown {
public:
  explicit ShardServerDown(std::string url) : m_url(std::move(url)) {
    try {
      grant::test::open_mysql(m_url)->execute("SHUTDOWN");
    } catch (const grant::Error&) {
      // the server may end the session before it answers
    }
    REQUIRE(grant::test::eventually([&] { return !reachable(m_url); }, std::chrono::seconds(30)));
  }
  ~ShardServerDown() {
    const auto dir = grant::test::server_env("GRANT_TEST_MY_DIR");
    const char* binary = std::getenv("GRANT_TEST_MARIADBD");
    const std::string command = std::string("setsid ") + (binary ? binary : "/usr/sbin/mariadbd") +
                                " --defaults-file='" + dir + "/shard1.cnf'" +
                                (geteuid() == 0 ? " --user=postgres" : "") + " </dev/null >>'" + dir +
                                "/../logs/mariadb-shard1.log' 2>&1 &";
    if (std::system(command.c_str()) != 0 ||
        !grant::test::eventually([&] { return reachable(m_url); }, std::chrono::seconds(60))) {
      FAIL("the MariaDB shard1 test server did not start again");
    }
  }
  ShardServerDown(const ShardServerDown&) = delete;
  ShardServerDown& operator=(const ShardServerDown&) = delete;

private:
  std::string m_url;
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
  grant::test::open_mysql(shards.s1)->execute("DROP TABLE fault_a");
  shards.repair_and_finish();
  CHECK(count(shards.s1, "SELECT COUNT(*) FROM schema_migrations WHERE NOT dirty") == 2);
}

TEST_CASE("mysql faults: a rollback's connection dropped or stalled on one shard leaves its version dirty") {
  Shards shards;
  FaultProxy proxy(shards.s1);
  shards.config(proxy.url());
  shards.file("1_orders.sql", k_orders);
  shards.file("2_more.sql", "-- grant:up\nCREATE TABLE fault_a (id int);\nCREATE TABLE fault_b (id int);\n"
                            "-- grant:down statement_timeout=1s\nDROP TABLE fault_b;\nDROP TABLE fault_a;\n");
  REQUIRE(shards.grant({"migrate"}).exit_code == 0);
  const auto tables = [&](const std::string& url) {
    return count(url, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND "
                      "table_name LIKE 'fault\\_%'");
  };

  SUBCASE("dropped before the down section's second statement: what ran is named, the version is dirty") {
    proxy.add_rule("DROP TABLE fault_a", FaultProxy::Action::drop_before);
    auto run = shards.grant({"rollback"});
    CHECK(run.exit_code == 3);
    CHECK(proxy.fired() == 1);
    CHECK_MESSAGE(contains(run.err, "orders/s1: rollback of 2_more failed"), run.err);
    CHECK(contains(run.err, "statements 1-1 of 2 stay applied (MySQL commits DDL as it runs); the version is "
                            "recorded as dirty"));
    CHECK(count(shards.s0, "SELECT COUNT(*) FROM schema_migrations") == 1); // s0 reverted
    CHECK(tables(shards.s0) == 0);
    CHECK(count(shards.s1, "SELECT COUNT(*) FROM schema_migrations WHERE dirty") == 1);
    CHECK(tables(shards.s1) == 1); // fault_a stays
    proxy.clear_rules();
    run = shards.grant({"migrate"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "is dirty"));
    // Finished by hand, repaired: s1 is pending again, and both shards apply it.
    grant::test::open_mysql(shards.s1)->execute("DROP TABLE fault_a");
    shards.repair_and_finish();
    CHECK(count(shards.s1, "SELECT COUNT(*) FROM schema_migrations WHERE NOT dirty") == 2);
  }
  SUBCASE("stalled at the down section's first statement: given up after the bound, the version dirty") {
    proxy.add_rule("DROP TABLE fault_b", FaultProxy::Action::stall);
    const auto started = std::chrono::steady_clock::now();
    const auto run = shards.grant({"rollback"});
    const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    CAPTURE(seconds);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "no reply from orders/s1"));
    CHECK(seconds < 30); // bounded: 1 s + 2 s of grace, not forever
    // What the server did with the statement is unknown: the row stays dirty, never clean by guess.
    CHECK(count(shards.s1, "SELECT COUNT(*) FROM schema_migrations WHERE dirty") == 1);
    CHECK(count(shards.s0, "SELECT COUNT(*) FROM schema_migrations") == 1);
    proxy.release();
    proxy.clear_rules();
  }
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
  grant::test::open_mysql(shards.s1)->execute("DROP TABLE IF EXISTS stall_a");
  grant::test::open_mysql(shards.s1)->execute("DROP TABLE IF EXISTS stall_b");
  shards.repair_and_finish();
}

TEST_CASE("mysql faults: a shard server shut down mid fan-out") {
  Shards shards;
  shards.config(shards.s1);
  shards.file("1_orders.sql", k_orders);
  shards.file("2_slow.sql",
              "-- grant:up\nCREATE TABLE stop_a (id int);\nSELECT SLEEP(3);\nCREATE TABLE stop_b (id int);\n");
  grant::test::BackgroundGrant migrate({"migrate", "--jobs", "2"}, shards.dir.path(), shards.dir / "run.out");
  const auto sleeping = [&] { return grant::test::statement_running(shards.s1, "SELECT SLEEP(3)"); };
  REQUIRE(grant::test::eventually(sleeping, std::chrono::seconds(20)));
  {
    const ShardServerDown down(shards.s1);
    const auto code = migrate.stop(0, std::chrono::seconds(30));
    const auto text = grant::test::read_file(shards.dir / "run.out");
    REQUIRE_MESSAGE(code.has_value(), "grant still runs 30 s after the shard server went down:\n" << text);
    CHECK_MESSAGE(*code == 3, text);
    CHECK_MESSAGE(contains(text, "orders/s1"), text);
    CHECK_MESSAGE(contains(text, "statements 1-1 of 3 stay applied"), text);
    CHECK_FALSE(contains(text, "nothing was applied"));
    // The other shard finished.
    CHECK(count(shards.s0, "SELECT COUNT(*) FROM schema_migrations WHERE NOT dirty") == 2);
    const auto status = shards.grant({"status"});
    CHECK(status.exit_code == 3);
    CHECK(contains(status.out + status.err, "orders/s1"));
  }
  // Back up: s1's version is dirty (its first statement stayed), refused until repair.
  auto run = shards.grant({"migrate"});
  CHECK(run.exit_code == 2);
  CHECK(contains(run.err, "is dirty"));
  grant::test::open_mysql(shards.s1)->execute("DROP TABLE stop_a");
  shards.repair_and_finish();
  CHECK(count(shards.s1, "SELECT COUNT(*) FROM schema_migrations WHERE NOT dirty") == 2);
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
