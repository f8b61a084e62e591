// The commands users reach for when things go wrong, end to end through the binary on SQLite
// files: repair, rollback --all, redo, baseline, and a refusal on one target among several.
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_recovery_commands_cli_test {

using grant::test::contains;
using grant::test::RunResult;
using grant::test::TempDir;

namespace {

// Two SQLite databases, "a" and "b".
class Fleet {
public:
  Fleet() {
    nlohmann::json config;
    config["databases"]["a"] = {{"url", "sqlite3:db/a.sqlite3"}, {"migrations", "db/migrate/a"}};
    config["databases"]["b"] = {{"url", "sqlite3:db/b.sqlite3"}, {"migrations", "db/migrate/b"}};
    dir.write("grant.json", config.dump(2));
  }
  TempDir dir;
  void table(const std::string& database, const std::string& file, const std::string& table) const {
    dir.write("db/migrate/" + database + "/" + file,
              "-- grant:up\nCREATE TABLE " + table + " (id int);\n-- grant:down\nDROP TABLE " + table + ";\n");
  }
  RunResult grant(const std::vector<std::string>& args) const { return grant::test::run_grant(args, dir.path()); }
};

} // namespace

TEST_CASE("cli::recovery_commands") {
  Fleet fleet;
  fleet.table("a", "1_t1.sql", "t1");
  fleet.table("a", "3_t3.sql", "t3");
  fleet.table("b", "1_u1.sql", "u1");

  SUBCASE("an out-of-order refusal on one target does not claim nothing was touched elsewhere") {
    REQUIRE(fleet.grant({"migrate"}).exit_code == 0);
    fleet.table("a", "2_t2.sql", "t2");
    fleet.table("b", "2_u2.sql", "u2");
    const auto run = fleet.grant({"migrate"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 2);
    CHECK(contains(run.out, "a  REFUSED  nothing changed on this target"));
    CHECK(contains(run.out, "b  ok  1 applied, at 2"));
    CHECK(contains(run.err, "out of order"));
    CHECK(contains(run.err, "refused on a (nothing changed there), but b did change in this run"));
  }

  SUBCASE("repair --help shows examples and exit codes; --json is one document") {
    auto run = fleet.grant({"repair", "--help"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "--forget-missing"));
    CHECK(contains(run.out, "grant repair --dry-run"));
    CHECK(contains(run.out, "Exit codes"));
    REQUIRE(fleet.grant({"migrate"}).exit_code == 0);
    fleet.dir.write("db/migrate/a/1_t1.sql", "-- grant:up\nCREATE TABLE t1 (id bigint);\n");
    run = fleet.grant({"repair", "--database", "a", "--json"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    const auto document = nlohmann::json::parse(run.out);
    CHECK(document["command"] == "repair");
    REQUIRE(document["targets"].size() == 1);
    CHECK(document["targets"][0]["steps"][0]["action"] == "checksum_updated");
    CHECK(document["targets"][0]["steps"][0]["version"] == "1");
    CHECK(fleet.grant({"validate"}).exit_code == 0);
  }

  SUBCASE("repair on a database never migrated changes nothing and creates no file") {
    const auto run = fleet.grant({"repair"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "nothing to repair"));
    CHECK_FALSE(std::filesystem::exists(fleet.dir / "db/a.sqlite3"));
  }

  SUBCASE("rollback --all, and its conflicts with --steps / --to") {
    REQUIRE(fleet.grant({"migrate"}).exit_code == 0);
    auto run = fleet.grant({"rollback", "--all", "--database", "a"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "2 reverted, no version applied"));
    CHECK(fleet.grant({"rollback", "--all", "--to", "1"}).exit_code == 2);
    CHECK(contains(fleet.grant({"rollback", "--help"}).out, "--all"));
  }

  SUBCASE("baseline --version must name a file of every selected database") {
    auto run = fleet.grant({"baseline", "--version", "3"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "no migration file of database b has that version"));
    CHECK(contains(run.err, "--database"));
    CHECK_FALSE(std::filesystem::exists(fleet.dir / "db/a.sqlite3"));
    run = fleet.grant({"baseline", "--version", "3", "--database", "a", "--dry-run"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "BEGIN;"));
    CHECK(contains(run.out, "COMMIT;"));
    CHECK_FALSE(std::filesystem::exists(fleet.dir / "db/a.sqlite3"));
    run = fleet.grant({"baseline", "--version", "3", "--database", "a"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "2 marked applied, at 3"));
  }

  SUBCASE("the missing-down hint fits the file's format") {
    fleet.dir.write("db/migrate/b/2_u2.up.sql", "CREATE TABLE u2 (id int);\n");
    fleet.dir.write("db/migrate/b/3_u3.sql", "-- migrate:up\nCREATE TABLE u3 (id int);\n");
    REQUIRE(fleet.grant({"migrate"}).exit_code == 0);
    auto run = fleet.grant({"rollback", "--database", "b"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "hint: add a `-- migrate:down` section to 3_u3.sql"));
    fleet.dir.write("db/migrate/b/3_u3.sql",
                    "-- migrate:up\nCREATE TABLE u3 (id int);\n-- migrate:down\nDROP TABLE u3;\n");
    REQUIRE(fleet.grant({"rollback", "--database", "b"}).exit_code == 0);
    run = fleet.grant({"rollback", "--database", "b"});
    INFO(run.err);
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "hint: create 2_u2.down.sql next to 2_u2.up.sql"));
  }

  SUBCASE("a redo whose re-apply fails says the migration stays reverted") {
    fleet.dir.write("db/migrate/a/4_once.sql", "-- grant:up\nCREATE TABLE once (id int);\nINSERT INTO t1 VALUES (1);\n"
                                               "-- grant:down\nDROP TABLE once;\n");
    fleet.dir.write("db/migrate/a/1_t1.sql",
                    "-- grant:up\nCREATE TABLE t1 (id int UNIQUE);\n-- grant:down\nDROP TABLE t1;\n");
    REQUIRE(fleet.grant({"migrate", "--database", "a"}).exit_code == 0);
    const auto run = fleet.grant({"redo", "--database", "a"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.out, "reverted 4_once"));
    CHECK(contains(run.out, "a  FAILED  4_once reverted, not applied again"));
    CHECK(contains(run.err, "UNIQUE"));
    CHECK(contains(fleet.grant({"status", "--database", "a"}).out, "pending  4_once"));
  }

  SUBCASE("redo --dry-run prints the down and then the up, as SQL") {
    REQUIRE(fleet.grant({"migrate"}).exit_code == 0);
    const auto run = fleet.grant({"redo", "--database", "a", "--dry-run"});
    INFO(run.out);
    CHECK(run.exit_code == 0);
    CHECK(run.out.find("DROP TABLE t3;") < run.out.find("CREATE TABLE t3 (id int);"));
    CHECK(contains(run.out, "--  a  ok  1 would be redone, at 3"));
  }
}

} // namespace grant_test_recovery_commands_cli_test
