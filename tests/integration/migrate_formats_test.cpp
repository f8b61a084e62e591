// Migration files as other tools and PostgreSQL itself write them, run on a real server: the
// statement splitter on a transaction=false section full of PostgreSQL's lexical corners, Flyway
// V/U files, and the missing-down hint in each format's words.
#include "support/project.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_migrate_formats_test {

using grant::test::contains;
using grant::test::Project;

TEST_CASE("migrate::formats on PostgreSQL") {
  Project project(grant::test::Engine::postgres, "mig_formats");

  SUBCASE("transaction=false: every statement found where PostgreSQL would end it") {
    project.file("1_corners.sql",
                 "-- grant:up transaction=false\n"
                 "CREATE TABLE a$1 (id int PRIMARY KEY, price$ numeric, note text);\n"
                 "INSERT INTO a$1 VALUES (1, 2, E'it\\'s; a /* no comment */ test'), (2, 3, 'plain''s; too');\n"
                 "/* outer /* nested; */ still; a comment */\n"
                 "CREATE FUNCTION price_of(x int) RETURNS numeric LANGUAGE sql\n"
                 "BEGIN ATOMIC\n"
                 "  SELECT CASE WHEN x > 0 THEN price$ ELSE 0 END FROM a$1 WHERE id = x;\n"
                 "END;\n"
                 "CREATE INDEX CONCURRENTLY a_note ON a$1 (note);\n"
                 "DO $body$ BEGIN PERFORM 1; END $body$;\n"
                 "-- grant:down transaction=false\n"
                 "DROP INDEX CONCURRENTLY a_note;\n"
                 "DROP FUNCTION price_of(int);\n"
                 "DROP TABLE a$1;\n");
    auto run = project.grant({"migrate"});
    INFO(run.out, run.err);
    REQUIRE(run.exit_code == 0);
    CHECK(project.scalar("SELECT price_of(1)") == "2");
    CHECK(project.scalar("SELECT note FROM a$1 WHERE id = 1") == "it's; a /* no comment */ test");
    CHECK(project.scalar("SELECT note FROM a$1 WHERE id = 2") == "plain's; too");
    CHECK(project.scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 'a_note'::regclass") == "t");
    run = project.grant({"rollback"});
    CHECK(run.exit_code == 0);
    CHECK(project.scalar("SELECT to_regclass('a$1') IS NULL") == "t");
  }

  SUBCASE("a failing statement after E'' strings is named with its line") {
    project.file("1_fail.sql", "-- grant:up transaction=false\n"
                               "CREATE TABLE t (note text);\n"
                               "INSERT INTO t VALUES (E'a\\'; b');\n"
                               "INSERT INTO missing VALUES (1);\n");
    const auto run = project.grant({"migrate"});
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "1_fail.sql:4"));
    CHECK(contains(run.err, "statement: INSERT INTO missing VALUES (1);"));
  }

  SUBCASE("Flyway V/U files migrate and roll back; a V without U gets a Flyway hint") {
    project.file("V1__Create_users.sql", "CREATE TABLE users (id int PRIMARY KEY);\n");
    project.file("U1__Create_users.sql", "DROP TABLE users;\n");
    project.file("V2__Add_email.sql", "ALTER TABLE users ADD COLUMN email text;\n");
    auto run = project.grant({"migrate"});
    INFO(run.out, run.err);
    REQUIRE(run.exit_code == 0);
    CHECK(contains(run.out, "applied 1_create_users"));
    CHECK(project.scalar("SELECT string_agg(version || ':' || name, ',' ORDER BY version) FROM schema_migrations") ==
          "1:create_users,2:add_email");
    run = project.grant({"rollback"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "2_add_email"));
    CHECK(contains(run.err, "hint: create U2__Add_email.sql next to V2__Add_email.sql"));
    project.file("U2__Add_email.sql", "ALTER TABLE users DROP COLUMN email;\n");
    run = project.grant({"rollback", "--steps", "2"});
    CHECK(run.exit_code == 0);
    CHECK(project.scalar("SELECT to_regclass('users') IS NULL") == "t");
  }

  SUBCASE("golang-migrate: the hint asks for a .down.sql file") {
    project.file("000001_create_things.up.sql", "CREATE TABLE things (id int);\n");
    REQUIRE(project.grant({"migrate"}).exit_code == 0);
    const auto run = project.grant({"rollback"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "hint: create 000001_create_things.down.sql next to 000001_create_things.up.sql"));
    CHECK_FALSE(contains(run.err, "grant:down"));
  }
}

} // namespace grant_test_migrate_formats_test
