// Bytes grant did not choose on their way out (docs/architecture.md, "Output"): with --json,
// stdout is one JSON document in valid UTF-8 whatever a name, key, path, message or SQLite value
// holds; in text mode no control byte and no invalid UTF-8 reaches the terminal. What the bad
// input corpus cannot say (a document parses, a SQLite value made of any bytes) is checked here.
#include "support/support.hpp"

#include <grant/util/text.hpp>

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_output_bytes_cli_test {

using grant::test::contains;
using grant::test::RunResult;
using grant::test::TempDir;
using Json = nlohmann::json;

namespace {

constexpr const char* k_replacement = "\xEF\xBF\xBD"; // U+FFFD

// Text a terminal shows as it is: valid UTF-8, no control character but line breaks and tabs.
bool terminal_safe(const std::string& text) {
  const bool controls = std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\n' && c != '\t') || u == 0x7F;
  });
  return !controls && grant::util::valid_utf8(text) == text && !contains(text, "\xC2\x9B");
}

// One JSON document in valid UTF-8 on stdout; stderr safe for a terminal.
Json one_document(const RunResult& run) {
  INFO("stdout: ", run.out, "\nstderr: ", run.err);
  CHECK(grant::util::valid_utf8(run.out) == run.out);
  CHECK(terminal_safe(run.err));
  Json document;
  CHECK_NOTHROW(document = Json::parse(run.out)); // one document: trailing text fails to parse
  return document;
}

// Two SQLite shards of `t`, keyed by a text column, holding keys made of any bytes; and `app`.
struct Project {
  TempDir dir;
  Project() {
    dir.write("grant.json", R"({"databases": {
      "app": {"url": "sqlite3:app.sqlite3"},
      "t": {"shards": [{"name": "s0", "url": "sqlite3:s0.sqlite3"}, {"name": "s1", "url": "sqlite3:s1.sqlite3"}],
            "sharding": {"key": "tenant", "tables": ["items"], "resolver": {"type": "hash"}}}}})");
    REQUIRE(grant({"query", "--database", "app", "CREATE TABLE t (id INTEGER, v TEXT)"}).exit_code == 0);
    REQUIRE(grant({"query", "--database", "app",
                   "INSERT INTO t VALUES (1, CAST(X'FF41' AS TEXT)), (2, CAST(X'1B5B324A0D' AS TEXT)), "
                   "(3, 'caf' || char(233) || char(10) || 'x'), (4, CAST(X'C29B' AS TEXT))"})
                .exit_code == 0);
    for (const std::string shard : {"s0", "s1"}) {
      REQUIRE(grant({"query", "--database", "t", "--shard", shard, "CREATE TABLE items (tenant TEXT, n INTEGER)"})
                  .exit_code == 0);
      // The same keys on both shards: one copy of each is misplaced.
      REQUIRE(grant({"query", "--database", "t", "--shard", shard,
                     "INSERT INTO items VALUES (CAST(X'FF1B5B324A' AS TEXT), 1), ('ok', 2)"})
                  .exit_code == 0);
    }
  }
  RunResult grant(const std::vector<std::string>& args,
                  const std::map<std::string, std::optional<std::string>>& env = {},
                  const std::string& stdin_text = {}) const {
    return grant::test::run_grant(args, dir.path(), env, stdin_text);
  }
};

} // namespace

TEST_CASE("cli: --json output is valid UTF-8 whatever grant is fed") {
  Project project;

  SUBCASE("query --json: a SQLite TEXT of any bytes, column names too") {
    const auto run =
        project.grant({"--json", "query", "--database", "app", "SELECT id, v AS \"v\xFF\" FROM t ORDER BY id"});
    REQUIRE(run.exit_code == 0);
    const auto rows = one_document(run);
    REQUIRE(rows.size() == 4);
    const std::string key = std::string("v") + k_replacement;
    CHECK(rows[0][key] == std::string(k_replacement) + "A");
    CHECK(rows[1][key] == "\x1B[2J\r"); // valid UTF-8: kept, escaped by JSON itself
    CHECK(rows[2][key] == "caf\xC3\xA9\nx");
    CHECK(rows[3][key] == "\xC2\x9B");
    CHECK(project.grant({"query", "--database", "app", "--format", "json", "SELECT v FROM t"}).out ==
          project.grant({"--json", "query", "--database", "app", "SELECT v FROM t"}).out);
  }
  SUBCASE("an error that quotes the statement") {
    const auto run = project.grant({"--json", "query", "--database", "app", "SELECT \xFF\xFE FROM t"});
    CHECK(run.exit_code == 3);
    const auto document = one_document(run);
    CHECK(contains(document["error"]["message"].get<std::string>(), k_replacement));
    CHECK(contains(run.err, "\\xff\\xfe"));
  }
  SUBCASE("shard-check --json: misplaced samples and heaviest keys made of any bytes") {
    const auto run = project.grant({"--json", "shard-check", "--database", "t"});
    CHECK(run.exit_code == 1); // misplaced rows
    const auto document = one_document(run);
    const auto& database = document["databases"][0];
    REQUIRE(database["misplaced"].size() >= 1);
    const auto samples = database["misplaced"][0]["samples"].dump();
    CHECK(contains(samples, k_replacement));
    CHECK(contains(database["distribution"][0]["heaviest_keys"].dump(), k_replacement));
  }
  SUBCASE("a config value from ${VAR} that is not UTF-8, shown by config check --json") {
    project.dir.write("var.json", R"({"databases": {"v": {"url": "sqlite3:${NAME}.sqlite3"}}})");
    const auto run = project.grant({"--json", "--config", (project.dir / "var.json").string(), "config", "check"},
                                   {{"NAME", "caf\xE9\x1B"}});
    CHECK(run.exit_code != 134);
    const auto document = one_document(run);
    if (run.exit_code == 0) {
      CHECK(contains(document.dump(), std::string("caf") + k_replacement + "\\u001b"));
    }
  }
  SUBCASE("names, paths and keys from the command line and stdin") {
    const std::vector<std::vector<std::string>> runs{
        {"--json", "status", "--database", "\xFF\x1B[2J"},
        {"--json", "migrate", "--shard", "\xC3("},
        {"--json", "--config", "\xFF/grant.json", "status"},
        {"--json", "shard-check", "--database", "t", "--table", "\xFF\x1B"},
        {"--json", "query", "--database", "t", "--shard", "\xE2\x82", "SELECT 1"},
        {"--json", "generate", "migration", "bad\xFF", "--database", "app"},
        {"--json", "shard-resolve", "--database", "t", "\xFF\x1B]0;title\x07"},
    };
    for (const auto& args : runs) {
      CAPTURE(args);
      const auto run = project.grant(args);
      CHECK(run.exit_code != 134);
      one_document(run);
    }
    const auto stdin_run =
        project.grant({"--json", "shard-resolve", "--database", "t", "--stdin"}, {}, "\xFF\t\xFE\nok\n\xC0\xAF\n");
    CHECK(stdin_run.exit_code == 2); // two parts for a one-column key
    one_document(stdin_run);
    const auto resolved =
        project.grant({"--json", "shard-resolve", "--database", "t", "--stdin"}, {}, "\xFF\nok\n\xC0\xAF\n");
    REQUIRE(resolved.exit_code == 0);
    const auto keys = one_document(resolved)["keys"];
    REQUIRE(keys.size() == 3);
    CHECK(keys[0]["key"] == k_replacement);
    CHECK(keys[2]["key"] == std::string(k_replacement) + k_replacement);
  }
}

TEST_CASE("cli: text output shows control bytes and invalid UTF-8 escaped") {
  Project project;

  SUBCASE("query's table escapes; csv passes the bytes as they are") {
    const auto table = project.grant({"query", "--database", "app", "SELECT id, v FROM t ORDER BY id"});
    REQUIRE(table.exit_code == 0);
    CHECK(terminal_safe(table.out));
    CHECK(table.out == " id |     v    \n"
                       "----+-----------\n"
                       "  1 | \\xffA\n"
                       "  2 | \\x1b[2J\\r\n"
                       "  3 | caf\xC3\xA9\\nx\n"
                       "  4 | \\u009b\n"
                       "(4 rows)\n");
    const auto csv =
        project.grant({"query", "--database", "app", "--format", "csv", "SELECT id, v FROM t ORDER BY id"});
    CHECK(csv.out == "id,v\n1,\xFF"
                     "A\n2,\"\x1B[2J\r\"\n3,\"caf\xC3\xA9\nx\"\n4,\xC2\x9B\n");
  }
  SUBCASE("shard-check's samples and heaviest keys") {
    const auto run = project.grant({"shard-check", "--database", "t"});
    CHECK(run.exit_code == 1);
    CHECK(terminal_safe(run.out));
    CHECK(contains(run.out, "'\\xff\\x1b[2J'"));
  }
  SUBCASE("a path from the config: JSON escapes make control characters easy to write") {
    // (Names may only hold letters, digits, _ and -; paths may hold anything.)
    project.dir.write("esc.json",
                      R"({"databases": {"e": {"url": "sqlite3:e.sqlite3", "migrations": "m\u001b[2J\u0007"}}})");
    const auto run = project.grant({"--config", (project.dir / "esc.json").string(), "config", "check"});
    CHECK(run.exit_code == 0);
    CHECK(terminal_safe(run.out));
    CHECK(contains(run.out, "m\\x1b[2J\\x07 (table schema_migrations)"));
  }
  SUBCASE("usage errors quoting what was typed") {
    for (const std::vector<std::string>& args : {std::vector<std::string>{"status", "--\x1B[2Jx"},
                                                 {"\x1B]0;title\x07"},
                                                 {"status", "--database", "\x9B\xFF"}}) {
      CAPTURE(args);
      const auto run = project.grant(args);
      CHECK(run.exit_code == 2);
      CHECK(terminal_safe(run.err));
      CHECK(contains(run.err, "grant: error: "));
    }
  }
}

} // namespace grant_test_output_bytes_cli_test
