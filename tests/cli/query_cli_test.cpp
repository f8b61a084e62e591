// `grant query` end to end through the binary: the three formats on SQLite and PostgreSQL, the
// shard that owns a key, every shard merged, a replica picked by the balancer, a read-only run
// refusing a write, and the exit codes (2 before anything is touched, 3 naming the shard).
#include "support/fleet.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_query_cli_test {

using grant::test::contains;
using grant::test::RunResult;
using grant::test::TempDir;
using Json = nlohmann::json;

namespace {

// A SQLite database "lite" and the writer + replica as "app".
struct Project {
  TempDir dir;
  Project() {
    Json config;
    config["databases"]["lite"] = {{"url", "sqlite:./lite.db"}};
    config["databases"]["app"] = {{"url", grant::test::writer_url()},
                                  {"replicas", Json::array({{{"name", "r1"}, {"url", grant::test::replica_url()}}})}};
    dir.write("grant.json", config.dump(2));
  }
  RunResult grant(const std::vector<std::string>& args, const std::string& stdin_text = {}) const {
    // Built by appending: GCC 12's -Wnull-dereference misfires (at -O2) on vector::insert at begin().
    std::vector<std::string> full{"query"};
    full.insert(full.end(), args.begin(), args.end());
    return grant::test::run_grant(full, dir.path(), {}, stdin_text);
  }
};

void no_secret(const RunResult& run) {
  const auto secret = grant::test::server_env("GRANT_TEST_PG_PASSWORD");
  CHECK_FALSE(contains(run.out, secret));
  CHECK_FALSE(contains(run.err, secret));
}

} // namespace

TEST_CASE("grant query formats") {
  Project project;
  REQUIRE(project.grant({"--database", "lite", "CREATE TABLE t (id INTEGER, name TEXT, score REAL)"}).exit_code == 0);
  const auto insert =
      project.grant({"--database", "lite",
                     "INSERT INTO t VALUES (1, 'plain', 2.5), (2, 'a,b \"q\"', NULL), (3, '', -1), (4, NULL, 0.125)"});
  REQUIRE(insert.exit_code == 0);
  CHECK(contains(insert.out, "4 rows affected"));

  SUBCASE("table: aligned, numbers to the right, a row count") {
    const auto run = project.grant({"--database", "lite", "SELECT id, name FROM t ORDER BY id"});
    REQUIRE(run.exit_code == 0);
    CHECK(run.out == " id |  name  \n"
                     "----+---------\n"
                     "  1 | plain\n"
                     "  2 | a,b \"q\"\n"
                     "  3 | \n"
                     "  4 | \n"
                     "(4 rows)\n");
  }
  SUBCASE("csv: RFC 4180 quoting, LF line ends like psql --csv, NULL empty and the empty string quoted") {
    const auto run =
        project.grant({"--database", "lite", "--format", "csv", "SELECT id, name, score FROM t ORDER BY id"});
    REQUIRE(run.exit_code == 0);
    CHECK(run.out == "id,name,score\n1,plain,2.5\n2,\"a,b \"\"q\"\"\",\n3,\"\",-1.0\n4,,0.125\n");
  }
  SUBCASE("csv --crlf: RFC 4180's CRLF line ends; a line break inside a value stays as it is, quoted") {
    const auto run = project.grant({"--database", "lite", "--format", "csv", "--crlf",
                                    "SELECT id, name, 'a' || char(10) || 'b' AS v FROM t WHERE id <= 2 ORDER BY id"});
    REQUIRE(run.exit_code == 0);
    CHECK(run.out == "id,name,v\r\n1,plain,\"a\nb\"\r\n2,\"a,b \"\"q\"\"\",\"a\nb\"\r\n");
    const auto table = project.grant({"--database", "lite", "--crlf", "SELECT 1"});
    CHECK(table.exit_code == 2);
    CHECK(table.err == "grant: error: --crlf applies to --format csv\n  at: grant query\n");
    CHECK(project.grant({"--database", "lite", "--json", "--format", "csv", "--crlf", "SELECT 1"}).exit_code == 2);
  }
  SUBCASE("json: typed numbers and nulls; --json means the same") {
    for (const auto& flag : {std::string("--format=json"), std::string("--json")}) {
      const auto run = project.grant({"--database", "lite", flag, "SELECT id, name, score FROM t ORDER BY id"});
      REQUIRE(run.exit_code == 0);
      const auto document = Json::parse(run.out);
      REQUIRE(document.size() == 4);
      CHECK(document[0] == Json{{"id", 1}, {"name", "plain"}, {"score", 2.5}});
      CHECK(document[1]["score"].is_null());
      CHECK(document[3]["name"].is_null());
      CHECK(document[1]["name"] == "a,b \"q\"");
    }
  }
  SUBCASE("PostgreSQL types: booleans, numerics, json inline, NaN as a string") {
    const auto run = project.grant({"--database", "app", "--format", "json",
                                    "SELECT true AS ok, 12.50::numeric AS price, '{\"a\": [1]}'::jsonb AS doc, "
                                    "'NaN'::float8 AS nan, NULL::int AS none, 'tab\there' AS s"});
    REQUIRE(run.exit_code == 0);
    const auto row = Json::parse(run.out).at(0);
    CHECK(row["ok"] == true);
    CHECK(row["price"] == 12.5);
    CHECK(row["doc"] == Json{{"a", {1}}});
    CHECK(row["nan"] == "NaN");
    CHECK(row["none"].is_null());
    CHECK(row["s"] == "tab\there");
    no_secret(run);
  }
  SUBCASE("the statement can come from standard input") {
    const auto run = project.grant({"--database", "lite", "--format", "csv", "-"}, "SELECT count(*) AS n FROM t");
    CHECK(run.exit_code == 0);
    CHECK(run.out == "n\n4\n");
  }
}

TEST_CASE("grant query targets") {
  Project project;

  SUBCASE("--role reading goes to the replica; writing to the writer") {
    const auto reading =
        project.grant({"--database", "app", "--role", "reading", "--format", "csv", "SELECT pg_is_in_recovery() AS r"});
    CHECK(reading.exit_code == 0);
    CHECK(reading.out == "r\nt\n");
    const auto writing = project.grant({"--database", "app", "--format", "csv", "SELECT pg_is_in_recovery() AS r"});
    CHECK(writing.out == "r\nf\n");
    no_secret(reading);
  }
  SUBCASE("--read-only and --role reading refuse writes: before the server (exit 2), or by it (exit 3)") {
    const auto url = grant::test::fresh_database(grant::test::writer_url(), "qro");
    Json config;
    config["databases"]["scratch"] = {{"url", url}}; // no replicas: reading falls back to the writer
    project.dir.write("grant.json", config.dump());
    REQUIRE(project.grant({"--database", "scratch", "CREATE TABLE t (id int)"}).exit_code == 0);
    REQUIRE(
        project
            .grant({"--database", "scratch",
                    "CREATE FUNCTION add_one() RETURNS int LANGUAGE sql AS $$ INSERT INTO t VALUES (1) RETURNING 1 $$"})
            .exit_code == 0);
    for (const auto& flag : {std::string("--read-only"), std::string("--role=reading")}) {
      CAPTURE(flag);
      for (const auto& sql : {"INSERT INTO t VALUES (1)", "SELECT id FROM t FOR UPDATE", "DROP TABLE t"}) {
        const auto refused = project.grant({"--database", "scratch", flag, sql});
        CHECK(refused.exit_code == 2);
        CHECK(contains(refused.err, "before it reached the server"));
      }
      const auto hidden = project.grant({"--database", "scratch", flag, "SELECT add_one()"}); // the text reads
      CHECK(hidden.exit_code == 3);
      CHECK(contains(hidden.err, "read-only transaction"));
      no_secret(hidden);
    }
    CHECK(project.grant({"--database", "scratch", "--format", "csv", "SELECT count(*) AS n FROM t"}).out == "n\n0\n");
  }
  SUBCASE("usage errors exit 2 before touching anything") {
    CHECK(project.grant({"--database", "nope", "SELECT 1"}).exit_code == 2);
    CHECK(project.grant({"--database", "lite", "SELECT 1; SELECT 2"}).exit_code == 2);
    CHECK(project.grant({"--database", "lite", "--shard", "s1", "SELECT 1"}).exit_code == 2);
    CHECK(project.grant({"--database", "lite", "--format", "xml", "SELECT 1"}).exit_code == 2);
    CHECK(project.grant({"--database", "lite", "--max-lag", "10", "SELECT 1"}).exit_code == 2);
  }
}

TEST_CASE("grant query on a sharded database") {
  grant::test::ShardFleet fleet(4, "qcli", true);
  for (int i = 0; i < 4; ++i) {
    fleet.execute(i, "CREATE TABLE orders (user_id int PRIMARY KEY, total int)");
    fleet.execute(i, "INSERT INTO orders SELECT g, g * 10 FROM generate_series(1, 40) g WHERE g % 4 = " +
                         std::to_string(i));
  }
  const auto query = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"query", "--database", "orders"});
    return fleet.grant(args);
  };

  SUBCASE("a sharded database needs a target") {
    const auto run = query({"SELECT 1"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "--all-shards"));
    CHECK(query({"--shard", "s9", "SELECT 1"}).exit_code == 2);
  }
  SUBCASE("--key runs on the shard that owns the key") {
    const auto run = query({"--key", "7", "--format", "csv", "SELECT user_id, total FROM orders WHERE user_id = 7"});
    CHECK(run.exit_code == 0);
    CHECK(run.out == "user_id,total\n7,70\n");
    const auto resolved = fleet.grant({"shard-resolve", "--database", "orders", "7"});
    CHECK(contains(resolved.out, "s3"));
    CHECK(query({"--shard", "s3", "--format", "csv", "SELECT count(*) AS n FROM orders WHERE user_id = 7"}).out ==
          "n\n1\n");
  }
  SUBCASE("--all-shards: a shard column first, ORDER BY and LIMIT over the merged rows") {
    const auto run =
        query({"--all-shards", "--format", "csv", "SELECT user_id, total FROM orders ORDER BY total DESC LIMIT 3"});
    CHECK(run.exit_code == 0);
    CHECK(run.out == "shard,user_id,total\ns0,40,400\ns3,39,390\ns2,38,380\n");
    const auto json = query({"--all-shards", "--format", "json", "SELECT count(*) AS n FROM orders"});
    const auto document = Json::parse(json.out);
    REQUIRE(document.size() == 4);
    int total = 0;
    for (const auto& row : document) {
      CHECK(row.contains("shard"));
      total += row["n"].get<int>();
    }
    CHECK(total == 40);
  }
  SUBCASE("a failing shard: exit 3 naming it; --partial prints the others") {
    fleet.execute(1, "DROP TABLE orders");
    const auto run = query({"--all-shards", "--format", "csv", "SELECT user_id FROM orders"});
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "shard s1"));
    CHECK(contains(run.err, "orders/s1"));
    const auto partial =
        query({"--all-shards", "--partial", "--format", "csv", "SELECT user_id FROM orders ORDER BY user_id"});
    CHECK(partial.exit_code == 3);
    CHECK(contains(partial.err, "shard s1"));
    CHECK(std::count(partial.out.begin(), partial.out.end(), '\n') == 31); // header + 30 rows
  }
}

} // namespace grant_test_query_cli_test
