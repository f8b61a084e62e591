// `grant migrate / rollback / redo / baseline / validate / status` on one database, driven
// through the built binary exactly as a user would, on a fresh PostgreSQL database, on a SQLite
// file in a temporary folder and on a fresh MariaDB database.
#include <grant/util/sha256.hpp>

#include "support/project.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include <set>

#include <unistd.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_migrate_apply_test {

using grant::test::contains;

using namespace grant;
using grant::test::Project;

namespace {

std::string table_migration(const std::string& table) {
  return "-- grant:up\nCREATE TABLE " + table + " (id int);\n-- grant:down\nDROP TABLE " + table + ";\n";
}

using Strings = std::vector<std::string>;

void single_database_suite(Project& project) {
  SUBCASE("migrate applies in numeric order and records every column; a second run applies nothing") {
    project.file("1_create_users.sql", "-- grant:up\nCREATE TABLE users (id int PRIMARY KEY, email text);\n"
                                       "-- grant:down\nDROP TABLE users;\n");
    project.file("2_create_posts.sql", table_migration("posts"));
    project.file("10_create_tags.sql", table_migration("tags"));
    const auto started = std::chrono::steady_clock::now();
    auto run = project.grant({"migrate"});
    const auto run_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "applied 1_create_users"));
    CHECK(run.out.find("applied 2_create_posts") < run.out.find("applied 10_create_tags"));
    CHECK(project.has_table("users"));
    CHECK(project.has_table("tags"));
    const auto rows = project.query("SELECT version, name, checksum, applied_at, execution_ms, applied_by "
                                    "FROM schema_migrations ORDER BY length(version), version");
    REQUIRE(rows.size() == 3);
    CHECK(rows[0][0] == "1");
    CHECK(rows[0][1] == "create_users");
    CHECK(rows[0][2] == util::sha256_hex("CREATE TABLE users (id int PRIMARY KEY, email text);\n"));
    CHECK(rows[0][3] != "NULL");
    // Milliseconds of this run, not garbage or another unit: the three add up to at most the
    // process's own lifetime (the lower bound, pg_sleep taking its time, is in migrate_session_test).
    CHECK(std::stoll(rows[0][4]) >= 0);
    CHECK(std::stoll(rows[0][4]) + std::stoll(rows[1][4]) + std::stoll(rows[2][4]) <= run_ms);
    CHECK(contains(rows[0][5], "@"));
    CHECK(rows[2][0] == "10");
    CHECK(rows[2][1] == "create_tags");

    run = project.grant({"migrate"});
    CHECK(run.exit_code == 0);
    CHECK_FALSE(contains(run.out, "applied 1_"));
    CHECK(contains(run.out, "0 applied, at 10"));
    CHECK(project.applied() == Strings{"1", "2", "10"});
  }

  SUBCASE("a failing migration leaves no trace (or, where DDL is not transactional, a dirty version), earlier ones "
          "stay; re-running after the fix continues") {
    project.file("1_a.sql", table_migration("a"));
    project.file("2_b.sql", table_migration("b"));
    project.file("3_c.sql", "-- grant:up\nCREATE TABLE c (id int);\nINSERT INTO c VALUES (1);\n"
                            "INSERT INTO c_typo VALUES (2);\n-- grant:down\nDROP TABLE c;\n");
    project.file("4_d.sql", table_migration("d"));
    auto run = project.grant({"migrate"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(project.applied() == Strings{"1", "2"});
    CHECK(project.has_table("b"));
    CHECK_FALSE(project.has_table("d"));
    CHECK(contains(run.err, "grant: error: app: migration 3_c failed"));
    CHECK(contains(run.err, "c_typo"));
    CHECK(contains(run.err, "3_c.sql:4"));
    CHECK(contains(run.out, "FAILED"));
    if (project.mysql()) {
      // MySQL commits DDL as it runs: the table stays, grant says so and records the version as dirty.
      CHECK(project.has_table("c"));
      CHECK(contains(run.err, "applied: statements 1-2 of 3 stay applied"));
      CHECK_FALSE(contains(run.err, "nothing was applied"));
      CHECK(project.scalar("SELECT count(*) FROM schema_migrations WHERE version = '3' AND dirty") == "1");
    } else {
      CHECK_FALSE(project.has_table("c"));
    }

    // The fixed file (safe to run again where the first attempt left its table) continues.
    project.file("3_c.sql", "-- grant:up\nCREATE TABLE IF NOT EXISTS c (id int);\nDELETE FROM c;\n"
                            "INSERT INTO c VALUES (1);\nINSERT INTO c VALUES (2);\n-- grant:down\nDROP TABLE c;\n");
    run = project.grant({"migrate"});
    CHECK(run.exit_code == 0);
    CHECK(project.applied() == Strings{"1", "2", "3", "4"});
    CHECK(project.query("SELECT count(*) FROM c")[0][0] == "2");
  }

  SUBCASE("an error without a position still points at the failing statement's line") {
    project.file("1_a.sql", table_migration("a"));
    project.file("2_again.sql", "-- grant:up\nCREATE TABLE b (id int);\n\n-- oops\nCREATE TABLE a (id int);\n");
    const auto run = project.grant({"migrate"});
    INFO(run.err);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "2_again.sql:5"));
    CHECK(contains(run.err, "CREATE TABLE a"));
    CHECK(project.has_table("b") == project.mysql()); // MySQL committed the first CREATE TABLE and says so
    CHECK(contains(run.err, "statements 1-1 of 2 stay applied") == project.mysql());
  }

  SUBCASE("rollback --steps and --to revert newest first") {
    for (const auto* name : {"1_a", "2_b", "3_c", "4_d"}) {
      project.file(std::string(name) + ".sql", table_migration(std::string(1, name[2])));
    }
    REQUIRE(project.grant({"migrate"}).exit_code == 0);
    auto run = project.grant({"rollback"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "reverted 4_d"));
    CHECK_FALSE(project.has_table("d"));
    CHECK(project.applied() == Strings{"1", "2", "3"});

    run = project.grant({"rollback", "--steps", "2"});
    CHECK(run.exit_code == 0);
    CHECK(run.out.find("reverted 3_c") < run.out.find("reverted 2_b"));
    CHECK(project.applied() == Strings{"1"});
    CHECK(project.has_table("a"));
    CHECK_FALSE(project.has_table("b"));

    REQUIRE(project.grant({"migrate"}).exit_code == 0);
    run = project.grant({"rollback", "--to", "2"});
    CHECK(run.exit_code == 0);
    CHECK(project.applied() == Strings{"1", "2"});
    CHECK(project.has_table("b"));
    CHECK_FALSE(project.has_table("c"));

    run = project.grant({"rollback", "--dry-run", "--steps", "2"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "DROP TABLE b;"));
    CHECK(contains(run.out, "DROP TABLE a;"));
    CHECK(project.applied() == Strings{"1", "2"});
    CHECK(project.has_table("a"));
  }

  SUBCASE("a migration without a down section stops the rollback before anything is reverted") {
    project.file("1_a.sql", table_migration("a"));
    project.file("2_b.sql", "-- grant:up\nCREATE TABLE b (id int);\n");
    project.file("3_c.sql", table_migration("c"));
    REQUIRE(project.grant({"migrate"}).exit_code == 0);
    const auto run = project.grant({"rollback", "--steps", "3"});
    INFO(run.err);
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "2_b"));
    CHECK(contains(run.err, "no down section"));
    CHECK(project.applied() == Strings{"1", "2", "3"});
    CHECK(project.has_table("c"));
  }

  SUBCASE("redo reverts the newest and applies it again") {
    project.file("1_a.sql", table_migration("a"));
    project.file("2_b.sql", table_migration("b"));
    REQUIRE(project.grant({"migrate"}).exit_code == 0);
    project.query("INSERT INTO b VALUES (1)");
    const auto run = project.grant({"redo"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "reverted 2_b"));
    CHECK(contains(run.out, "applied 2_b"));
    CHECK(project.query("SELECT count(*) FROM b")[0][0] == "0");
    CHECK(project.applied() == Strings{"1", "2"});
  }

  SUBCASE("baseline marks old versions applied without running them") {
    project.query("CREATE TABLE a (id int)");
    project.query("CREATE TABLE b (id int)");
    project.file("1_a.sql", table_migration("a"));
    project.file("2_b.sql", table_migration("b"));
    project.file("3_c.sql", table_migration("c"));
    auto run = project.grant({"baseline", "--version", "2"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(project.applied() == Strings{"1", "2"});
    CHECK_FALSE(project.has_table("c"));
    run = project.grant({"migrate"});
    CHECK(run.exit_code == 0);
    CHECK_FALSE(contains(run.out, "applied 1_a"));
    CHECK(contains(run.out, "applied 3_c"));
    CHECK(project.applied() == Strings{"1", "2", "3"});
  }

  SUBCASE("validate reports drift, applied versions without a file, and out-of-order pending") {
    project.file("10_a.sql", table_migration("a"));
    project.file("20_b.sql", table_migration("b"));
    project.file("30_c.sql", table_migration("c"));
    REQUIRE(project.grant({"migrate"}).exit_code == 0);
    auto run = project.grant({"validate"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "ok"));

    project.file("20_b.sql", "-- grant:up\nCREATE TABLE b (id bigint);\n-- grant:down\nDROP TABLE b;\n");
    project.remove_file("30_c.sql");
    project.file("25_late.sql", table_migration("late"));
    run = project.grant({"validate"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 1);
    CHECK(contains(run.out, "checksum_drift"));
    CHECK(contains(run.out, "20_b"));
    CHECK(contains(run.out, "missing_file"));
    CHECK(contains(run.out, "30"));
    CHECK(contains(run.out, "out_of_order"));
    CHECK(contains(run.out, "25_late"));

    run = project.grant({"validate", "--json"});
    CHECK(run.exit_code == 1);
    const auto document = nlohmann::json::parse(run.out);
    CHECK(document["ok"] == false);
    std::set<std::string> kinds;
    for (const auto& problem : document["problems"]) {
      kinds.insert(problem["kind"].get<std::string>());
    }
    CHECK(kinds == std::set<std::string>{"checksum_drift", "missing_file", "out_of_order"});

    run = project.grant({"migrate"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "25_late"));
    CHECK(contains(run.err, "--allow-out-of-order"));
    CHECK_FALSE(project.has_table("late"));
    run = project.grant({"migrate", "--allow-out-of-order"});
    CHECK(run.exit_code == 0);
    CHECK(project.has_table("late"));
  }

  SUBCASE("status: pending per target, --exit-code for CI, --json is one document") {
    project.file("1_a.sql", table_migration("a"));
    project.file("2_b.sql", table_migration("b"));
    REQUIRE(project.grant({"migrate", "--to", "1"}).exit_code == 0);
    auto run = project.grant({"status"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "1 applied, 1 pending, at 1"));
    CHECK(contains(run.out, "pending  2_b"));
    CHECK(project.grant({"status", "--exit-code"}).exit_code == 1);
    run = project.grant({"status", "--json"});
    CHECK(run.exit_code == 0);
    const auto document = nlohmann::json::parse(run.out);
    CHECK(document["pending"] == 1);
    CHECK(document["targets"][0]["current_version"] == "1");
    CHECK(document["targets"][0]["pending"][0]["version"] == "2");
    REQUIRE(project.grant({"migrate"}).exit_code == 0);
    CHECK(project.grant({"status", "--exit-code"}).exit_code == 0);
  }

  SUBCASE("--dry-run prints the SQL and changes nothing") {
    project.file("1_a.sql", table_migration("a"));
    project.file("2_b.sql", "-- grant:up\nCREATE TABLE b (id int);\nINSERT INTO b VALUES (42);\n");
    auto run = project.grant({"migrate", "--dry-run"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "CREATE TABLE a (id int);"));
    CHECK(contains(run.out, "INSERT INTO b VALUES (42);"));
    CHECK(contains(run.out, "2 would be applied"));
    CHECK_FALSE(project.has_table("schema_migrations"));
    CHECK_FALSE(project.has_table("a"));
    if (project.sqlite()) {
      CHECK_FALSE(std::filesystem::exists(project.dir / "db/app.sqlite3"));
    }
    run = project.grant({"migrate", "--dry-run", "--json"});
    CHECK(run.exit_code == 0);
    CHECK(nlohmann::json::parse(run.out)["targets"][0]["steps"].size() == 2);
  }

  SUBCASE("--to applies up to a version; a version with no file is refused before anything runs") {
    project.file("1_a.sql", table_migration("a"));
    project.file("2_b.sql", table_migration("b"));
    project.file("3_c.sql", table_migration("c"));
    auto run = project.grant({"migrate", "--to", "5"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "--to 5"));
    CHECK(project.applied().empty());
    CHECK_FALSE(project.has_table("a"));
    run = project.grant({"migrate", "--to", "2"});
    CHECK(run.exit_code == 0);
    CHECK(project.applied() == Strings{"1", "2"});
  }

  SUBCASE("an existing dbmate schema_migrations table is adopted in place") {
    project.query("CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY)");
    project.query("INSERT INTO schema_migrations (version) VALUES ('20230101000000'), ('20230101000001')");
    project.query("CREATE TABLE things (id int)");
    project.query("CREATE TABLE widgets (id int)");
    project.file("20230101000000_create_things.sql", "-- migrate:up\nCREATE TABLE things (id int);\n\n"
                                                     "-- migrate:down\nDROP TABLE things;\n");
    project.file("20230101000001_create_widgets.sql", "-- migrate:up\nCREATE TABLE widgets (id int);\n");
    project.file("20230101000002_create_gadgets.sql", "-- migrate:up\nCREATE TABLE gadgets (id int);\n\n"
                                                      "-- migrate:down\nDROP TABLE gadgets;\n");
    auto run = project.grant({"migrate"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK_FALSE(contains(run.out, "create_things"));
    CHECK(contains(run.out, "applied 20230101000002_create_gadgets"));
    CHECK(project.has_table("gadgets"));
    const auto rows = project.query("SELECT version, checksum FROM schema_migrations ORDER BY version");
    REQUIRE(rows.size() == 3);
    CHECK(rows[0][1] == "NULL");
    CHECK(rows[2][1] != "NULL");
    CHECK(project.grant({"validate"}).exit_code == 0);
    run = project.grant({"status", "--json"});
    CHECK(nlohmann::json::parse(run.out)["targets"][0]["applied"][0]["checksum"].is_null());
    // Rolling back the adopted gadgets works; the dbmate history stays.
    CHECK(project.grant({"rollback"}).exit_code == 0);
    CHECK(project.applied() == Strings{"20230101000000", "20230101000001"});
  }

  SUBCASE("golang-migrate pairs apply and roll back") {
    project.file("000001_create_users.up.sql", "CREATE TABLE users (id int);\n");
    project.file("000001_create_users.down.sql", "DROP TABLE users;\n");
    CHECK(project.grant({"migrate"}).exit_code == 0);
    CHECK(project.has_table("users"));
    CHECK(project.grant({"rollback"}).exit_code == 0);
    CHECK_FALSE(project.has_table("users"));
    CHECK(project.applied().empty());
  }

  SUBCASE("a bad file in another database's folder: exit 2 and nothing applied anywhere") {
    project.file("1_a.sql", table_migration("a"));
    project.config()["databases"]["other"] = {{"url", "sqlite3:db/other.sqlite3"}, {"migrations", "db/migrate/other"}};
    project.save();
    project.dir.write("db/migrate/other/1_ok.sql", table_migration("ok"));
    project.dir.write("db/migrate/other/2_bad.sql", "-- grant:up\nSELECT 1;\n-- grant:upp\n");
    const auto run = project.grant({"migrate"});
    INFO(run.err);
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "2_bad.sql:3"));
    CHECK(contains(run.err, "did you mean"));
    CHECK_FALSE(project.has_table("schema_migrations"));
    CHECK_FALSE(project.has_table("a"));
    CHECK_FALSE(std::filesystem::exists(project.dir / "db/other.sqlite3"));
  }
}

} // namespace

TEST_CASE("migrate::single_database") {
  SUBCASE("postgres") {
    Project project(grant::test::Engine::postgres, "mig_apply");
    single_database_suite(project);
  }
  SUBCASE("sqlite") {
    Project project(grant::test::Engine::sqlite, "mig_apply");
    single_database_suite(project);
  }
  SUBCASE("mysql") {
    Project project(grant::test::Engine::mysql, "mig_apply");
    single_database_suite(project);
  }
}

TEST_CASE("migrate::postgres_only") {
  Project project(grant::test::Engine::postgres, "mig_apply");

  SUBCASE("transaction=false runs CREATE INDEX CONCURRENTLY; inside a transaction it fails cleanly") {
    project.file("1_users.sql", "-- grant:up\nCREATE TABLE users (id int, email text);\n"
                                "-- grant:down\nDROP TABLE users;\n");
    project.file("2_index.sql", "-- grant:up transaction=false\n"
                                "CREATE INDEX CONCURRENTLY users_email ON users (email);\n"
                                "CREATE INDEX CONCURRENTLY users_id ON users (id);\n"
                                "-- grant:down transaction=false\nDROP INDEX CONCURRENTLY users_email;\n"
                                "DROP INDEX CONCURRENTLY users_id;\n");
    auto run = project.grant({"migrate"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(project.query("SELECT count(*) FROM pg_indexes WHERE tablename = 'users'")[0][0] == "2");
    CHECK(project.query("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email'::regclass")[0][0] == "t");
    CHECK(project.grant({"rollback"}).exit_code == 0);
    CHECK(project.query("SELECT count(*) FROM pg_indexes WHERE tablename = 'users'")[0][0] == "0");
    CHECK(project.applied() == Strings{"1"});

    project.file("3_wrong.sql", "-- grant:up\nCREATE INDEX CONCURRENTLY users_email2 ON users (email);\n");
    // The lint before migrate stops it before anything runs; without it, the server refuses it.
    run = project.grant({"migrate"});
    CHECK(run.exit_code == 1);
    CHECK(contains(run.err, "3_wrong.sql:2:1: error [concurrently-in-transaction]"));
    CHECK(contains(run.err, "nothing was applied"));
    CHECK(project.applied() == Strings{"1"});
    run = project.grant({"migrate", "--no-lint"});
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "--no-lint: the pending migrations were not linted"));
    CHECK(contains(run.err, "3_wrong.sql:2"));
    CHECK(project.applied() == Strings{"1", "2"});
  }

  SUBCASE("a failing transaction=false statement names its own line") {
    project.file("1_users.sql", "-- grant:up\nCREATE TABLE users (id int);\n");
    project.file("2_index.sql", "-- grant:up transaction=false\n"
                                "CREATE INDEX CONCURRENTLY users_id ON users (id);\n"
                                "\n"
                                "CREATE INDEX CONCURRENTLY users_email ON users (email);\n");
    const auto run = project.grant({"migrate"});
    INFO(run.err);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "2_index.sql:4"));
    CHECK(contains(run.err, "email"));
    // Not recorded: after fixing the file, re-running continues (IF NOT EXISTS makes it idempotent).
    CHECK(project.applied() == Strings{"1"});
    project.file("2_index.sql", "-- grant:up transaction=false\n"
                                "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_id ON users (id);\n");
    CHECK(project.grant({"migrate"}).exit_code == 0);
    CHECK(project.applied() == Strings{"1", "2"});
  }

  SUBCASE("a replica URL as the database url is refused, nothing changes") {
    const std::string table = "replica_probe_" + std::to_string(getpid());
    project.config()["databases"]["app"]["url"] = test::replica_url();
    project.config()["databases"]["app"]["migrations_table"] = table + "_migrations";
    project.save();
    project.file("1_probe.sql", table_migration(table));
    const auto run = project.grant({"migrate"});
    INFO(run.err);
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "recovery"));
    CHECK_FALSE(contains(run.err, "grant-test-secret"));
    const auto writer = test::writer_url();
    CHECK(project.query_at(writer, "SELECT to_regclass('" + table + "') IS NULL AND to_regclass('" + table +
                                       "_migrations') IS NULL")[0][0] == "t");
  }
}

} // namespace grant_test_migrate_apply_test
