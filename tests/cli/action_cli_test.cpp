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
}

} // namespace grant_test_action_cli_test
