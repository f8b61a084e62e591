#include <grant/migrate/migration_file.hpp>
#include <grant/migrate/plan.hpp>

#include "support/migrations.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <algorithm>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_migrate_files_test {

using grant::test::contains;
using grant::test::load_error;

using namespace grant::migrate;
using grant::test::TempDir;

TEST_CASE("migrate::files") {
  TempDir dir;
  const auto folder = dir / "db/migrate/app";

  SUBCASE("a grant file: sections, line numbers, transaction option, checksum of the up section") {
    dir.write("db/migrate/app/20240101120000_create_users.sql", "-- a comment before the first marker is fine\n"
                                                                "\n"
                                                                "-- grant:up\n"
                                                                "CREATE TABLE users (id bigint PRIMARY KEY);\n"
                                                                "-- grant:down\n"
                                                                "DROP TABLE users;\n");
    dir.write("db/migrate/app/20240101120001_index_users.sql", "-- grant:up transaction=false\n"
                                                               "CREATE INDEX CONCURRENTLY users_id ON users (id);\n"
                                                               "-- grant:down transaction=false\n"
                                                               "DROP INDEX CONCURRENTLY users_id;\n");
    const auto files = load_migrations(folder);
    REQUIRE(files.size() == 2);
    const auto& users = files[0];
    CHECK(users.version == "20240101120000");
    CHECK(users.name == "create_users");
    CHECK(users.display_name() == "20240101120000_create_users");
    CHECK(users.format == FileFormat::grant);
    CHECK(users.up.sql == "CREATE TABLE users (id bigint PRIMARY KEY);\n");
    CHECK(users.up.first_line == 4);
    CHECK(users.up.transaction);
    REQUIRE(users.down);
    CHECK(users.down->sql == "DROP TABLE users;\n");
    CHECK(users.down->first_line == 6);
    // sha256sum of "CREATE TABLE users (id bigint PRIMARY KEY);\n"
    CHECK(users.checksum == "3456c330330e5584db1ea42d855fe843569a61c7c200bd34b52f8f9c03b28f0d");
    CHECK_FALSE(files[1].up.transaction);
    REQUIRE(files[1].down);
    CHECK_FALSE(files[1].down->transaction);
  }

  SUBCASE("the checksum changes with the up section only") {
    const auto a = parse_migration("1_a.sql", "-- grant:up\nSELECT 1;\n-- grant:down\nSELECT 2;\n");
    const auto b = parse_migration("1_a.sql", "-- grant:up\nSELECT 1;\n-- grant:down\nSELECT 3;\n");
    const auto c = parse_migration("1_a.sql", "-- grant:up\nSELECT 10;\n-- grant:down\nSELECT 2;\n");
    CHECK(a.checksum == b.checksum);
    CHECK(a.checksum != c.checksum);
    CHECK(a.checksum.size() == 64);
  }

  SUBCASE("no down section, or an empty one, means it cannot be rolled back") {
    CHECK_FALSE(parse_migration("1_a.sql", "-- grant:up\nSELECT 1;\n").down);
    CHECK_FALSE(parse_migration("1_a.sql", "-- grant:up\nSELECT 1;\n-- grant:down\n\n-- nothing\n").down);
  }

  SUBCASE("dbmate files are read as they are") {
    dir.write("db/migrate/app/20230101000000_create_things.sql",
              "-- migrate:up\nCREATE TABLE things (id int);\n\n-- migrate:down\nDROP TABLE things;\n");
    dir.write("db/migrate/app/20230101000001_index_things.sql",
              "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY things_id ON things (id);\n"
              "-- migrate:down\nDROP INDEX things_id;\n");
    const auto files = load_migrations(folder);
    REQUIRE(files.size() == 2);
    CHECK(files[0].format == FileFormat::dbmate);
    CHECK(files[0].name == "create_things");
    CHECK(files[0].up.sql == "CREATE TABLE things (id int);\n\n");
    REQUIRE(files[0].down);
    CHECK(files[0].down->sql == "DROP TABLE things;\n");
    CHECK(files[0].up.transaction);
    CHECK_FALSE(files[1].up.transaction);
    CHECK(files[1].down->transaction);
  }

  SUBCASE("golang-migrate .up.sql / .down.sql pairs are read as they are") {
    dir.write("db/migrate/app/000001_create_users.up.sql", "CREATE TABLE users (id int);\n");
    dir.write("db/migrate/app/000001_create_users.down.sql", "DROP TABLE users;\n");
    dir.write("db/migrate/app/000002_add_email.up.sql", "ALTER TABLE users ADD COLUMN email text;\n");
    const auto files = load_migrations(folder);
    REQUIRE(files.size() == 2);
    CHECK(files[0].format == FileFormat::golang_migrate);
    CHECK(files[0].version == "000001");
    CHECK(files[0].name == "create_users");
    CHECK(files[0].up.sql == "CREATE TABLE users (id int);\n");
    CHECK(files[0].up.first_line == 1);
    CHECK(files[0].up.file.filename() == "000001_create_users.up.sql");
    REQUIRE(files[0].down);
    CHECK(files[0].down->file.filename() == "000001_create_users.down.sql");
    CHECK(files[1].name == "add_email");
    CHECK_FALSE(files[1].down);
  }

  SUBCASE("versions order numerically, not as text") {
    dir.write("db/migrate/app/10_ten.sql", "-- grant:up\nSELECT 10;\n");
    dir.write("db/migrate/app/9_nine.sql", "-- grant:up\nSELECT 9;\n");
    dir.write("db/migrate/app/100_hundred.sql", "-- grant:up\nSELECT 100;\n");
    dir.write("db/migrate/app/README.md", "not a migration");
    const auto files = load_migrations(folder);
    REQUIRE(files.size() == 3);
    CHECK(files[0].version == "9");
    CHECK(files[1].version == "10");
    CHECK(files[2].version == "100");
    CHECK(compare_versions("9", "10") < 0);
    CHECK(compare_versions("10", "9") > 0);
    CHECK(compare_versions("0010", "10") == 0);
    CHECK(compare_versions("20240101120000", "20240101120001") < 0);
    CHECK(is_version("0123"));
    CHECK_FALSE(is_version(""));
    CHECK_FALSE(is_version("12a"));
  }

  SUBCASE("snake_case names") {
    CHECK(snake_case("Create Users!") == "create_users");
    CHECK(snake_case("CreateUsers") == "create_users");
    CHECK(snake_case("add-email-to users") == "add_email_to_users");
    CHECK(snake_case("already_snake") == "already_snake");
    CHECK(snake_case("  __x__  ") == "x");
    CHECK(snake_case("!!!").empty());
  }

  SUBCASE("bad: two files with the same version") {
    dir.write("db/migrate/app/7_first.sql", "-- grant:up\nSELECT 1;\n");
    dir.write("db/migrate/app/007_second.sql", "-- grant:up\nSELECT 2;\n");
    const auto error = load_error(folder);
    CHECK(contains(error.what(), "7_first.sql"));
    CHECK(contains(error.what(), "007_second.sql"));
    CHECK(error.exit_code() == 2);
  }

  SUBCASE("bad: a grant file and a golang-migrate pair with the same version") {
    dir.write("db/migrate/app/5_a.sql", "-- grant:up\nSELECT 1;\n");
    dir.write("db/migrate/app/5_b.up.sql", "SELECT 2;\n");
    const auto error = load_error(folder);
    CHECK(contains(error.what(), "5_a.sql"));
    CHECK(contains(error.what(), "5_b.up.sql"));
  }

  SUBCASE("bad: a file with no up marker") {
    dir.write("db/migrate/app/1_no_marker.sql", "CREATE TABLE t (id int);\n");
    const auto error = load_error(folder);
    CHECK(contains(error.where(), "1_no_marker.sql"));
    CHECK(contains(error.what(), "grant:up"));
    dir.write("db/migrate/app/1_no_marker.sql", "-- just a comment\n-- grant:down\nDROP TABLE t;\n");
    CHECK(contains(load_error(folder).where(), "1_no_marker.sql"));
  }

  SUBCASE("bad: a marker typo suggests the right one, with file:line") {
    dir.write("db/migrate/app/1_typo.sql", "-- grant:up\nSELECT 1;\n-- grant:dwn\nSELECT 2;\n");
    auto error = load_error(folder);
    CHECK(contains(error.where(), "1_typo.sql:3"));
    CHECK(contains(error.hint(), "did you mean -- grant:down"));
    dir.write("db/migrate/app/1_typo.sql", "\n-- grant:upp\nSELECT 1;\n");
    error = load_error(folder);
    CHECK(contains(error.what(), "grant:upp"));
    CHECK(contains(error.where(), "1_typo.sql:2"));
    CHECK(contains(error.hint(), "did you mean -- grant:up"));
  }

  SUBCASE("bad: an unknown marker option, or a bad value") {
    dir.write("db/migrate/app/1_option.sql", "-- grant:up transacton=false\nSELECT 1;\n");
    auto error = load_error(folder);
    CHECK(contains(error.what(), "transacton"));
    CHECK(contains(error.where(), "1_option.sql:1"));
    CHECK(contains(error.hint(), "transaction"));
    dir.write("db/migrate/app/1_option.sql", "-- grant:up\nSELECT 1;\n-- grant:down transaction=maybe\nSELECT 2;\n");
    error = load_error(folder);
    CHECK(contains(error.what(), "maybe"));
    CHECK(contains(error.where(), "1_option.sql:3"));
  }

  SUBCASE("an empty up section (a freshly generated file) loads, marked empty") {
    dir.write("db/migrate/app/1_empty.sql", "-- header\n-- grant:up\n\n-- only a comment\n/* and; this */\n"
                                            "-- grant:down\nSELECT 1;\n");
    dir.write("db/migrate/app/2_blank.up.sql", "\n");
    dir.write("db/migrate/app/V3__nothing.sql", "-- to do\n");
    dir.write("db/migrate/app/4_full.sql", "-- grant:up\nSELECT 1;\n");
    const auto files = load_migrations(folder);
    REQUIRE(files.size() == 4);
    CHECK(files[0].empty);
    CHECK(files[0].up.statements.empty());
    CHECK(files[1].empty);
    CHECK(files[2].empty);
    CHECK_FALSE(files[3].empty);
  }

  SUBCASE("bad: SQL before the first marker") {
    dir.write("db/migrate/app/1_early.sql", "-- fine\nSELECT 0;\n-- grant:up\nSELECT 1;\n");
    CHECK(contains(load_error(folder).where(), "1_early.sql:2"));
  }

  SUBCASE("bad: a second up marker") {
    dir.write("db/migrate/app/1_twice.sql", "-- grant:up\nSELECT 1;\n-- grant:up\nSELECT 2;\n");
    CHECK(contains(load_error(folder).where(), "1_twice.sql:3"));
  }

  SUBCASE("bad: a version that is not digits") {
    dir.write("db/migrate/app/v1_create_users.sql", "-- grant:up\nSELECT 1;\n");
    const auto error = load_error(folder);
    CHECK(contains(error.what(), "v1_create_users.sql"));
    CHECK(contains(error.where(), "v1_create_users.sql"));
  }

  SUBCASE("bad: a golang-migrate down file without its up file") {
    dir.write("db/migrate/app/3_orphan.down.sql", "DROP TABLE t;\n");
    CHECK(contains(load_error(folder).where(), "3_orphan.down.sql"));
  }

  SUBCASE("bad: a migrations folder that does not exist") {
    const auto error = load_error(dir / "db/migrate/nope");
    CHECK(contains(error.what(), "db/migrate/nope"));
    CHECK(contains(error.what(), "does not exist"));
    CHECK(error.exit_code() == 2);
  }

  SUBCASE("bad: non-UTF-8 bytes in a file name") {
    dir.write("db/migrate/app/1_caf\xe9.sql", "-- grant:up\nSELECT 1;\n");
    const auto error = load_error(folder);
    CHECK(contains(error.what(), "UTF-8"));
    CHECK(contains(error.where(), "1_caf"));
  }
}

TEST_CASE("migrate::plan") {
  const std::vector<Migration> files{parse_migration("1_a.sql", "-- grant:up\nSELECT 1;\n"),
                                     parse_migration("2_b.sql", "-- grant:up\nSELECT 2;\n"),
                                     parse_migration("3_c.sql", "-- grant:up\nSELECT 3;\n")};
  auto named = files;
  for (std::size_t i = 0; i < named.size(); ++i) {
    named[i].version = std::to_string(i + 1);
    named[i].name = std::string(1, static_cast<char>('a' + i));
  }
  const auto row = [&](const std::string& version, std::optional<std::string> checksum) {
    AppliedMigration applied;
    applied.version = version;
    applied.checksum = std::move(checksum);
    return applied;
  };

  SUBCASE("nothing applied: all pending, in order") {
    const auto plan = make_plan(named, {});
    CHECK(plan.pending.size() == 3);
    CHECK(plan.current_version.empty());
    CHECK(plan.out_of_order.empty());
  }
  SUBCASE("drift, missing files and out-of-order pending") {
    const auto plan =
        make_plan(named, {row("1", named[0].checksum), row("3", std::string(64, '0')), row("4", named[0].checksum)});
    CHECK(plan.current_version == "4");
    REQUIRE(plan.pending.size() == 1);
    CHECK(plan.pending[0]->version == "2");
    REQUIRE(plan.out_of_order.size() == 1);
    REQUIRE(plan.missing_files.size() == 1);
    CHECK(plan.missing_files[0].version == "4");
    REQUIRE(plan.drifted.size() == 1);
    CHECK(plan.drifted[0].migration->version == "3");
  }
  SUBCASE("an unknown checksum (adopted row) is no drift") {
    const auto plan = make_plan(named, {row("1", std::nullopt), row("2", std::string())});
    CHECK(plan.drifted.empty());
    CHECK(plan.pending.size() == 1);
  }
}

} // namespace grant_test_migrate_files_test
