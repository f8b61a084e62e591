// `grant --help`, `--version` and `grant init`, run as a user would run them.
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <grant/version.hpp>

#include <nlohmann/json.hpp>

#include <regex>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_init_cli_test {

using grant::test::contains;

using grant::test::read_file;
using grant::test::run_grant;
using grant::test::RunResult;
using grant::test::TempDir;
namespace fs = std::filesystem;

namespace {

// The binary in `cwd` with no config coming from the environment.
RunResult grant_in(const fs::path& cwd, const std::vector<std::string>& args) {
  return run_grant(args, cwd, {{"GRANT_CONFIG", std::nullopt}});
}

} // namespace

TEST_CASE("cli::help and version") {
  TempDir dir;

  SUBCASE("--help lists the commands and shows examples") {
    const auto run = grant_in(dir.path(), {"--help"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "init"));
    CHECK(contains(run.out, "config"));
    CHECK(contains(run.out, "--config"));
    CHECK(contains(run.out, "--json"));
    CHECK(contains(run.out, "Examples:"));
    CHECK(contains(run.out, "grant config check --connect"));
    CHECK(contains(run.out, "Exit codes:"));
    CHECK(run.err.empty());
  }

  SUBCASE("a command's --help shows its own options and examples") {
    const auto run = grant_in(dir.path(), {"config", "check", "--help"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "--connect"));
    CHECK(contains(run.out, "grant config check --connect --json"));
  }

  SUBCASE("--version names the project version and the commit it was built from") {
    const auto run = grant_in(dir.path(), {"--version"});
    CHECK(run.exit_code == 0);
    CHECK(run.out.rfind(std::string("grant ") + GRANT_VERSION + " (commit ", 0) == 0);
    CHECK(std::regex_match(run.out, std::regex(R"(grant [0-9]+\.[0-9]+\.[0-9]+ \(commit ([0-9a-f]{7,}|unknown)\)\n)")));
  }

  SUBCASE("usage errors exit 2 with the grant prefix") {
    for (const auto& args : std::vector<std::vector<std::string>>{
             {}, {"no-such-command"}, {"config", "check", "--no-such-flag"}, {"config"}}) {
      CAPTURE(args.size());
      const auto run = grant_in(dir.path(), args);
      CHECK(run.exit_code == 2);
      CHECK(run.err.rfind("grant: error: ", 0) == 0);
      CHECK(run.out.empty());
    }
    CHECK(fs::is_empty(dir.path()));
  }
}

TEST_CASE("cli::init") {
  TempDir dir;
  const auto config_file = dir / "db" / "grant.json";

  SUBCASE("writes a starter SQLite config and the migrations folder, and it validates") {
    const auto run = grant_in(dir.path(), {"init"});
    CHECK(run.exit_code == 0);
    CHECK(fs::is_regular_file(config_file));
    CHECK(fs::is_directory(dir / "db" / "migrate" / "primary"));
    CHECK(contains(run.out, "db/grant.json"));
    CHECK(run.err.empty());
    // The database file is created by the first migrate, not by init.
    CHECK_FALSE(fs::exists(dir / "db" / "primary.sqlite3"));

    const auto check = grant_in(dir.path(), {"config", "check"});
    CHECK(check.exit_code == 0);
    CHECK(contains(check.out, "primary"));
    CHECK(contains(check.out, "sqlite3:"));
    CHECK(contains(check.out, (dir / "db" / "migrate" / "primary").string()));
    // Checking, even with --connect, writes nothing either.
    CHECK(grant_in(dir.path(), {"config", "check", "--connect"}).exit_code == 0);
    CHECK_FALSE(fs::exists(dir / "db" / "primary.sqlite3"));
  }

  SUBCASE("refuses to overwrite: exit 2, the file unchanged") {
    REQUIRE(grant_in(dir.path(), {"init"}).exit_code == 0);
    const std::string edited = R"({"databases": {"mine": {"url": "sqlite3:mine.sqlite3"}}})";
    dir.write("db/grant.json", edited);
    const auto again = grant_in(dir.path(), {"init"});
    CHECK(again.exit_code == 2);
    CHECK(again.err.rfind("grant: error: ", 0) == 0);
    CHECK(contains(again.err, "refusing to overwrite"));
    CHECK(contains(again.err, "db/grant.json"));
    CHECK(read_file(config_file) == edited);
  }

  SUBCASE("--dir initialises another folder") {
    const auto run = grant_in(dir.path(), {"init", "--dir", "app"});
    CHECK(run.exit_code == 0);
    CHECK(fs::is_regular_file(dir / "app" / "db" / "grant.json"));
    CHECK(fs::is_directory(dir / "app" / "db" / "migrate" / "primary"));
    CHECK_FALSE(fs::exists(dir / "db"));
  }

  SUBCASE("--json prints one JSON document") {
    const auto run = grant_in(dir.path(), {"--json", "init"});
    CHECK(run.exit_code == 0);
    const auto document = nlohmann::json::parse(run.out);
    CHECK(document["config"].get<std::string>().find("db/grant.json") != std::string::npos);
  }
}

} // namespace grant_test_init_cli_test
