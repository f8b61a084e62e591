// The grant-migrate GitHub Action's scripts (.github/actions/grant-migrate), run the way the
// composite action runs them: its inputs as GRANT_ACTION_* variables, GITHUB_OUTPUT a file, the
// built grant on PATH (so install.sh keeps it instead of building another).
#include "support/support.hpp"

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_action_cli_test {

using grant::test::contains;
using grant::test::read_file;
using grant::test::run_shell;
using grant::test::TempDir;

namespace {

const std::string k_action = std::string(GRANT_SOURCE_DIR) + "/.github/actions/grant-migrate";

// A SQLite project with one migration for "app" and one for "other".
struct Project {
  TempDir dir;
  Project() {
    dir.write("db/grant.json", R"({"databases": {
      "app": {"url": "sqlite:./app.db", "migrations": "migrate/app"},
      "other": {"url": "sqlite:./other.db", "migrations": "migrate/other"}}})");
    dir.write("db/migrate/app/20260101000000_users.sql",
              "-- migrate:up\nCREATE TABLE users (id INTEGER PRIMARY KEY);\n-- migrate:down\nDROP TABLE users;\n");
    dir.write("db/migrate/other/20260101000000_items.sql",
              "-- migrate:up\nCREATE TABLE items (id INTEGER PRIMARY KEY);\n-- migrate:down\nDROP TABLE items;\n");
  }
  grant::test::ShellResult action(const std::string& inputs) const {
    const auto install = run_shell("GRANT_ACTION_INSTALL=auto " + k_action + "/install.sh", dir.path());
    REQUIRE(install.exit_code == 0);
    REQUIRE(contains(install.out, "grant-migrate: using"));
    return run_shell("env GITHUB_OUTPUT=" + (dir / "output").string() + " " + inputs + " " + k_action + "/run.sh",
                     dir.path());
  }
};

} // namespace

TEST_CASE("grant-migrate action") {
  Project project;

  SUBCASE("migrates the selected database, gates on status, and sets status-json") {
    const auto run = project.action("GRANT_ACTION_DATABASE=app GRANT_ACTION_WAIT=5");
    CHECK(run.exit_code == 0);
    const auto output = read_file(project.dir / "output");
    CHECK(output.rfind("status-json<<grant_status_", 0) == 0);
    CHECK(contains(output, "\"app\""));
    CHECK_FALSE(contains(output, "\"other\""));
    const auto other = grant::test::run_grant({"status", "--database", "other", "--exit-code"}, project.dir.path());
    CHECK(other.exit_code == 1); // untouched: still pending
  }
  SUBCASE("comma-separated databases, and the exit code of a config error") {
    CHECK(project.action("GRANT_ACTION_DATABASE=app,other").exit_code == 0);
    CHECK(grant::test::run_grant({"status", "--exit-code"}, project.dir.path()).exit_code == 0);
    const auto bad = project.action("GRANT_ACTION_DATABASE=nope");
    CHECK(bad.exit_code == 2);
    CHECK(contains(bad.out, "nope"));
  }
  SUBCASE("the rollout inputs become migrate's flags") {
    const auto canary = project.action("GRANT_ACTION_DATABASE=app GRANT_ACTION_CANARY=s0");
    CHECK(canary.exit_code == 2);
    CHECK(contains(canary.out, "--canary names shards, and database app is not sharded"));
    const auto waves = project.action("GRANT_ACTION_DATABASE=app GRANT_ACTION_WAVES=100% GRANT_ACTION_PAUSE=1s");
    CHECK(waves.exit_code == 0);
    CHECK(contains(waves.out, "rollout complete: 1 wave(s), 1 target(s)"));
  }
}

TEST_CASE("grant-migrate action: the lint input") {
  Project project;
  project.dir.write("db/grant.json", R"({"databases": {"pg": {"url": ")" +
                                         grant::test::fresh_database(grant::test::writer_url(), "action_lint") +
                                         R"(", "migrations": "migrate/pg"}}})");
  project.dir.write("db/migrate/pg/1_users.sql", "-- grant:up\nCREATE TABLE users (id int, email text);\n");
  REQUIRE(grant::test::run_grant({"migrate"}, project.dir.path()).exit_code == 0);
  project.dir.write("db/migrate/pg/2_index.sql",
                    "-- grant:up\nCREATE INDEX CONCURRENTLY users_email ON users (email);\n");

  SUBCASE("a finding at lint.fail_on: an annotation on the file, and nothing applied") {
    const auto run = project.action("GRANT_ACTION_WAIT=5");
    CHECK(run.exit_code == 1);
    CHECK(contains(run.out, "::error file=db/migrate/pg/2_index.sql,line=2,col=1,title=grant lint "
                            "concurrently-in-transaction::"));
    CHECK(grant::test::run_grant({"status", "--exit-code"}, project.dir.path()).exit_code == 1);
  }
  SUBCASE("lint: false skips it (and the server refuses the statement)") {
    const auto run = project.action("GRANT_ACTION_WAIT=5 GRANT_ACTION_LINT=false");
    CHECK(run.exit_code == 3);
    CHECK_FALSE(contains(run.out, "::error"));
    CHECK(contains(run.out, "--no-lint"));
  }
  SUBCASE("a lint input that is neither true nor false") {
    CHECK(project.action("GRANT_ACTION_LINT=maybe").exit_code == 2);
  }
}

} // namespace grant_test_action_cli_test
