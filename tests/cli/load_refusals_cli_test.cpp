// What loading refuses that git cannot hold (tests/bad_input/ has the rest): a name that looks
// like a migration but is a dangling symlink, a symlink loop, a named pipe or an unreadable
// file; a migrations folder, config or SQLite path that is a symlink loop; `init --dir` on a
// folder without write permission. Each is exit 2 naming the path, and nothing is touched.

#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_load_refusals_cli_test {

using grant::test::contains;
using grant::test::run_grant;
using grant::test::RunResult;
using grant::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string k_config = R"({"databases": {"app": {"url": "sqlite3:db/app.sqlite3"}}})";

RunResult grant_in(const fs::path& cwd, const std::vector<std::string>& args) {
  return run_grant(args, cwd, {{"GRANT_CONFIG", std::nullopt}, {"NO_COLOR", "1"}});
}

// A project with one good migration after the slot the test fills.
struct LoadProject {
  TempDir dir;
  fs::path folder;
  LoadProject() : folder(fs::canonical(dir.path()) / "db/migrate/app") {
    dir.write("grant.json", k_config);
    dir.write("db/migrate/app/2_second.sql", "-- grant:up\nCREATE TABLE second (id integer);\n");
  }
  fs::path root() const { return fs::canonical(dir.path()); }
  // Every command that loads migrations refuses, naming the file; no database file appears.
  void check_refused(const std::string& file, const std::string& what, const std::string& hint) const {
    for (const auto* command : {"migrate", "status", "validate"}) {
      INFO("grant ", command);
      const auto run = grant_in(root(), {command});
      CHECK(run.exit_code == 2);
      CHECK(run.err == "grant: error: migration file '" + file + "' " + what + "\n  at: " + (folder / file).string() +
                           "\n  hint: " + hint + "\n");
      CHECK(run.out.empty());
    }
    CHECK_FALSE(fs::exists(root() / "db/app.sqlite3"));
  }
};

bool running_as_root() {
  return ::geteuid() == 0;
}

} // namespace

TEST_CASE("cli::load refuses a file named like a migration that grant cannot read") {
  LoadProject project;

  SUBCASE("a dangling symlink") {
    fs::create_symlink("gone.sql", project.folder / "1_first.sql");
    project.check_refused("1_first.sql", "is a symbolic link to 'gone.sql', which does not exist",
                          "point the link at an existing file, or remove it");
  }

  SUBCASE("a symlink loop, and one between two links") {
    fs::create_symlink("1_first.sql", project.folder / "1_first.sql");
    project.check_refused("1_first.sql", "is a symbolic link loop (Too many levels of symbolic links)",
                          "fix the link or remove it");
    fs::remove(project.folder / "1_first.sql");
    fs::create_symlink("4_b.up.sql", project.folder / "3_a.up.sql");
    fs::create_symlink("3_a.up.sql", project.folder / "4_b.up.sql");
    const auto run = grant_in(project.root(), {"status"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "migration file '3_a.up.sql' is a symbolic link loop"));
  }

  SUBCASE("a named pipe, read without blocking even with no writer") {
    REQUIRE(::mkfifo((project.folder / "1_first.sql").c_str(), 0644) == 0);
    project.check_refused("1_first.sql", "is a named pipe (FIFO), not a file",
                          "remove it or move it out of the migrations folder");
  }

  SUBCASE("a golang-migrate down file that is a named pipe") {
    project.dir.write("db/migrate/app/3_third.up.sql", "SELECT 1;\n");
    REQUIRE(::mkfifo((project.folder / "3_third.down.sql").c_str(), 0644) == 0);
    project.check_refused("3_third.down.sql", "is a named pipe (FIFO), not a file",
                          "remove it or move it out of the migrations folder");
  }

  SUBCASE("a file without read permission") {
    project.dir.write("db/migrate/app/1_first.sql", "-- grant:up\nSELECT 1;\n");
    fs::permissions(project.folder / "1_first.sql", fs::perms::none);
    if (running_as_root()) {
      MESSAGE("skipped: running as root, chmod 000 does not stop reads");
    } else {
      project.check_refused("1_first.sql", "cannot be read: Permission denied",
                            "make it readable (chmod a+r " + (project.folder / "1_first.sql").string() +
                                "), or move it out of the migrations folder");
    }
    fs::permissions(project.folder / "1_first.sql", fs::perms::owner_all);
  }

  SUBCASE("a symlink to a readable file is read through it") {
    project.dir.write("shared/1_first.sql", "-- grant:up\nCREATE TABLE first (id integer);\n");
    fs::create_symlink(project.root() / "shared/1_first.sql", project.folder / "1_first.sql");
    const auto run = grant_in(project.root(), {"migrate"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "applied 1_first"));
    CHECK(contains(run.out, "applied 2_second"));
  }

  SUBCASE("entries not named like a migration are no concern of grant, loops included") {
    fs::create_symlink("loop", project.folder / "loop");
    REQUIRE(::mkfifo((project.folder / "notes").c_str(), 0644) == 0);
    const auto run = grant_in(project.root(), {"status"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "pending  2_second"));
  }
}

TEST_CASE("cli::load refuses folders and paths it cannot use") {
  TempDir dir;
  const auto root = fs::canonical(dir.path());

  SUBCASE("a migrations folder that is a symlink loop") {
    dir.write("grant.json", R"({"databases": {"app": {"url": "sqlite3:app.sqlite3", "migrations": "loop"}}})");
    fs::create_symlink("loop", root / "loop");
    const auto run = grant_in(root, {"migrate"});
    CHECK(run.exit_code == 2);
    CHECK(run.err == "grant: error: migrations folder '" + (root / "loop").string() +
                         "' cannot be read: Too many levels of symbolic links\n  at: " + (root / "loop").string() +
                         "\n  hint: fix the path or its permissions, or set \"migrations\" in the config\n");
  }

  SUBCASE("a migrations folder without read permission") {
    dir.write("grant.json", R"({"databases": {"app": {"url": "sqlite3:app.sqlite3"}}})");
    dir.write("db/migrate/app/1_a.sql", "-- grant:up\nSELECT 1;\n");
    fs::permissions(root / "db/migrate/app", fs::perms::none);
    if (running_as_root()) {
      MESSAGE("skipped: running as root, chmod 000 does not stop reads");
    } else {
      const auto run = grant_in(root, {"status"});
      CHECK(run.exit_code == 2);
      CHECK(contains(run.err, "cannot be read: Permission denied"));
    }
    fs::permissions(root / "db/migrate/app", fs::perms::owner_all);
  }

  SUBCASE("a config that is a symlink loop") {
    fs::create_symlink("grant.json", root / "grant.json");
    const auto run = grant_in(root, {"--config", "grant.json", "status"});
    CHECK(run.exit_code == 2);
    CHECK(run.err == "grant: error: cannot use config file 'grant.json': Too many levels of symbolic links\n"
                     "  at: --config\n  hint: fix the path or its permissions\n");
  }

  SUBCASE("a SQLite URL that is a symlink loop; config check does not call it valid") {
    dir.write("grant.json", R"({"databases": {"app": {"url": "sqlite3:app.sqlite3"}}})");
    fs::create_symlink("app.sqlite3", root / "app.sqlite3");
    const auto run = grant_in(root, {"config", "check"});
    CHECK(run.exit_code == 2);
    CHECK(run.err == "grant: error: cannot use SQLite database '" + (root / "app.sqlite3").string() +
                         "': Too many levels of symbolic links\n  at: grant.json: databases.app.url\n"
                         "  hint: fix the path or its permissions\n");
    CHECK_FALSE(contains(run.out, "valid"));
  }

  SUBCASE("init --dir on a symlink loop or a folder without write permission") {
    fs::create_symlink("loop", root / "loop");
    auto run = grant_in(root, {"init", "--dir", "loop"});
    CHECK(run.exit_code == 2);
    CHECK(run.err == "grant: error: cannot use 'loop' as the project folder: Too many levels of symbolic links\n"
                     "  at: --dir loop\n  hint: name a folder you can write to\n");
    fs::create_directory(root / "locked");
    fs::permissions(root / "locked", fs::perms::owner_read | fs::perms::owner_exec);
    if (running_as_root()) {
      MESSAGE("skipped: running as root, a folder without write permission is still writable");
    } else {
      run = grant_in(root, {"init", "--dir", "locked"});
      CHECK(run.exit_code == 2);
      CHECK(run.err == "grant: error: cannot create folder 'locked/db/migrate/primary': Permission denied\n"
                       "  at: locked/db/migrate/primary\n  hint: fix the path or its permissions\n");
    }
    fs::permissions(root / "locked", fs::perms::owner_all);
  }
}

TEST_CASE("cli::load runs a golang-migrate file's own BEGIN/COMMIT wrapper inside grant's transaction") {
  TempDir dir;
  dir.write("grant.json", R"({"databases": {"app": {"url": "sqlite3:db/app.sqlite3"}}})");
  dir.write("db/migrate/app/1_a.up.sql", "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\n");
  dir.write("db/migrate/app/1_a.down.sql", "BEGIN;\nDROP TABLE a;\nCOMMIT;\n");
  // The third statement fails; in grant's transaction the CREATE before it is rolled back too.
  dir.write("db/migrate/app/2_b.up.sql",
            "BEGIN;\nCREATE TABLE b (id int);\nINSERT INTO missing VALUES (1);\nCOMMIT;\n");

  const auto run = run_grant({"migrate"}, dir.path());
  INFO(run.out, run.err);
  CHECK(run.exit_code == 3);
  CHECK(contains(run.err, "no such table: missing"));
  const auto status = run_grant({"status", "--json"}, dir.path());
  INFO(status.out, status.err);
  const auto document = nlohmann::json::parse(status.out);
  CHECK(document["targets"][0]["current_version"] == "1");
  REQUIRE(document["targets"][0]["pending"].size() == 1);
  CHECK(document["targets"][0]["pending"][0]["version"] == "2");
  // 2's CREATE TABLE b was rolled back with the rest of it: b does not exist, a does.
  const auto tables = run_grant({"query", "--database", "app", "--format", "csv",
                                 "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('a', 'b')"},
                                dir.path());
  INFO(tables.out, tables.err);
  CHECK(tables.exit_code == 0);
  CHECK(contains(tables.out, "a"));
  CHECK(!contains(tables.out, "\nb"));

  // And its down section's wrapper is unwrapped the same way.
  dir.write("db/migrate/app/2_b.up.sql", "CREATE TABLE b (id int);\n");
  dir.write("db/migrate/app/2_b.down.sql", "DROP TABLE b;\n");
  REQUIRE(run_grant({"migrate"}, dir.path()).exit_code == 0);
  const auto back = run_grant({"rollback", "--all"}, dir.path());
  INFO(back.out, back.err);
  CHECK(back.exit_code == 0);
}

} // namespace grant_test_load_refusals_cli_test
