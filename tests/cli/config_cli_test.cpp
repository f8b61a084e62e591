// `grant config check`, run as a user would run it: a good config, real servers, bad input.
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_config_cli_test {

using grant::test::closed_port;
using grant::test::contains;

using grant::test::run_grant;
using grant::test::RunResult;
using grant::test::TempDir;
namespace fs = std::filesystem;
namespace test = grant::test;

namespace {

const std::string k_secret = "Sup3r-Secret-Pw";

RunResult grant_in(const fs::path& cwd, const std::vector<std::string>& args,
                   std::map<std::string, std::optional<std::string>> env = {}) {
  env.emplace("GRANT_CONFIG", std::nullopt);
  return run_grant(args, cwd, env);
}

// Every path under `dir`, to prove a failed command wrote nothing.
std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    out.insert(entry.path().string());
  }
  return out;
}

// A topology on the real test servers: analytics (writer + streaming replica) and orders on the
// four shard servers. `shard2_url` replaces the third shard's URL when given.
std::string real_topology(const std::string& shard2_url = {}) {
  std::string shards;
  for (int i = 0; i < 4; ++i) {
    const auto url = i == 2 && !shard2_url.empty() ? shard2_url : test::shard_url(i);
    shards += std::string(i == 0 ? "" : ", ") + R"({"name": "s)" + std::to_string(i) + R"(", "url": ")" + url + R"("})";
  }
  return R"({"databases": {
    "analytics": {"url": ")" +
         test::writer_url() + R"(", "replicas": [{"name": "r1", "url": ")" + test::replica_url() + R"("}]},
    "orders": {"shards": [)" +
         shards + R"(], "sharding": {"key": "user_id", "resolver": {"type": "hash"}}}
  }})";
}

} // namespace

TEST_CASE("cli::config check on a good config") {
  TempDir dir;
  fs::create_directories(dir / "db");
  dir.write("grant.json", R"({"databases": {
    "primary": {"url": "sqlite3:db/primary.sqlite3"},
    "analytics": {"url": "postgres://grant:)" +
                              k_secret + R"(@127.0.0.1:5432/analytics?sslmode=disable",
                  "replicas": [{"name": "r1", "url": "postgres://grant@10.0.0.2/analytics?password=)" +
                              k_secret + R"(", "weight": 3}]},
    "orders": {"shards": [{"name": "s0", "url": "postgres://grant:${ORDERS_PW}@127.0.0.1:5433/orders"},
                          {"name": "s1", "url": "postgres://grant:${ORDERS_PW}@127.0.0.1:5434/orders", "weight": 2}],
               "sharding": {"key": ["tenant_id", "user_id"], "resolver": {"type": "consistent_hash", "virtual_nodes": 160}}}
  }})");
  const std::map<std::string, std::optional<std::string>> env{{"ORDERS_PW", k_secret}};
  const auto before = listing(dir.path());

  SUBCASE("prints the topology with passwords as ***") {
    const auto run = grant_in(dir.path(), {"config", "check"}, env);
    CHECK(run.exit_code == 0);
    CHECK(run.err.empty());
    CHECK(contains(run.out, "grant.json (valid)"));
    CHECK(contains(run.out, "postgres://grant:***@127.0.0.1:5432/analytics?sslmode=disable"));
    CHECK(contains(run.out, "analytics/r1"));
    CHECK(contains(run.out, "password=***"));
    CHECK(contains(run.out, "weight 3"));
    CHECK(contains(run.out, "orders/s0"));
    CHECK(contains(run.out, "orders/s1"));
    CHECK(contains(run.out, "2 shards"));
    CHECK(contains(run.out, "consistent_hash on tenant_id, user_id"));
    CHECK(contains(run.out, (dir / "db" / "migrate" / "orders").string()));
    CHECK_FALSE(contains(run.out, k_secret));
    // The shards' order is the config's.
    CHECK(run.out.find("orders/s0") < run.out.find("orders/s1"));
    CHECK(listing(dir.path()) == before);
  }

  SUBCASE("--json is a single JSON document on stdout") {
    const auto run = grant_in(dir.path(), {"config", "check", "--json"}, env);
    CHECK(run.exit_code == 0);
    CHECK(run.err.empty());
    nlohmann::json document;
    REQUIRE_NOTHROW(document = nlohmann::json::parse(run.out)); // throws on trailing text
    CHECK(document["ok"] == true);
    REQUIRE(document["databases"].size() == 3);
    CHECK(document["databases"][0]["name"] == "primary");
    const auto& orders = document["databases"][2];
    CHECK(orders["sharded"] == true);
    CHECK(orders["sharding"]["resolver"]["type"] == "consistent_hash");
    CHECK(orders["sharding"]["resolver"]["virtual_nodes"] == 160);
    CHECK(orders["endpoints"][1]["label"] == "orders/s1");
    CHECK(orders["endpoints"][1]["weight"] == 2);
    CHECK(document["databases"][1]["endpoints"][0]["url"] ==
          "postgres://grant:***@127.0.0.1:5432/analytics?sslmode=disable");
    CHECK(document["databases"][1]["endpoints"][1]["role"] == "reading");
    CHECK_FALSE(contains(run.out, k_secret));
  }

  SUBCASE("global flags work after the command too, and --quiet silences stdout") {
    CHECK(nlohmann::json::accept(grant_in(dir.path(), {"config", "check", "--json"}, env).out));
    const auto quiet = grant_in(dir.path(), {"config", "check", "-q"}, env);
    CHECK(quiet.exit_code == 0);
    CHECK(quiet.out.empty());
  }

  SUBCASE("--database narrows the report; an unknown one is a usage error with a suggestion") {
    const auto run = grant_in(dir.path(), {"config", "check", "--database", "orders"}, env);
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "orders/s0"));
    CHECK_FALSE(contains(run.out, "analytics"));
    const auto bad = grant_in(dir.path(), {"config", "check", "--database", "ordres"}, env);
    CHECK(bad.exit_code == 2);
    CHECK(contains(bad.err, "unknown database 'ordres'"));
    CHECK(contains(bad.err, "did you mean 'orders'?"));
  }
}

TEST_CASE("cli::config lookup order") {
  TempDir dir;
  const auto config = [](const std::string& name) {
    return R"({"databases": {")" + name + R"(": {"url": "sqlite3:)" + name + R"(.sqlite3"}}})";
  };
  dir.write("db/grant.json", config("from_db_folder"));
  CHECK(contains(grant_in(dir.path(), {"config", "check"}).out, "from_db_folder"));
  dir.write("grant.json", config("from_cwd"));
  CHECK(contains(grant_in(dir.path(), {"config", "check"}).out, "from_cwd"));
  dir.write("env/grant.json", config("from_env"));
  CHECK(
      contains(grant_in(dir.path(), {"config", "check"}, {{"GRANT_CONFIG", (dir / "env" / "grant.json").string()}}).out,
               "from_env"));
  dir.write("flag.json", config("from_flag"));
  CHECK(contains(grant_in(dir.path(), {"--config", "flag.json", "config", "check"},
                          {{"GRANT_CONFIG", (dir / "env" / "grant.json").string()}})
                     .out,
                 "from_flag"));
}

TEST_CASE("cli::config check --connect against the real servers") {
  TempDir dir;
  const std::string password = test::server_env("GRANT_TEST_PG_PASSWORD");

  SUBCASE("every endpoint reachable: exit 0") {
    dir.write("grant.json", real_topology());
    const auto run = grant_in(dir.path(), {"config", "check", "--connect"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "all 6 endpoints reachable"));
    CHECK(contains(run.out, "in recovery")); // the replica says so
    CHECK(contains(run.out, "PostgreSQL 15"));
    CHECK_FALSE(contains(run.out + run.err, password));
  }

  SUBCASE("--json reports each endpoint") {
    dir.write("grant.json", real_topology());
    const auto run = grant_in(dir.path(), {"--json", "config", "check", "--connect"});
    CHECK(run.exit_code == 0);
    const auto document = nlohmann::json::parse(run.out);
    CHECK(document["ok"] == true);
    const auto& analytics = document["databases"][0]["endpoints"];
    CHECK(analytics[0]["reachable"] == true);
    CHECK(analytics[0]["in_recovery"] == false);
    CHECK(analytics[1]["in_recovery"] == true);
    CHECK(document["databases"][1]["endpoints"].size() == 4);
    CHECK_FALSE(contains(run.out, password));
  }

  SUBCASE("a closed port: exit 3, the endpoint named, no password") {
    const std::string bad = "postgres://grant:" + password + "@127.0.0.1:" + std::to_string(closed_port()) + "/orders";
    dir.write("grant.json", real_topology(bad));
    const auto run = grant_in(dir.path(), {"config", "check", "--connect"});
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "grant: error: orders/s2: "));
    CHECK_FALSE(contains(run.err, "orders/s1:"));
    CHECK(contains(run.out, "1 of 6 endpoints unreachable"));
    CHECK(contains(run.out, "FAILED"));
    CHECK_FALSE(contains(run.out + run.err, password));

    const auto json = grant_in(dir.path(), {"config", "check", "--connect", "--json"});
    CHECK(json.exit_code == 3);
    const auto document = nlohmann::json::parse(json.out);
    CHECK(document["ok"] == false);
    CHECK(document["databases"][1]["endpoints"][2]["reachable"] == false);
    CHECK(document["databases"][1]["endpoints"][1]["reachable"] == true);
    CHECK_FALSE(contains(json.out + json.err, password));
  }

  SUBCASE("a wrong password: exit 3, says so, shows neither password") {
    const std::string wrong = "Wr0ng-Pa55word";
    auto url = test::shard_url(2);
    url.replace(url.find(password), password.size(), wrong);
    dir.write("grant.json", real_topology(url));
    const auto run = grant_in(dir.path(), {"config", "check", "--connect"});
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "grant: error: orders/s2: "));
    CHECK(contains(run.err, "password authentication failed"));
    CHECK_FALSE(contains(run.out + run.err, wrong));
    CHECK_FALSE(contains(run.out + run.err, password));
  }
}

TEST_CASE("cli::config bad input exits 2, says what and where, writes nothing") {
  TempDir dir;
  const std::string file = "grant.json"; // as found: ./grant.json in the working folder

  struct Case {
    std::string name;
    std::string config;
    std::vector<std::string> expected; ///< pieces stderr must hold
  };
  const std::vector<Case> cases{
      {"JSON syntax error",
       "{\n  \"databases\": {\n    \"a\": {\"url\": \"sqlite3:a.db\"\n    \"migrations\": \"m\"}}}",
       {"JSON syntax error", file + ":4:5"}},
      {"unknown key",
       R"({"databases": {"a": {"url": "sqlite3:a.db", "shard": []}}})",
       {"unknown key 'shard' in databases.a", file + ": databases.a.shard", "did you mean 'shards'?"}},
      {"url and shards",
       R"({"databases": {"a": {"url": "sqlite3:a.db", "shards": [{"url": "sqlite3:b.db"}]}}})",
       {"sets both url and shards", file + ": databases.a"}},
      {"empty shards",
       R"({"databases": {"orders": {"shards": []}}})",
       {"databases.orders.shards is empty", file + ": databases.orders.shards"}},
      {"duplicate shard names",
       R"({"databases": {"orders": {"shards": [{"name": "s0", "url": "postgres://h/a"}, {"name": "s0", "url": "postgres://h/b"}]}}})",
       {"duplicate shard name 's0'", file + ": databases.orders.shards[1].name"}},
      {"unset variable",
       R"({"databases": {"orders": {"shards": [{"url": "postgres://h/a"}, {"url": "${GRANT_TEST_UNSET_URL}"}]}}})",
       {"GRANT_TEST_UNSET_URL", "databases.orders.shards[1].url"}},
      {"unsupported scheme",
       R"({"databases": {"a": {"url": "oracle://root:)" + k_secret + R"(@h/a"}}})",
       {"unsupported URL scheme 'oracle'", file + ": databases.a.url"}},
      {"SQLite folder missing",
       R"({"databases": {"a": {"url": "sqlite3:nowhere/a.sqlite3"}}})",
       {"does not exist", (dir / "nowhere").string(), file + ": databases.a.url"}},
      {"duplicate JSON key",
       R"({"databases": {"a": {"url": "sqlite3:a.db", "url": "sqlite3:b.db"}}})",
       {"duplicate key 'url'", file + ": databases.a.url"}},
      {"not an object",
       R"({"databases": {"a": {"url": "sqlite3:a.db", "pool": [5]}}})",
       {"databases.a.pool must be an object", file + ": databases.a.pool"}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    dir.write("grant.json", c.config);
    const auto before = listing(dir.path());
    const auto run = grant_in(dir.path(), {"config", "check", "--connect"}, {{"GRANT_TEST_UNSET_URL", std::nullopt}});
    CHECK(run.exit_code == 2);
    CHECK(run.err.rfind("grant: error: ", 0) == 0);
    for (const auto& piece : c.expected) {
      CAPTURE(piece);
      CHECK(contains(run.err, piece));
    }
    CHECK(run.out.empty());
    CHECK_FALSE(contains(run.err, k_secret));
    CHECK(listing(dir.path()) == before);

    // Under --json the error is the one document on stdout.
    const auto json = grant_in(dir.path(), {"--json", "config", "check"}, {{"GRANT_TEST_UNSET_URL", std::nullopt}});
    CHECK(json.exit_code == 2);
    const auto document = nlohmann::json::parse(json.out);
    CHECK(document["error"]["exit_code"] == 2);
    CHECK_FALSE(contains(json.out, k_secret));
  }
  CHECK_FALSE(fs::exists(dir / "nowhere"));
}

TEST_CASE("cli::config missing config") {
  TempDir dir;

  SUBCASE("no file anywhere: exit 2 with a hint to run grant init") {
    const auto run = grant_in(dir.path(), {"config", "check"});
    CHECK(run.exit_code == 2);
    CHECK(run.err.rfind("grant: error: no config file found", 0) == 0);
    CHECK(contains(run.err, "grant init"));
    CHECK(run.out.empty());
    CHECK(fs::is_empty(dir.path()));
  }

  SUBCASE("--config naming a missing file") {
    const auto run = grant_in(dir.path(), {"--config", "nope.json", "config", "check"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "config file 'nope.json' does not exist"));
    CHECK(contains(run.err, "--config"));
  }

  SUBCASE("$GRANT_CONFIG naming a missing file is not silently skipped") {
    dir.write("grant.json", R"({"databases": {"a": {"url": "sqlite3:a.db"}}})");
    const auto run = grant_in(dir.path(), {"config", "check"}, {{"GRANT_CONFIG", "missing.json"}});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "'missing.json' does not exist"));
    CHECK(contains(run.err, "GRANT_CONFIG"));
  }
}

} // namespace grant_test_config_cli_test
