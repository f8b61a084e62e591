// `grant lint` end to end on four real shards: only what is pending is linted; --connect reads
// every shard's table size, rows and the session left idle in transaction on one of them, raises
// severity on a large table, reports a shard without the table and an unreachable one; every
// format is read back by a parser (SARIF's required fields); `grant migrate` stops on an error
// before touching a shard; a file the parser rejects exits 2 with its position.
#include "support/fault_proxy.hpp"
#include "support/fleet.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <chrono>
#include <cstdlib>
#include <sstream>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_lint_cli_test {

using grant::test::contains;
using grant::test::RunResult;
using Json = nlohmann::json;

namespace {

std::string password() {
  const char* value = std::getenv("GRANT_TEST_PG_PASSWORD");
  return value == nullptr ? std::string("grant-test-secret") : value;
}

const Json* finding(const Json& document, const std::string& rule) {
  for (const auto& entry : document.at("findings")) {
    if (entry.at("rule") == rule) {
      return &entry;
    }
  }
  return nullptr;
}

const Json& target(const Json& entry, const std::string& name) {
  for (const auto& facts : entry.at("targets")) {
    if (facts.at("target") == name) {
      return facts;
    }
  }
  FAIL("no target " << name);
  static const Json k_none;
  return k_none;
}

void no_secret(const RunResult& run) {
  CHECK_FALSE(contains(run.out, password()));
  CHECK_FALSE(contains(run.err, password()));
}

} // namespace

TEST_CASE("cli: grant lint on four shards") {
  grant::test::ShardFleet fleet(4, "lint", true);
  fleet.config()["databases"]["orders"]["sharding"]["tables"] = {"orders"};
  fleet.config()["databases"]["orders"]["lint"] = {{"large_table_mb", 1}};
  fleet.save();
  fleet.file("1_orders.sql", "-- grant:up\nCREATE TABLE orders (user_id bigint, id bigint, note text, "
                             "PRIMARY KEY (user_id, id));\nCREATE INDEX orders_note ON orders (note);\n");
  // A table created in the pending set is no hazard: migrate lints and applies it.
  auto run = fleet.grant({"migrate"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  CHECK_FALSE(contains(run.err, "warning ["));

  // Shard sizes differ: s0 about 4 MB, s1 ten rows, s2 empty, s3 has no such table. Autovacuum
  // stays off the table: its worker would hold SHARE UPDATE EXCLUSIVE, a real blocker of the
  // statements below that lint would (rightly) report on a shard where the test expects none.
  for (int shard = 0; shard < 4; ++shard) {
    fleet.execute(shard, "ALTER TABLE orders SET (autovacuum_enabled = off)");
  }
  fleet.execute(0, "INSERT INTO orders SELECT g, g, repeat('x', 150) FROM generate_series(1, 20000) g; ANALYZE orders");
  fleet.execute(1, "INSERT INTO orders SELECT g, g, 'n' FROM generate_series(1, 10) g; ANALYZE orders");
  fleet.execute(3, "DROP TABLE orders");
  // A session left idle in transaction on s1, holding ACCESS SHARE on orders.
  pqxx::connection idle(fleet.url(1) + (contains(fleet.url(1), "?") ? "&" : "?") + "application_name=lint_idle");
  pqxx::work idle_transaction(idle);
  idle_transaction.exec("SELECT count(*) FROM orders");
  const int idle_pid = idle.backendpid();

  fleet.file("2_change.sql", "-- grant:up lock_timeout=3s\n"
                             "ALTER TABLE orders ALTER COLUMN note TYPE varchar(200);\n"
                             "ALTER TABLE orders ADD COLUMN must int NOT NULL;\n");

  SUBCASE("without --connect: only the pending migration, static severities") {
    run = fleet.grant({"lint", "--format", "json"});
    CHECK(run.exit_code == 0); // warnings only: lint.fail_on is error
    const auto document = Json::parse(run.out);
    CHECK(document["summary"]["migrations"] == 1);
    CHECK(document["summary"]["statements"] == 2);
    CHECK(document["summary"]["connected"] == false);
    REQUIRE(finding(document, "column-type-change") != nullptr);
    CHECK((*finding(document, "column-type-change"))["severity"] == "warning");
    CHECK((*finding(document, "column-type-change"))["file"] == "db/migrate/orders/2_change.sql");
    CHECK((*finding(document, "column-type-change"))["line"] == 2);
    CHECK((*finding(document, "column-type-change"))["lock"] == "ACCESS EXCLUSIVE");
    CHECK_FALSE(finding(document, "column-type-change")->contains("targets"));
    CHECK(fleet.grant({"lint", "--fail-on", "warning"}).exit_code == 1);
    no_secret(run);
  }

  SUBCASE("--connect: sizes, rows, the idle session, a shard without the table") {
    run = fleet.grant({"lint", "--connect", "--format", "json"});
    CHECK(run.exit_code == 1);
    no_secret(run);
    const auto document = Json::parse(run.out);
    CHECK(document["summary"]["connected"] == true);
    CHECK(document["summary"]["failed"] == true);
    const auto* rewrite = finding(document, "column-type-change");
    REQUIRE(rewrite != nullptr);
    // Past lint.large_table_mb (1) on s0: an error, naming the shard.
    CHECK((*rewrite)["severity"] == "error");
    CHECK(contains((*rewrite)["message"], "on orders/s0, past lint.large_table_mb (1)"));
    REQUIRE((*rewrite)["targets"].size() == 4);
    const auto& s0 = target(*rewrite, "orders/s0");
    CHECK(s0["exists"] == true);
    CHECK(s0["table_bytes"].get<long long>() > (1 << 20));
    CHECK(s0["rows_estimate"] == 20000);
    const auto& s1 = target(*rewrite, "orders/s1");
    CHECK(s1["rows_estimate"] == 10);
    CHECK(s1["table_bytes"].get<long long>() < (1 << 20));
    REQUIRE(s1["blockers"].size() == 1);
    CHECK(s1["blockers"][0]["pid"] == idle_pid);
    CHECK(s1["blockers"][0]["application_name"] == "lint_idle");
    CHECK(s1["blockers"][0]["state"] == "idle in transaction");
    CHECK(s1["blockers"][0]["lock"] == "AccessShareLock");
    CHECK(target(*rewrite, "orders/s0")["blockers"].empty());
    CHECK(target(*rewrite, "orders/s2")["exists"] == true);
    CHECK(target(*rewrite, "orders/s3")["exists"] == false);
    CHECK(target(*rewrite, "orders/s3")["table_bytes"].is_null());
    // NOT NULL without a default on a table with rows will fail: an error.
    const auto* not_null = finding(document, "not-null-without-default");
    REQUIRE(not_null != nullptr);
    CHECK((*not_null)["severity"] == "error");
    CHECK(contains((*not_null)["message"], "has rows on orders/s0 and 1 more"));

    const auto text = fleet.grant({"lint", "--connect"});
    CHECK(text.exit_code == 1);
    CHECK(contains(text.out, "db/migrate/orders/2_change.sql:2:1: error [column-type-change]"));
    CHECK(contains(text.out, "    ALTER TABLE orders ALTER COLUMN note TYPE varchar(200)\n    ^\n"));
    CHECK(contains(text.out, "orders/s1: "));
    CHECK(contains(text.out, "would wait for pid " + std::to_string(idle_pid) + " (lint_idle), idle in transaction"));
    CHECK(contains(text.out, "orders/s3: no table orders here"));
    CHECK(contains(text.out, "largest orders/s0"));
  }

  SUBCASE("--connect with an unreachable shard: reported, not guessed") {
    fleet.route(2, "postgres://grant:" + password() + "@127.0.0.1:" + std::to_string(grant::test::closed_port()) +
                       "/nowhere?connect_timeout=2");
    run = fleet.grant({"lint", "--connect", "--format", "json", "--fail-on", "none"});
    CHECK(run.exit_code == 0);
    no_secret(run);
    const auto document = Json::parse(run.out);
    const auto& s2 = target(*finding(document, "column-type-change"), "orders/s2");
    CHECK(s2["reachable"] == false);
    CHECK(s2["exists"].is_null());
    CHECK_FALSE(s2["error"].get<std::string>().empty());
    CHECK(target(*finding(document, "column-type-change"), "orders/s0")["reachable"] == true);
  }

  SUBCASE("SARIF and GitHub annotations") {
    run = fleet.grant({"lint", "--format", "sarif"});
    CHECK(run.exit_code == 0);
    const auto sarif = Json::parse(run.out);
    // SARIF 2.1.0's required fields: version, runs; run.tool.driver.name; result.message.
    CHECK(sarif["version"] == "2.1.0");
    REQUIRE(sarif["runs"].size() == 1);
    const auto& driver = sarif["runs"][0]["tool"]["driver"];
    CHECK(driver["name"] == "grant");
    CHECK(driver["rules"].size() >= 20);
    for (const auto& rule : driver["rules"]) {
      CHECK(rule.contains("id"));
    }
    const auto& results = sarif["runs"][0]["results"];
    REQUIRE(results.size() >= 2);
    for (const auto& result : results) {
      CHECK(result["message"]["text"].is_string());
      CHECK(result["ruleId"].is_string());
      CHECK((result["level"] == "warning" || result["level"] == "error"));
      const auto& location = result["locations"][0]["physicalLocation"];
      CHECK(location["artifactLocation"]["uri"] == "db/migrate/orders/2_change.sql");
      CHECK(location["region"]["startLine"].get<int>() >= 2);
      CHECK(location["region"]["startColumn"] == 1);
    }

    run = fleet.grant({"lint", "--format", "github"});
    std::istringstream lines(run.out);
    std::string line;
    int annotations = 0;
    while (std::getline(lines, line)) {
      ++annotations;
      CHECK(line.rfind("::warning file=db/migrate/orders/2_change.sql,line=", 0) == 0);
      CHECK(contains(line, ",col=1,title=grant lint "));
      CHECK(contains(line, "::"));
    }
    CHECK(annotations >= 2);
  }

  SUBCASE("migrate lints first and stops on an error before touching any shard") {
    fleet.file("3_concurrently.sql", "-- grant:up\nCREATE INDEX CONCURRENTLY orders_id ON orders (id);\n");
    run = fleet.grant({"migrate"});
    CHECK(run.exit_code == 1);
    CHECK(contains(run.err, "3_concurrently.sql:2:1: error [concurrently-in-transaction]"));
    CHECK(contains(run.err, "nothing was applied"));
    for (int shard = 0; shard < 3; ++shard) {
      CHECK(fleet.applied_count(shard) == 1);
    }
  }

  SUBCASE("a file the parser rejects: exit 2 with its position") {
    fleet.dir.write("broken.sql", "-- grant:up\nCREATE TABEL t (a int);\n");
    run = fleet.grant({"lint", "broken.sql"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "broken.sql:2:8"));
    CHECK(contains(run.err, "syntax error at or near \"TABEL\""));
    // Files need no server: plain SQL without markers is one up section.
    fleet.dir.write("plain.sql", "DROP INDEX orders_note;\n");
    run = fleet.grant({"lint", "--fail-on", "warning", "plain.sql"});
    CHECK(run.exit_code == 1);
    CHECK(contains(run.out, "plain.sql:1:1: warning [drop-index-without-concurrently]"));
  }
  idle_transaction.abort();
}

TEST_CASE("cli: grant lint --connect with a shard that stops answering or drops: bounded, reported") {
  grant::test::ShardFleet fleet(2, "lint_stall", true);
  grant::test::FaultProxy proxy(fleet.url(1));
  fleet.route(1, proxy.url());
  fleet.config()["databases"]["orders"]["pool"] = {{"connect_timeout_ms", 2000}};
  fleet.save();
  fleet.file("1_orders.sql", "-- grant:up\nCREATE TABLE orders (user_id bigint, id bigint, note text, "
                             "PRIMARY KEY (user_id, id));\n");
  auto run = fleet.grant({"migrate"});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  fleet.file("2_change.sql", "-- grant:up\nALTER TABLE orders ALTER COLUMN note TYPE varchar(200);\n");

  // The pending set is read through the proxy; the catalog question of --connect stalls there,
  // or its connection is dropped.
  std::string expected;
  SUBCASE("stalled") {
    proxy.add_rule("with ordinality", grant::test::FaultProxy::Action::stall);
    expected = "no reply from orders/s1 within 2000";
  }
  SUBCASE("dropped") {
    proxy.add_rule("with ordinality", grant::test::FaultProxy::Action::drop_before);
    expected = "lost the connection to orders/s1";
  }
  const auto started = std::chrono::steady_clock::now();
  run = fleet.grant({"lint", "--connect", "--format", "json", "--fail-on", "none"});
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(proxy.fired() == 1);
  CHECK_MESSAGE(run.exit_code == 0, run.err);
  const auto document = Json::parse(run.out);
  REQUIRE(finding(document, "column-type-change") != nullptr);
  const auto& s1 = target(*finding(document, "column-type-change"), "orders/s1");
  CHECK(s1["reachable"] == false);
  CHECK_MESSAGE(contains(s1["error"].get<std::string>(), expected), s1.dump());
  CHECK(target(*finding(document, "column-type-change"), "orders/s0")["reachable"] == true);
  // One connect timeout (2 s) bounds the stalled question, with room for a slow machine.
  CHECK(took < std::chrono::seconds(12));
  proxy.clear_rules();
  proxy.release();
}

} // namespace grant_test_lint_cli_test
