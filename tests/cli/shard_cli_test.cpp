// `grant shard-resolve` end to end through the binary, and the config errors that stop both
// shard-resolve and shard-check before they touch anything. No server: the shard URLs point at
// a closed port, which proves that resolving a key never connects.
#include "support/support.hpp"

#include <grant/config/load.hpp>
#include <grant/shard/resolver.hpp>

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <set>
#include <sstream>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_shard_cli_test {

using grant::test::contains;
using grant::test::RunResult;
using grant::test::TempDir;
using Json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string k_secret = "Sh4rd-Secret";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    out.push_back(line);
  }
  return out;
}

// Four shards s0..s3 on a closed port, with `extra[i]` merged into shard i.
Json shards(const std::string& database, const std::vector<Json>& extra = {}) {
  static const int closed_port = grant::test::closed_port();
  Json out = Json::array();
  for (std::size_t i = 0; i < 4; ++i) {
    Json shard{{"name", "s" + std::to_string(i)},
               {"url", "postgres://grant:" + k_secret + "@127.0.0.1:" + std::to_string(closed_port) + "/" + database +
                           "?connect_timeout=2"}};
    if (i < extra.size()) {
      shard.update(extra[i]);
    }
    out.push_back(shard);
  }
  return out;
}

Json sharded(const std::string& name, Json key, Json resolver, const std::vector<Json>& extra = {}) {
  return {{"shards", shards(name, extra)}, {"sharding", {{"key", std::move(key)}, {"resolver", std::move(resolver)}}}};
}

// Every path under `dir`, to prove a refused command wrote nothing.
std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    out.insert(entry.path().string());
  }
  return out;
}

// A project with one database per resolver type and an unsharded one.
class Project {
public:
  Project() {
    Json databases;
    databases["plain"] = {{"url", "sqlite3:plain.sqlite3"}};
    databases["orders"] = sharded("orders", "user_id", {{"type", "modulo"}});
    databases["tenants"] = sharded("tenants", Json{"tenant_id", "user_id"}, {{"type", "hash"}});
    databases["keyed"] =
        sharded("keyed", "user_id", {{"type", "hash"}},
                {{{"key_range", "-40"}}, {{"key_range", "40-80"}}, {{"key_range", "80-c0"}}, {{"key_range", "c0-"}}});
    databases["ranged"] = sharded("ranged", "user_id",
                                  {{"type", "range"},
                                   {"ranges",
                                    {{{"shard", "s0"}, {"from", nullptr}, {"to", 100}},
                                     {{"shard", "s1"}, {"from", 100}, {"to", 200}},
                                     {{"shard", "s2"}, {"from", 200}, {"to", 300}},
                                     {{"shard", "s3"}, {"from", 300}, {"to", nullptr}}}}});
    databases["ring"] = sharded("ring", "user_id", {{"type", "consistent_hash"}, {"virtual_nodes", 160}},
                                {{{"weight", 1}}, {{"weight", 2}}, {{"weight", 1}}, {{"weight", 3}}});
    databases["directory"] = sharded("directory", "tenant_id",
                                     {{"type", "lookup"}, {"map", {{"acme", "s0"}, {"globex", "s2"}, {"42", "s1"}}}});
    m_text = Json{{"databases", databases}}.dump(2);
    dir.write("grant.json", m_text);
    m_config = grant::config::parse(m_text, dir / "grant.json", [](const std::string&) { return std::nullopt; });
  }

  TempDir dir;

  RunResult grant(const std::vector<std::string>& args, const std::string& stdin_text = {}) const {
    auto run = grant::test::run_grant(args, dir.path(), {{"GRANT_CONFIG", std::nullopt}}, stdin_text);
    CHECK_FALSE(contains(run.out + run.err, k_secret));
    return run;
  }

  // The library's answer, to hold the binary to.
  std::unique_ptr<grant::shard::Resolver> resolver(const std::string& database) const {
    return grant::shard::make_resolver(*m_config.find(database));
  }

private:
  std::string m_text;
  grant::config::Config m_config;
};

// The command is refused as bad input: exit 2, `grant: error:` naming `part`, nothing on stdout.
void refused(const RunResult& run, const std::string& part) {
  INFO(run.out, run.err);
  CHECK(run.exit_code == 2);
  CHECK(contains(run.err, "grant: error: "));
  CHECK(contains(run.err, part));
  CHECK(run.out.empty());
}

} // namespace

TEST_CASE("cli::shard-resolve") {
  Project project;

  SUBCASE("keys as arguments print key<TAB>shard") {
    const auto run = project.grant({"shard-resolve", "--database", "orders", "1", "2", "-7", "400"});
    INFO(run.err);
    CHECK(run.exit_code == 0);
    CHECK(run.out == "1\ts1\n2\ts2\n-7\ts1\n400\ts0\n");
    CHECK(run.err.empty());

    const auto ranged = project.grant({"shard-resolve", "--database", "ranged", "-5", "99", "100", "299", "300"});
    CHECK(ranged.exit_code == 0);
    CHECK(ranged.out == "-5\ts0\n99\ts0\n100\ts1\n299\ts2\n300\ts3\n");

    const auto looked_up = project.grant({"shard-resolve", "--database", "directory", "acme", "globex", "42"});
    CHECK(looked_up.exit_code == 0);
    CHECK(looked_up.out == "acme\ts0\nglobex\ts2\n42\ts1\n");
  }
  SUBCASE("every resolver agrees with the library") {
    for (const auto* database : {"orders", "keyed", "ranged", "ring"}) {
      CAPTURE(database);
      const auto resolver = project.resolver(database);
      std::vector<std::string> args{"shard-resolve", "--database", database};
      std::string expected;
      for (int i = -50; i < 450; i += 7) {
        args.push_back(std::to_string(i));
        expected += std::to_string(i) + "\t" + resolver->resolve_name(grant::shard::Key::from_integer(i)) + "\n";
      }
      const auto run = project.grant(args);
      CHECK(run.exit_code == 0);
      CHECK(run.out == expected);
    }
  }
  SUBCASE("--stdin streams 200k keys, each as the library resolves it") {
    const auto resolver = project.resolver("ring");
    std::string input;
    std::string expected;
    for (int i = 0; i < 200000; ++i) {
      const auto key = i % 3 == 0 ? std::to_string(i) : "user-" + std::to_string(i);
      input += key + "\n";
      expected += key + "\t" + resolver->resolve_name(grant::shard::Key::from_text({key})) + "\n";
    }
    const auto run = project.grant({"shard-resolve", "--database", "ring", "--stdin"}, input);
    INFO(run.err);
    CHECK(run.exit_code == 0);
    CHECK(lines_of(run.out).size() == 200000);
    CHECK(run.out == expected);
    // Weights 1:2:1:3 show in the spread.
    std::map<std::string, int> per_shard;
    for (const auto& line : lines_of(run.out)) {
      ++per_shard[line.substr(line.rfind('\t') + 1)];
    }
    CHECK(per_shard["s3"] > per_shard["s1"]);
    CHECK(per_shard["s1"] > per_shard["s0"]);
    CHECK(per_shard["s1"] > per_shard["s2"]);
  }
  SUBCASE("--stdin takes CRLF line ends") {
    const auto run = project.grant({"shard-resolve", "--database", "orders", "--stdin"}, "5\r\n6\r\n");
    CHECK(run.exit_code == 0);
    CHECK(run.out == "5\ts1\n6\ts2\n");
  }
  SUBCASE("composite keys: comma-separated as arguments, TAB-separated on stdin") {
    const auto resolver = project.resolver("tenants");
    const auto shard_of = [&](std::string_view tenant, std::string_view user) {
      return resolver->resolve_name(grant::shard::Key::from_text({tenant, user}));
    };
    const auto args = project.grant({"shard-resolve", "--database", "tenants", "acme,42", "globex,7"});
    INFO(args.err);
    CHECK(args.exit_code == 0);
    CHECK(args.out == "acme,42\t" + shard_of("acme", "42") + "\nglobex,7\t" + shard_of("globex", "7") + "\n");

    std::string input;
    std::string expected;
    for (int t = 0; t < 50; ++t) {
      for (int u = 0; u < 400; ++u) {
        const auto tenant = "tenant-" + std::to_string(t);
        input += tenant + "\t" + std::to_string(u) + "\n";
        expected += tenant + "\t" + std::to_string(u) + "\t" + shard_of(tenant, std::to_string(u)) + "\n";
      }
    }
    const auto piped = project.grant({"shard-resolve", "--database", "tenants", "--stdin"}, input);
    CHECK(piped.exit_code == 0);
    CHECK(piped.out == expected);
    // The same key both ways lands on the same shard.
    const auto one = project.grant({"shard-resolve", "--database", "tenants", "--stdin"}, "acme\t42\n");
    CHECK(one.out == "acme\t42\t" + shard_of("acme", "42") + "\n");
  }
  SUBCASE("the typing rule: 42 is an integer, 042 and +42 are strings") {
    const auto resolver = project.resolver("keyed");
    const auto run = project.grant({"shard-resolve", "--database", "keyed", "42", "042", "+42"});
    CHECK(run.exit_code == 0);
    CHECK(run.out == "42\t" + resolver->resolve_name(grant::shard::Key::from_integer(42)) + "\n042\t" +
                         resolver->resolve_name(grant::shard::Key::from_string("042")) + "\n+42\t" +
                         resolver->resolve_name(grant::shard::Key::from_string("+42")) + "\n");
  }
  SUBCASE("--json is one JSON document") {
    const auto resolver = project.resolver("tenants");
    const auto run = project.grant({"--json", "shard-resolve", "--database", "tenants", "acme,42", "globex,7"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    const auto document = Json::parse(run.out);
    CHECK(document["database"] == "tenants");
    CHECK(document["resolver"] == "hash");
    REQUIRE(document["keys"].size() == 2);
    CHECK(document["keys"][0]["key"] == "acme,42");
    const auto key = grant::shard::Key::from_text({"acme", "42"});
    CHECK(document["keys"][0]["shard"] == resolver->resolve_name(key));
    CHECK(document["keys"][0]["keyspace_id"] == grant::shard::keyspace_id_hex(key.keyspace_id()));

    const auto piped = project.grant({"--json", "shard-resolve", "--database", "orders", "--stdin"}, "1\n2\n3\n");
    CHECK(Json::parse(piped.out)["keys"].size() == 3);
    // Keys are bytes: one that is not UTF-8 still gives valid JSON.
    const auto latin1 = project.grant({"--json", "shard-resolve", "--database", "keyed", "--stdin"}, "caf\xe9\n");
    INFO(latin1.err);
    CHECK(latin1.exit_code == 0);
    CHECK(Json::parse(latin1.out)["keys"][0]["key"] == "caf\xef\xbf\xbd");
    CHECK(Json::parse(latin1.out)["keys"][0]["shard"] ==
          project.resolver("keyed")->resolve_name(grant::shard::Key::from_string("caf\xe9")));
    const auto empty = project.grant({"--json", "shard-resolve", "--database", "orders", "--stdin"}, "");
    CHECK(empty.exit_code == 0);
    CHECK(Json::parse(empty.out)["keys"].empty());
  }
  SUBCASE("a lookup miss without default: exit 1, the error names the key, the others resolve") {
    const auto run = project.grant({"shard-resolve", "--database", "directory", "acme", "initech", "globex"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 1);
    CHECK(contains(run.err, "grant: error: "));
    CHECK(contains(run.err, "'initech'"));
    CHECK(contains(run.err, "hint: "));
    CHECK(run.out == "acme\ts0\ninitech\t\nglobex\ts2\n");

    const auto json = project.grant({"--json", "shard-resolve", "--database", "directory", "initech"});
    CHECK(json.exit_code == 1);
    const auto document = Json::parse(json.out);
    CHECK(document["keys"][0]["shard"].is_null());
    CHECK(contains(document["keys"][0]["error"].get<std::string>(), "initech"));
  }
  SUBCASE("bad keys are usage errors") {
    refused(project.grant({"shard-resolve", "--database", "orders", "abc"}), "'abc' is not an integer");
    refused(project.grant({"shard-resolve", "--database", "ranged", "1.5"}), "'1.5' is not an integer");
    refused(project.grant({"shard-resolve", "--database", "orders", "99999999999999999999"}), "not an integer");
    refused(project.grant({"shard-resolve", "--database", "orders", ""}), "empty shard key");
    refused(project.grant({"shard-resolve", "--database", "tenants", "acme,"}), "empty shard key part 2");
    refused(project.grant({"shard-resolve", "--database", "orders", "1,2"}), "2 parts");
    refused(project.grant({"shard-resolve", "--database", "tenants", "acme"}), "1 part");
    refused(project.grant({"shard-resolve", "--database", "tenants", "acme,1,2"}), "3 parts");
    refused(project.grant({"shard-resolve", "--database", "orders", "--stdin"}, "1\n2\nx\n"), "stdin:3");
    refused(project.grant({"shard-resolve", "--database", "orders", "--stdin"}, "1\n\n3\n"), "stdin:2");
    refused(project.grant({"shard-resolve", "--database", "tenants", "--stdin"}, "acme,42\n"), "1 part");
  }
  SUBCASE("the wrong database or no keys are usage errors") {
    refused(project.grant({"shard-resolve", "--database", "nope", "1"}), "unknown database 'nope'");
    refused(project.grant({"shard-resolve", "--database", "plain", "1"}), "'plain' is not sharded");
    refused(project.grant({"shard-resolve", "--database", "orders"}), "no keys given");
    refused(project.grant({"shard-resolve", "--database", "orders", "--stdin", "1"}), "not both");
    refused(project.grant({"shard-resolve", "1"}), "--database");
  }
  SUBCASE("shard-check refuses an unsharded database and an unknown --table before connecting") {
    refused(project.grant({"shard-check", "--database", "plain"}), "'plain' is not sharded");
    refused(project.grant({"shard-check", "--database", "orders", "--table", "users"}), "users");
    refused(project.grant({"shard-check", "--table", "users"}), "--table");
  }
}

TEST_CASE("cli::shard-check on a sharded database without a sharding block") {
  // Valid config (migrations run on every shard), but no key can be resolved.
  TempDir dir;
  dir.write("grant.json", Json{{"databases", {{"orders", {{"shards", shards("orders")}}}}}}.dump(2));
  const auto run = grant::test::run_grant({"--json", "shard-check"}, dir.path(), {{"GRANT_CONFIG", std::nullopt}});
  INFO(run.out, run.err);
  CHECK(run.exit_code == 1);
  const auto report = Json::parse(run.out)["databases"][0];
  REQUIRE(report["lint"].size() == 1);
  CHECK(report["lint"][0]["key_path"] == "databases.orders.sharding");
  CHECK(report["shards"].size() == 4);
  CHECK(report["misplaced"].empty());
  const auto text = grant::test::run_grant({"shard-check"}, dir.path(), {{"GRANT_CONFIG", std::nullopt}});
  CHECK(text.exit_code == 1);
  CHECK(contains(text.out, "no sharding block"));
  CHECK(contains(text.out, "placement: skipped"));
  refused(grant::test::run_grant({"shard-resolve", "--database", "orders", "1"}, dir.path(),
                                 {{"GRANT_CONFIG", std::nullopt}}),
          "databases.orders.sharding");
}

TEST_CASE("cli::shard config errors") {
  // Each bad resolver config is refused by shard-resolve and shard-check alike, naming the key path.
  struct Case {
    const char* name;
    Json database;
    std::string key_path;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"a gap between ranges",
       sharded(
           "bad", "user_id",
           {{"type", "range"},
            {"ranges",
             {{{"shard", "s0"}, {"from", nullptr}, {"to", 100}}, {{"shard", "s1"}, {"from", 200}, {"to", nullptr}}}}}),
       "databases.bad.sharding.resolver.ranges[1].from", "100 to 200"},
      {"overlapping ranges",
       sharded(
           "bad", "user_id",
           {{"type", "range"},
            {"ranges",
             {{{"shard", "s0"}, {"from", nullptr}, {"to", 150}}, {{"shard", "s1"}, {"from", 100}, {"to", nullptr}}}}}),
       "databases.bad.sharding.resolver.ranges[1].from", "overlaps"},
      {"overlapping key ranges",
       sharded("bad", "user_id", {{"type", "hash"}},
               {{{"key_range", "-80"}}, {{"key_range", "40-c0"}}, {{"key_range", "c0-e0"}}, {{"key_range", "e0-"}}}),
       "databases.bad.shards[1].key_range", "overlaps"},
      {"key ranges that leave a gap",
       sharded("bad", "user_id", {{"type", "hash"}},
               {{{"key_range", "-40"}}, {{"key_range", "40-80"}}, {{"key_range", "90-c0"}}, {{"key_range", "c0-"}}}),
       "databases.bad.shards[2].key_range", "no shard"},
      {"an unknown shard in a lookup map", sharded("bad", "tenant_id", {{"type", "lookup"}, {"map", {{"acme", "s9"}}}}),
       "databases.bad.sharding.resolver.map.acme", "unknown shard 's9'"},
      {"virtual_nodes out of bounds", sharded("bad", "user_id", {{"type", "consistent_hash"}, {"virtual_nodes", 0}}),
       "databases.bad.sharding.resolver.virtual_nodes", "between 1 and"},
      {"virtual_nodes too many", sharded("bad", "user_id", {{"type", "consistent_hash"}, {"virtual_nodes", 1000000}}),
       "databases.bad.sharding.resolver.virtual_nodes", "between 1 and"},
      {"an unknown resolver parameter", sharded("bad", "user_id", {{"type", "consistent_hash"}, {"virtual_node", 100}}),
       "databases.bad.sharding.resolver.virtual_node", "did you mean 'virtual_nodes'"},
      {"a weight of 0", sharded("bad", "user_id", {{"type", "consistent_hash"}}, {{{"weight", 0}}}),
       "databases.bad.shards[0].weight", "weight"},
      {"modulo on a composite key", sharded("bad", Json{"a", "b"}, {{"type", "modulo"}}), "databases.bad.sharding.key",
       "one integer key column"},
      {"an unknown resolver type", sharded("bad", "user_id", {{"type", "consistant_hash"}}),
       "databases.bad.sharding.resolver.type", "did you mean 'consistent_hash'"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    TempDir dir;
    Json config;
    config["databases"]["bad"] = c.database;
    config["databases"]["good"] = sharded("good", "user_id", {{"type", "modulo"}});
    dir.write("grant.json", config.dump(2));
    const auto before = listing(dir.path());
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"shard-resolve", "--database", "bad", "1"},
             {"shard-resolve", "--database", "good", "1"}, // one bad database spoils the config
             {"shard-check"},
             {"shard-check", "--database", "good"}}) {
      CAPTURE(args[0]);
      const auto run = grant::test::run_grant(args, dir.path(), {{"GRANT_CONFIG", std::nullopt}});
      refused(run, c.key_path);
      CHECK(contains(run.err, c.message));
      CHECK_FALSE(contains(run.err, k_secret));
    }
    const auto json = grant::test::run_grant({"--json", "shard-check"}, dir.path(), {{"GRANT_CONFIG", std::nullopt}});
    CHECK(json.exit_code == 2);
    const auto document = Json::parse(json.out);
    CHECK(contains(document["error"]["where"].get<std::string>(), c.key_path));
    CHECK(listing(dir.path()) == before);
  }
}

} // namespace grant_test_shard_cli_test
