#include <grant/migrate/migration_file.hpp>

#include "support/migrations.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_migrate_flyway_test {

using grant::test::contains;
using grant::test::load_error;
using grant::test::TempDir;
using namespace grant::migrate;

TEST_CASE("migrate::flyway files") {
  TempDir dir;
  const auto folder = dir / "db/migrate/app";

  SUBCASE("V files are the up section, U files their down") {
    dir.write("db/migrate/app/V1__Create_users.sql", "CREATE TABLE users (id int);\nCREATE INDEX u ON users (id);\n");
    dir.write("db/migrate/app/U1__Create_users.sql", "DROP TABLE users;\n");
    dir.write("db/migrate/app/V20240101__add email.sql", "ALTER TABLE users ADD COLUMN email text;\n");
    dir.write("db/migrate/app/V2__AddPhone.sql", "ALTER TABLE users ADD COLUMN phone text;\n");
    const auto files = load_migrations(folder);
    REQUIRE(files.size() == 3);
    CHECK(files[0].format == FileFormat::flyway);
    CHECK(files[0].version == "1");
    CHECK(files[0].name == "create_users");
    CHECK(files[0].up.first_line == 1);
    CHECK(files[0].up.statements.size() == 2);
    CHECK(files[0].up.statements[1].first_line == 2);
    REQUIRE(files[0].down);
    CHECK(files[0].down->file.filename() == "U1__Create_users.sql");
    CHECK(files[1].version == "2");
    CHECK(files[1].name == "add_phone");
    CHECK_FALSE(files[1].down);
    CHECK(files[2].version == "20240101");
    CHECK(files[2].name == "add_email");
    CHECK(files[2].display_name() == "20240101_add_email");
  }
  SUBCASE("a file that is only BEGIN and COMMIT is empty once unwrapped, and so is its down") {
    // Found by fuzz/migration_fuzz.cpp: the migration said it had statements to run, and had none.
    dir.write("db/migrate/app/V1__nothing.sql", "BEGIN;\nCOMMIT;\n");
    dir.write("db/migrate/app/U1__nothing.sql", "START TRANSACTION;\nEND;\n");
    const auto files = load_migrations(folder);
    REQUIRE(files.size() == 1);
    CHECK(files[0].up.statements.empty());
    CHECK(files[0].empty);
    CHECK_FALSE(files[0].down);
  }
  SUBCASE("comments that merely mention grant: or migrate: are fine in a Flyway file") {
    dir.write("db/migrate/app/V1__notes.sql", "-- migrate: moved from the old tool\n-- grant: reviewed\nSELECT 1;\n");
    CHECK(load_migrations(folder).size() == 1);
  }
  SUBCASE("a Flyway file and a grant file with the same version clash") {
    dir.write("db/migrate/app/V5__a.sql", "SELECT 1;\n");
    dir.write("db/migrate/app/5_b.sql", "-- grant:up\nSELECT 2;\n");
    const auto error = load_error(folder);
    CHECK(contains(error.what(), "V5__a.sql"));
    CHECK(contains(error.what(), "5_b.sql"));
  }
  SUBCASE("bad: a repeatable R__ migration") {
    dir.write("db/migrate/app/R__refresh_views.sql", "CREATE OR REPLACE VIEW v AS SELECT 1;\n");
    const auto error = load_error(folder);
    CHECK(error.exit_code() == 2);
    CHECK(contains(error.what(), "repeatable Flyway migrations are not supported"));
    CHECK(contains(error.what(), "R__refresh_views.sql"));
    CHECK(contains(error.where(), "R__refresh_views.sql"));
    CHECK_FALSE(error.hint().empty());
  }
  SUBCASE("bad: dotted versions") {
    dir.write("db/migrate/app/V1.1__fix.sql", "SELECT 1;\n");
    auto error = load_error(folder);
    CHECK(contains(error.what(), "'1.1'"));
    CHECK(contains(error.where(), "V1.1__fix.sql"));
    CHECK(contains(error.hint(), "whole-number"));
    std::filesystem::remove(folder / "V1.1__fix.sql");
    dir.write("db/migrate/app/V1_2__fix.sql", "SELECT 1;\n");
    CHECK(contains(load_error(folder).what(), "'1_2'"));
  }
  SUBCASE("bad: a U file without its V file") {
    dir.write("db/migrate/app/U3__gone.sql", "DROP TABLE t;\n");
    const auto error = load_error(folder);
    CHECK(contains(error.where(), "U3__gone.sql"));
    CHECK(contains(error.hint(), "V3__"));
  }
  SUBCASE("bad: grant markers inside a Flyway file") {
    dir.write("db/migrate/app/V4__mixed.sql", "-- grant:up\nSELECT 1;\n-- grant:down\nSELECT 2;\n");
    const auto error = load_error(folder);
    CHECK(contains(error.where(), "V4__mixed.sql:1"));
    CHECK(contains(error.hint(), "U<VERSION>__<desc>.sql"));
  }
}

TEST_CASE("migrate::missing_down_hint") {
  TempDir dir;
  dir.write("m/1_grant_file.sql", "-- grant:up\nSELECT 1;\n");
  dir.write("m/2_dbmate_file.sql", "-- migrate:up\nSELECT 1;\n");
  dir.write("m/3_golang_file.up.sql", "SELECT 1;\n");
  dir.write("m/V4__Flyway_File.sql", "SELECT 1;\n");
  const auto files = load_migrations(dir / "m");
  REQUIRE(files.size() == 4);
  CHECK(contains(missing_down_hint(files[0]), "-- grant:down"));
  CHECK(contains(missing_down_hint(files[0]), "1_grant_file.sql"));
  CHECK(contains(missing_down_hint(files[1]), "-- migrate:down"));
  CHECK(contains(missing_down_hint(files[2]), "create 3_golang_file.down.sql"));
  CHECK_FALSE(contains(missing_down_hint(files[2]), "grant:down"));
  CHECK(contains(missing_down_hint(files[3]), "create U4__Flyway_File.sql"));
}

} // namespace grant_test_migrate_flyway_test
