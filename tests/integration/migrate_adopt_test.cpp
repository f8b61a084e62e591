// Adopting other tools' tracking tables (golang-migrate, Flyway), the schema-qualified tracker,
// numeric row matching, and the commands users reach for when things go wrong: repair,
// rollback --all, redo, baseline, validate, and dry-run SQL that runs as printed. Through the
// built binary, on a fresh PostgreSQL database, on a SQLite file and on a fresh MariaDB database.
#include <grant/error.hpp>
#include <grant/util/sha256.hpp>

#include "support/project.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_migrate_adopt_test {

using grant::test::contains;

using namespace grant;
using grant::test::Project;
using grant::test::Table;

namespace {

using Strings = std::vector<std::string>;

std::string table_migration(const std::string& table) {
  return "-- grant:up\nCREATE TABLE " + table + " (id int);\n-- grant:down\nDROP TABLE " + table + ";\n";
}

std::string padded(int version) {
  auto text = std::to_string(version);
  return std::string(6 - text.size(), '0') + text;
}

// What golang-migrate leaves behind at `version`: its pairs, the tables they made, its one row.
void golang_migrate_at(const Project& project, int version, int files, bool dirty) {
  for (int v = 1; v <= files; ++v) {
    const auto table = "g" + std::to_string(v);
    // 1..version already ran: re-running them would fail on a table that is not there.
    project.file(padded(v) + "_create_" + table + ".up.sql",
                 v <= version ? "INSERT INTO never_created_" + table + " VALUES (1);\n"
                              : "CREATE TABLE " + table + " (id int);\n");
    project.file(padded(v) + "_create_" + table + ".down.sql", "DROP TABLE " + table + ";\n");
    if (v <= version) {
      project.execute("CREATE TABLE " + table + " (id int)");
    }
  }
  if (!project.sqlite()) { // golang-migrate's table on PostgreSQL and on MySQL
    project.execute("CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)");
  } else {
    project.execute("CREATE TABLE schema_migrations (version uint64, dirty bool); "
                    "CREATE UNIQUE INDEX version_unique ON schema_migrations (version)");
  }
  project.execute("INSERT INTO schema_migrations (version, dirty) VALUES (" + std::to_string(version) + ", " +
                  (dirty ? (project.sqlite() ? "1" : "true") : (project.sqlite() ? "0" : "false")) + ")");
}

void flyway_history(const Project& project) {
  const bool pg = !project.sqlite(); // Flyway's PostgreSQL and MySQL tables have the same types here
  project.execute(
      std::string("CREATE TABLE flyway_schema_history (installed_rank int PRIMARY KEY, version varchar(50), "
                  "description varchar(200) NOT NULL, type varchar(20) NOT NULL, script varchar(1000) NOT NULL, "
                  "checksum int, installed_by varchar(100) NOT NULL, installed_on ") +
      (pg ? "timestamp NOT NULL DEFAULT now()" : "text NOT NULL DEFAULT CURRENT_TIMESTAMP") +
      ", execution_time int NOT NULL, success " + (pg ? "boolean" : "bool") + " NOT NULL)");
  const std::string yes = pg ? "true" : "1";
  const std::string no = pg ? "false" : "0";
  project.execute("INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, "
                  "installed_by, execution_time, success) VALUES "
                  "(1, '1', 'create a', 'SQL', 'V1__create_a.sql', 12345, 'flyway', 3, " +
                  yes +
                  "), "
                  "(2, '2', 'create b', 'SQL', 'V2__create_b.sql', -4242, 'flyway', 4, " +
                  yes +
                  "), "
                  "(3, '3', 'create c', 'SQL', 'V3__create_c.sql', 999, 'flyway', 1, " +
                  no + ")");
  project.execute("CREATE TABLE a (id int); CREATE TABLE b (id int)");
}

std::string fails_if_run(const std::string& table) {
  return "-- grant:up\nINSERT INTO never_created VALUES (1);\n-- grant:down\nDROP TABLE " + table + ";\n";
}

void adoption_suite(Project& project) {
  SUBCASE("golang-migrate at 15 with 17 files: migrate applies 16 and 17 only, converting its table in place") {
    golang_migrate_at(project, 15, 17, false);
    // Read-only commands interpret the table without changing it.
    auto run = project.grant({"status", "--json"});
    INFO(run.out, run.err);
    REQUIRE(run.exit_code == 0);
    const auto status = nlohmann::json::parse(run.out);
    CHECK(status["targets"][0]["applied"].size() == 15);
    CHECK(status["targets"][0]["pending"].size() == 2);
    CHECK(project.grant({"validate"}).exit_code == 0);
    run = project.grant({"rollback", "--dry-run"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "DROP TABLE g15;"));
    CHECK(project.columns("schema_migrations") == Strings{"version", "dirty"});

    run = project.grant({"migrate"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "converted golang-migrate's schema_migrations (at version 15)"));
    CHECK(contains(run.out, "15 version(s) recorded as applied"));
    CHECK(contains(run.out, "applied 000016_create_g16"));
    CHECK(contains(run.out, "applied 000017_create_g17"));
    CHECK_FALSE(contains(run.out, "applied 000001"));
    CHECK(contains(run.out, "2 applied, at 000017"));
    CHECK(project.has_table("g17"));
    const auto rows = project.query("SELECT version, name, checksum FROM schema_migrations ORDER BY version");
    REQUIRE(rows.size() == 17);
    CHECK(rows[0] == Strings{"000001", "create_g1", "NULL"});
    CHECK(rows[14][2] == "NULL");
    CHECK(rows[16][2] == util::sha256_hex("CREATE TABLE g17 (id int);\n"));
    const auto columns = project.columns("schema_migrations");
    // golang-migrate's dirty column is gone; on MySQL grant's table has its own (DDL is not transactional there).
    CHECK((std::find(columns.begin(), columns.end(), "dirty") != columns.end()) == project.mysql());
    CHECK(std::find(columns.begin(), columns.end(), "checksum") != columns.end());

    // From now on grant's own table: a second run has nothing to do, rollback works.
    run = project.grant({"migrate"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "0 applied, at 000017"));
    CHECK(project.grant({"rollback", "--steps", "3"}).exit_code == 0);
    CHECK_FALSE(project.has_table("g15"));
    CHECK(project.applied().size() == 14);
  }

  SUBCASE("a dirty golang-migrate table is refused with the version and the fix, nothing touched") {
    golang_migrate_at(project, 15, 17, true);
    const auto run = project.grant({"migrate"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "dirty at version 15"));
    CHECK(contains(run.err, "force 15"));
    CHECK(contains(run.err, "dirty = false"));
    CHECK_FALSE(project.has_table("g16"));
    CHECK(project.columns("schema_migrations") == Strings{"version", "dirty"});
    CHECK(project.query("SELECT version FROM schema_migrations") == Table{{"15"}});
    const auto validate = project.grant({"validate"});
    CHECK(validate.exit_code == 1);
    CHECK(contains(validate.out, "dirty"));
    // status says so too: a refusal (exit 2), not an unreachable server.
    const auto status = project.grant({"status"});
    INFO(status.out, status.err);
    CHECK(status.exit_code == 2);
    CHECK(contains(status.out, "REFUSED"));
    CHECK(contains(status.err, "dirty at version 15"));
  }

  SUBCASE("Flyway's history counts (successful rows only) and stays untouched") {
    flyway_history(project);
    project.file("1_create_a.sql", fails_if_run("a"));
    project.file("2_create_b.sql", fails_if_run("b"));
    project.file("3_create_c.sql", table_migration("c"));
    project.file("4_create_d.sql", table_migration("d"));
    const auto before = project.query("SELECT * FROM flyway_schema_history ORDER BY installed_rank");
    auto run = project.grant({"status", "--json"});
    REQUIRE(run.exit_code == 0);
    CHECK(nlohmann::json::parse(run.out)["targets"][0]["pending"].size() == 2);

    run = project.grant({"migrate"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "applied 3_create_c"));
    CHECK(contains(run.out, "applied 4_create_d"));
    CHECK_FALSE(contains(run.out, "create_a"));
    CHECK(project.applied() == Strings{"3", "4"});
    CHECK(project.query("SELECT * FROM flyway_schema_history ORDER BY installed_rank") == before);
    CHECK(project.grant({"validate"}).exit_code == 0);

    // Grant's own rows roll back; Flyway's are refused before anything is reverted.
    run = project.grant({"rollback", "--steps", "3"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "Flyway applied it"));
    CHECK(project.has_table("d"));
    CHECK(project.grant({"rollback", "--steps", "2"}).exit_code == 0);
    CHECK(project.applied().empty());
    CHECK(project.query("SELECT * FROM flyway_schema_history ORDER BY installed_rank") == before);

    // repair gives Flyway's versions rows of grant's own, with the files' checksums.
    run = project.grant({"repair"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "2 row(s) repaired"));
    CHECK(project.applied() == Strings{"1", "2"});
    CHECK(project.query("SELECT checksum FROM schema_migrations WHERE version = '1'")[0][0] ==
          util::sha256_hex("INSERT INTO never_created VALUES (1);\n"));
    CHECK(project.query("SELECT * FROM flyway_schema_history ORDER BY installed_rank") == before);
  }

  SUBCASE("rows match versions numerically: rolling back 1_a removes the row '001'") {
    project.file("1_a.sql", table_migration("a"));
    REQUIRE(project.grant({"migrate"}).exit_code == 0);
    project.execute("UPDATE schema_migrations SET version = '001'");
    auto run = project.grant({"rollback"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "reverted 1_a"));
    CHECK(project.applied().empty());
    CHECK_FALSE(project.has_table("a"));
  }

  SUBCASE("a down that deletes no tracking row fails, rolled back where DDL is transactional") {
    project.file("1_a.sql", "-- grant:up\nCREATE TABLE a (id int);\n-- grant:down\nDROP TABLE a;\n"
                            "DELETE FROM schema_migrations;\n");
    REQUIRE(project.grant({"migrate"}).exit_code == 0);
    const auto run = project.grant({"rollback"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "deleted no row of schema_migrations"));
    if (project.mysql()) {
      // MySQL committed the DROP and the down section's own DELETE: grant says so, never "rolled back".
      CHECK(contains(run.err, "the down section stays applied (MySQL commits DDL as it runs)"));
      CHECK_FALSE(contains(run.err, "rolled back"));
      CHECK_FALSE(project.has_table("a"));
      CHECK(project.applied().empty());
    } else {
      CHECK(contains(run.err, "rolled back"));
      CHECK(project.has_table("a"));
      CHECK(project.applied() == Strings{"1"});
    }
  }

  SUBCASE("repair records edited checksums and adopted rows' checksums; --forget-missing drops rows") {
    project.execute("CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY)");
    project.execute("INSERT INTO schema_migrations (version) VALUES ('1')");
    project.execute("CREATE TABLE a (id int)");
    project.file("1_a.sql", table_migration("a"));
    project.file("2_b.sql", table_migration("b"));
    project.file("3_c.sql", table_migration("c"));
    REQUIRE(project.grant({"migrate"}).exit_code == 0);
    project.file("2_b.sql", "-- grant:up\nCREATE TABLE b (id bigint);\n-- grant:down\nDROP TABLE b;\n");
    project.remove_file("3_c.sql");
    REQUIRE(project.grant({"validate"}).exit_code == 1);

    auto run = project.grant({"repair", "--dry-run"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "1_a: checksum unknown -> "));
    CHECK(contains(run.out, "2_b: checksum "));
    CHECK(contains(run.out, "2 row(s) to repair"));
    CHECK(project.query("SELECT checksum FROM schema_migrations WHERE version = '1'")[0][0] == "NULL");

    run = project.grant({"repair"});
    CHECK(run.exit_code == 0);
    CHECK(project.query("SELECT checksum FROM schema_migrations WHERE version = '1'")[0][0] ==
          util::sha256_hex("CREATE TABLE a (id int);\n"));
    CHECK(project.query("SELECT checksum FROM schema_migrations WHERE version = '2'")[0][0] ==
          util::sha256_hex("CREATE TABLE b (id bigint);\n"));
    run = project.grant({"validate", "--json"});
    CHECK(run.exit_code == 1); // 3 is still applied without a file
    const auto problems = nlohmann::json::parse(run.out)["problems"];
    REQUIRE(problems.size() == 1);
    CHECK(problems[0]["kind"] == "missing_file");

    run = project.grant({"repair", "--forget-missing", "--json"});
    CHECK(run.exit_code == 0);
    const auto document = nlohmann::json::parse(run.out);
    CHECK(document["targets"][0]["steps"][0]["action"] == "forgotten");
    CHECK(project.applied() == Strings{"1", "2"});
    CHECK(project.grant({"validate"}).exit_code == 0);
    CHECK(contains(project.grant({"repair"}).out, "nothing to repair"));
  }

  SUBCASE("rollback --all reverts everything; redo reverts and re-applies the newest") {
    for (const auto* name : {"1_a", "2_b", "3_c"}) {
      project.file(std::string(name) + ".sql", table_migration(std::string(1, name[2])));
    }
    REQUIRE(project.grant({"migrate"}).exit_code == 0);
    project.execute("INSERT INTO c VALUES (1)");
    auto run = project.grant({"redo", "--json"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    const auto steps = nlohmann::json::parse(run.out)["targets"][0]["steps"];
    REQUIRE(steps.size() == 2);
    CHECK(steps[0]["version"] == "3");
    CHECK(steps[1]["version"] == "3");
    CHECK(project.query("SELECT count(*) FROM c")[0][0] == "0");
    run = project.grant({"redo"});
    CHECK(contains(run.out, "1 redone, at 3"));

    run = project.grant({"rollback", "--all"});
    CHECK(run.exit_code == 0);
    CHECK(run.out.find("reverted 3_c") < run.out.find("reverted 1_a"));
    CHECK(contains(run.out, "3 reverted, no version applied"));
    CHECK(project.applied().empty());
    CHECK_FALSE(project.has_table("a"));
    CHECK(project.grant({"rollback", "--all", "--steps", "2"}).exit_code == 2);
  }

  SUBCASE("baseline refuses a version no file has, before touching anything") {
    project.file("1_a.sql", table_migration("a"));
    project.file("3_c.sql", table_migration("c"));
    auto run = project.grant({"baseline", "--version", "2"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "--version 2: no migration file of database app has that version"));
    CHECK_FALSE(project.has_table("schema_migrations"));
    run = project.grant({"baseline", "--version", "3"});
    CHECK(run.exit_code == 0);
    CHECK(project.applied() == Strings{"1", "3"});
  }

  SUBCASE("dry-run SQL runs as printed, for migrate and rollback") {
    project.file("1_a.sql", table_migration("a"));
    project.file("2_b.sql", "-- grant:up\nCREATE TABLE b (id int);\nINSERT INTO b VALUES (42);\n"
                            "-- grant:down\nDROP TABLE b;\n");
    auto run = project.grant({"migrate", "--dry-run"});
    INFO(run.out, run.err);
    REQUIRE(run.exit_code == 0);
    CHECK_FALSE(contains(run.out, "..."));
    CHECK(project.run_script(run.out) == 0);
    CHECK(project.query("SELECT id FROM b") == Table{{"42"}});
    CHECK(project.applied() == Strings{"1", "2"});
    run = project.grant({"migrate"});
    CHECK(contains(run.out, "0 applied, at 2"));
    CHECK(project.grant({"validate"}).exit_code == 0);

    run = project.grant({"rollback", "--dry-run", "--all"});
    REQUIRE(run.exit_code == 0);
    CHECK(project.run_script(run.out) == 0);
    CHECK(project.applied().empty());
    CHECK_FALSE(project.has_table("b"));
  }
}

} // namespace

TEST_CASE("migrate::adoption") {
  SUBCASE("postgres") {
    Project project(grant::test::Engine::postgres, "mig_adopt");
    adoption_suite(project);
  }
  SUBCASE("sqlite") {
    Project project(grant::test::Engine::sqlite, "mig_adopt");
    adoption_suite(project);
  }
  SUBCASE("mysql") {
    Project project(grant::test::Engine::mysql, "mig_adopt");
    adoption_suite(project);
  }
}

TEST_CASE("migrate::tracker_postgres") {
  Project project(grant::test::Engine::postgres, "mig_adopt");

  SUBCASE("a migration that empties search_path cannot break the tracking insert") {
    project.file("1_dump.sql", "-- grant:up\nSELECT pg_catalog.set_config('search_path', '', false);\n"
                               "CREATE TABLE public.dumped (id int);\n");
    project.file("2_next.sql", "-- grant:up\nCREATE TABLE public.after_dump (id int);\n");
    const auto run = project.grant({"migrate"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 0);
    CHECK(project.query("SELECT version FROM public.schema_migrations ORDER BY version") == Table{{"1"}, {"2"}});
  }

  SUBCASE("a search_path naming no existing schema is a clear error before anything runs") {
    const auto dbname = project.query("SELECT current_database()")[0][0];
    project.execute("ALTER DATABASE \"" + dbname + "\" SET search_path = nowhere");
    project.file("1_a.sql", "-- grant:up\nCREATE TABLE public.a (id int);\n");
    const auto run = project.grant({"migrate"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "current_schema() is NULL"));
    CHECK(project.query("SELECT to_regclass('public.a') IS NULL")[0][0] == "t");
  }

  SUBCASE("the tracking table lives in the schema current when grant started") {
    const auto dbname = project.query("SELECT current_database()")[0][0];
    project.execute("CREATE SCHEMA app; ALTER DATABASE \"" + dbname + "\" SET search_path = app");
    project.file("1_a.sql", "-- grant:up\nSELECT pg_catalog.set_config('search_path', 'public', false);\n"
                            "CREATE TABLE a (id int);\n");
    CHECK(project.grant({"migrate"}).exit_code == 0);
    CHECK(project.query("SELECT count(*) FROM app.schema_migrations")[0][0] == "1");
    CHECK(project.query("SELECT to_regclass('public.schema_migrations') IS NULL")[0][0] == "t");
  }

  SUBCASE("baseline writes its rows in one transaction") {
    project.file("1_a.sql", table_migration("a"));
    project.file("2_b.sql", table_migration("b"));
    project.execute(
        "CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY, name text, checksum text, "
        "applied_at timestamptz, execution_ms bigint, applied_by text);"
        "CREATE FUNCTION refuse_two() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.version = '2' THEN RAISE EXCEPTION 'no 2 today'; END IF; RETURN NEW; END $$;"
        "CREATE TRIGGER refuse_two BEFORE INSERT ON schema_migrations FOR EACH ROW EXECUTE FUNCTION refuse_two()");
    const auto run = project.grant({"baseline", "--version", "2"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "no 2 today"));
    CHECK(project.applied().empty());
  }

  SUBCASE("validate flags an INVALID index left by a failed CREATE INDEX CONCURRENTLY") {
    project.execute("CREATE TABLE users (email text); INSERT INTO users VALUES ('x'), ('x')");
    try {
      project.execute("CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email)");
    } catch (const Error&) {
      // expected: duplicate key, leaving the index INVALID
    }
    REQUIRE(project.query("SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_key'::regclass")[0][0] ==
            "f");
    auto run = project.grant({"validate"});
    INFO(run.out, run.err);
    CHECK(run.exit_code == 1);
    CHECK(contains(run.out, "invalid_index"));
    CHECK(contains(run.out, "\"public\".\"users_email_key\" on \"public\".\"users\""));
    CHECK(contains(run.out, "DROP INDEX CONCURRENTLY \"public\".\"users_email_key\""));
    run = project.grant({"validate", "--json"});
    CHECK(nlohmann::json::parse(run.out)["problems"][0]["kind"] == "invalid_index");
    project.execute("DROP INDEX CONCURRENTLY users_email_key");
    CHECK(project.grant({"validate"}).exit_code == 0);
  }
}

} // namespace grant_test_migrate_adopt_test
