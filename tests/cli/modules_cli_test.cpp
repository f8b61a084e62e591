// The grant program loads the PostgreSQL adapter (grant-postgres.so: libpqxx, libpq) and the
// HTTP listener of `grant serve` (grant-serve.so: cpp-httplib) on first use, so a run that needs
// neither never loads them (lib/CMakeLists.txt, docs/architecture.md). Checked with the dynamic
// loader's own log (LD_DEBUG=files names every object it loads), and a program copied without
// its modules: a clear error for PostgreSQL, SQLite unaffected.
#include "support/support.hpp"

#include <grant/version.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <vector>

namespace grant_test_modules_cli_test {

using grant::test::contains;
using grant::test::run_grant;
using grant::test::TempDir;

namespace {

// The objects the dynamic loader loaded during a run (its LD_DEBUG=files log is on stderr).
grant::test::RunResult traced(const std::vector<std::string>& args, const TempDir& dir) {
  return run_grant(args, dir.path(), {{"LD_DEBUG", std::string("files")}});
}

bool loaded(const grant::test::RunResult& run, const std::string& object) {
  return contains(run.err, "file=" + object) || contains(run.err, "/" + object);
}

// Checks that the run loaded none of `objects`.
void loaded_none(const grant::test::RunResult& run, const std::vector<std::string>& objects) {
  for (const auto& object : objects) {
    CAPTURE(object);
    CHECK_FALSE(loaded(run, object));
  }
}

} // namespace

TEST_CASE("a SQLite run loads neither libpq nor cpp-httplib; a PostgreSQL URL loads the adapter") {
  TempDir dir;
  dir.write("grant.json", R"({"databases": {"app": {"url": "sqlite:./app.db"}}})");
  dir.write("db/migrate/app/20240101000000_one.sql", "-- migrate:up\nCREATE TABLE t (id integer);\n");

  const auto version = traced({"--version"}, dir);
  REQUIRE(version.exit_code == 0);
  REQUIRE(loaded(version, "libc.so.6")); // the log is there to read
  loaded_none(version, {"libpq.so", "libcpp-httplib"});

  const auto migrate = traced({"migrate"}, dir);
  REQUIRE(migrate.exit_code == 0);
  CHECK(loaded(migrate, "libsqlite3.so"));
  loaded_none(migrate, {"grant-postgres.so", "libpq.so", "libpqxx", "libgnutls", "libcpp-httplib"});

  // `grant lint FILE...` reads no server: a PostgreSQL config is not handed to libpq.
  dir.write("grant.json", R"({"databases": {"app": {"url": "postgres://u@127.0.0.1:1/app"}}})");
  const auto lint = traced({"lint", "--fail-on", "none", "db/migrate/app/20240101000000_one.sql"}, dir);
  CHECK(lint.exit_code == 0);
  loaded_none(lint, {"grant-postgres.so", "libpq.so"});

  // A command that connects reads the URL with libpq, from the adapter's module.
  const auto status = traced({"status"}, dir);
  CHECK(status.exit_code == 3);
  CHECK(loaded(status, "grant-postgres.so"));
  CHECK(loaded(status, "libpq.so"));
  loaded_none(status, {"libcpp-httplib"});
}

TEST_CASE("a program copied without its modules, or beside a stale one: a clear error, SQLite still works") {
  TempDir dir;
  const auto program = dir.path() / "bin" / "grant";
  std::filesystem::create_directories(program.parent_path());
  std::filesystem::copy_file(GRANT_BINARY, program);
  const auto run = [&](const std::string& config) {
    dir.write("grant.json", config);
    return grant::test::run_shell("'" + program.string() + "' status 2>&1", dir.path());
  };

  const auto postgres = run(R"({"databases": {"app": {"url": "postgres://u:s3cret-module@127.0.0.1:1/app"}}})");
  CHECK(postgres.exit_code == 2);
  CHECK(
      contains(postgres.out, "grant: error: cannot load grant's PostgreSQL adapter (grant-postgres.so): not found at " +
                                 (dir.path() / "bin" / "grant-postgres.so").string()));
  CHECK(contains(postgres.out, "hint: reinstall grant: the module ships with the program, in "));
  CHECK_FALSE(contains(postgres.out, "s3cret-module"));

  // A module from another release beside it: refused by its version, before anything runs.
  std::filesystem::copy_file(GRANT_STALE_MODULE, program.parent_path() / "grant-postgres.so");
  const auto stale = run(R"({"databases": {"app": {"url": "postgres://u@127.0.0.1:1/app"}}})");
  CHECK(stale.exit_code == 2);
  CHECK(contains(stale.out, (program.parent_path() / "grant-postgres.so").string() +
                                " is from grant 0.0.0, this program is " GRANT_VERSION));

  dir.write("db/migrate/app/20240101000000_one.sql", "-- migrate:up\nCREATE TABLE t (id integer);\n");
  const auto sqlite = run(R"({"databases": {"app": {"url": "sqlite:./app.db"}}})");
  CHECK(sqlite.exit_code == 0);
  CHECK(contains(sqlite.out, "20240101000000"));
}

} // namespace grant_test_modules_cli_test
