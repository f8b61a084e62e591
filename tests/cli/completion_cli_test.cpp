// `grant completion bash|zsh|fish`: the generated scripts parse in their shells and complete
// subcommands, flags, a flag's choices and the config's database names, driven the way each shell
// drives them (bash's COMP_WORDS, fish's `complete -C`, zsh with its completion builtins stubbed,
// since they exist only inside a completion widget).
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <filesystem>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_completion_cli_test {

using grant::test::contains;
using grant::test::TempDir;

namespace {

using grant::test::run_shell;

bool has_shell(const char* name) {
  return run_shell(std::string("command -v ") + name + " >/dev/null", std::filesystem::temp_directory_path())
             .exit_code == 0;
}

struct Project {
  TempDir dir;
  Project() {
    dir.write("grant.json",
              R"({"databases": {"primary": {"url": "sqlite:./p.db"}, "analytics": {"url": "sqlite:./a.db"}}})");
  }
  std::filesystem::path script(const std::string& shell) const {
    const auto run = grant::test::run_grant({"completion", shell}, dir.path());
    REQUIRE(run.exit_code == 0);
    return dir.write("completion." + shell, run.out);
  }
};

} // namespace

TEST_CASE("grant completion bash") {
  Project project;
  const auto script = project.script("bash");
  REQUIRE(run_shell("bash -n '" + script.string() + "'", project.dir.path()).exit_code == 0);
  const auto complete = [&](const std::string& words, int cword) {
    return run_shell("bash -c 'source " + script.string() + "; COMP_WORDS=(" + words +
                         "); COMP_CWORD=" + std::to_string(cword) + "; _grant; printf \"%s\\n\" \"${COMPREPLY[@]}\"'",
                     project.dir.path())
        .out;
  };
  CHECK(complete("grant mig", 1) == "migrate\n");
  CHECK(complete("grant shard-", 1) == "shard-resolve\nshard-check\n");
  CHECK(complete("grant query --all", 2) == "--all-shards\n");
  CHECK(complete("grant query --cr", 2) == "--crlf\n"); // a new flag completes with no change here
  CHECK(complete("grant query --format \"\"", 3) == "table\ncsv\njson\n");
  CHECK(complete("grant migrate --database \"\"", 3) == "primary\nanalytics\n");
  CHECK(complete("grant config \"\"", 2).find("check\n") == 0);
  CHECK(contains(complete("grant migrate --js", 2), "--json")); // global flags after a command
  CHECK(complete("grant migrate --jobs \"\"", 3) == "\n");      // nothing offered: a number of the user's own
  const auto registered = run_shell("bash -c 'source " + script.string() + "; complete -p grant'", project.dir.path());
  CHECK(contains(registered.out, "complete -F _grant grant"));
}

TEST_CASE("grant completion fish") {
  if (!has_shell("fish")) {
    FAIL("fish is not installed: scripts/install-deps.sh --with-shells installs it");
  }
  Project project;
  const auto script = project.script("fish");
  REQUIRE(run_shell("fish -n '" + script.string() + "'", project.dir.path()).exit_code == 0);
  const auto complete = [&](const std::string& line) {
    return run_shell("fish -c 'source " + script.string() + "; complete -C\"" + line + "\"'", project.dir.path()).out;
  };
  CHECK(complete("grant que").find("query\t") == 0);
  CHECK(complete("grant query --format ") == "csv\ttable (default), csv (RFC 4180 quoting, LF line ends) or json\n"
                                             "json\ttable (default), csv (RFC 4180 quoting, LF line ends) or json\n"
                                             "table\ttable (default), csv (RFC 4180 quoting, LF line ends) or json\n");
  const auto databases = complete("grant status --database ");
  CHECK(contains(databases, "primary\t"));
  CHECK(contains(databases, "analytics\t"));
  CHECK_FALSE(contains(databases, "grant.json")); // a database name, not a file
}

TEST_CASE("grant completion zsh") {
  if (!has_shell("zsh")) {
    FAIL("zsh is not installed: scripts/install-deps.sh --with-shells installs it");
  }
  Project project;
  const auto script = project.script("zsh");
  REQUIRE(run_shell("zsh -n '" + script.string() + "'", project.dir.path()).exit_code == 0);
  CHECK(grant::test::read_file(script).rfind("#compdef grant\n", 0) == 0);
  // compadd / _describe / _files are builtins of zsh's completion system: stubs print what the
  // script hands them.
  const auto complete = [&](const std::string& words, int current) {
    return run_shell("zsh -c 'compadd() { print -l -- \"$@\" }; _describe() { print -l -- \"${(@P)2}\" }; "
                     "_files() { print FILES }; words=(" +
                         words + "); CURRENT=" + std::to_string(current) + "; source " + script.string() + "'",
                     project.dir.path())
        .out;
  };
  CHECK(complete("grant mig", 2).find("migrate:Apply") != std::string::npos);
  CHECK(complete("grant query --format \"\"", 4) == "table\ncsv\njson\n");
  CHECK(complete("grant --config \"\"", 3) == "FILES\n");
  CHECK(contains(complete("grant health --", 3), "--format:"));
}

TEST_CASE("grant completion errors and --list-databases") {
  Project project;
  const auto listed = grant::test::run_grant({"completion", "--list-databases"}, project.dir.path());
  CHECK(listed.exit_code == 0);
  CHECK(listed.out == "primary\nanalytics\n");
  CHECK(grant::test::run_grant({"completion", "tcsh"}, project.dir.path()).exit_code == 2);
  CHECK(grant::test::run_grant({"completion"}, project.dir.path()).exit_code == 2);
}

} // namespace grant_test_completion_cli_test
