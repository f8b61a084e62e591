// SQLite and foreign keys, on real files: enforcement follows SQLite's default (off) unless the
// config asks; a migration that rebuilds a parent table (create, copy, drop, rename) never
// fires ON DELETE CASCADE on its children; violations left by a migration fail it. And a
// transaction whose COMMIT met SQLITE_BUSY is rolled back, not left open on the connection.
#include <grant/db/connection.hpp>
#include <grant/db/sqlite_foreign_keys.hpp>

#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_sqlite_foreign_keys_test {

using grant::test::contains;
using grant::test::TempDir;
using namespace grant;

namespace {

class SqliteProject {
public:
  explicit SqliteProject(bool foreign_keys) {
    nlohmann::json database{{"url", "sqlite3:db/app.sqlite3"}, {"migrations", "db/migrate/app"}};
    if (foreign_keys) {
      database["sqlite"] = {{"foreign_keys", true}};
    }
    nlohmann::json config;
    config["databases"]["app"] = database;
    dir.write("grant.json", config.dump(2));
    std::filesystem::create_directories(dir / "db/migrate/app");
  }

  TempDir dir;

  void file(const std::string& name, const std::string& text) const { dir.write("db/migrate/app/" + name, text); }
  test::RunResult grant(const std::vector<std::string>& args) const { return test::run_grant(args, dir.path()); }
  std::string scalar(const std::string& sql) const {
    auto connection = db::connect(util::parse_database_url("sqlite3:db/app.sqlite3", dir.path()), {"test", 5000, "t"});
    return connection->query(sql).scalar().value_or("NULL");
  }
};

const char* const k_schema = "-- grant:up\n"
                             "CREATE TABLE parent (id integer PRIMARY KEY, name text);\n"
                             "CREATE TABLE child (id integer PRIMARY KEY,\n"
                             "  parent_id integer NOT NULL REFERENCES parent (id) ON DELETE CASCADE);\n"
                             "INSERT INTO parent VALUES (1, 'a'), (2, 'b');\n"
                             "INSERT INTO child VALUES (10, 1), (11, 1), (12, 2);\n"
                             "-- grant:down\n"
                             "DROP TABLE child;\nDROP TABLE parent;\n";

// SQLite's recipe for a change ALTER TABLE cannot make: new table, copy, drop, rename.
const char* const k_rebuild = "-- grant:up\n"
                              "CREATE TABLE parent_new (id integer PRIMARY KEY, name text NOT NULL DEFAULT '');\n"
                              "INSERT INTO parent_new SELECT id, coalesce(name, '') FROM parent;\n"
                              "DROP TABLE parent;\n"
                              "ALTER TABLE parent_new RENAME TO parent;\n";

} // namespace

TEST_CASE("sqlite::foreign keys and the table-rebuild recipe") {
  for (const bool foreign_keys : {false, true}) {
    CAPTURE(foreign_keys);
    SqliteProject project(foreign_keys);
    project.file("1_schema.sql", k_schema);
    project.file("2_rebuild_parent.sql", k_rebuild);
    const auto run = project.grant({"migrate"});
    INFO(run.out, run.err);
    REQUIRE(run.exit_code == 0);
    CHECK(project.scalar("SELECT count(*) FROM child") == "3");
    CHECK(project.scalar("SELECT count(*) FROM parent") == "2");
    CHECK(project.scalar("SELECT count(*) FROM pragma_foreign_key_check") == "0");

    // A migration that leaves children without their parent.
    project.file("3_orphan.sql", "-- grant:up\nDELETE FROM parent WHERE id = 2;\n");
    const auto orphan = project.grant({"migrate"});
    INFO(orphan.out, orphan.err);
    if (foreign_keys) {
      // Enforced: the violation fails the migration, naming table and rowid, and nothing stays.
      CHECK(orphan.exit_code == 3);
      CHECK(contains(orphan.err, "app: migration 3_orphan"));
      CHECK(contains(orphan.err, "table child rowid 12 references missing rows of parent"));
      CHECK(project.scalar("SELECT count(*) FROM parent") == "2");
      CHECK(project.scalar("SELECT count(*) FROM schema_migrations") == "2");
    } else {
      // SQLite's default: foreign keys are not enforced, so neither cascade nor check happens.
      CHECK(orphan.exit_code == 0);
      CHECK(project.scalar("SELECT count(*) FROM child") == "3");
    }
  }
}

TEST_CASE("sqlite::SqliteForeignKeysOff") {
  TempDir dir;
  const auto url = util::parse_database_url("sqlite3:fk.sqlite3", dir.path());
  db::ConnectOptions options{"fk", 1000, "grant"};

  SUBCASE("the adapter follows SQLite's default unless asked") {
    CHECK(db::connect(url, options)->query("PRAGMA foreign_keys").scalar() == db::Value("0"));
    options.sqlite_foreign_keys = true;
    CHECK(db::connect(url, options)->query("PRAGMA foreign_keys").scalar() == db::Value("1"));
  }
  SUBCASE("off while the guard lives, back on after; nothing to do when already off") {
    options.sqlite_foreign_keys = true;
    auto connection = db::connect(url, options);
    {
      db::SqliteForeignKeysOff guard(*connection);
      CHECK(guard.active());
      CHECK(connection->query("PRAGMA foreign_keys").scalar() == db::Value("0"));
    }
    CHECK(connection->query("PRAGMA foreign_keys").scalar() == db::Value("1"));
    connection->execute("PRAGMA foreign_keys = OFF");
    db::SqliteForeignKeysOff idle(*connection);
    CHECK_FALSE(idle.active());
    CHECK_NOTHROW(idle.check());
  }
}

TEST_CASE("sqlite::a COMMIT that meets SQLITE_BUSY is rolled back") {
  TempDir dir;
  const auto url = util::parse_database_url("sqlite3:busy.sqlite3", dir.path());
  auto writer = db::connect(url, {"writer", 1000, "grant"});
  auto reader = db::connect(url, {"reader", 1000, "grant"});
  writer->execute("CREATE TABLE t (id integer)");
  {
    // The reader's open read transaction holds a SHARED lock: the writer's COMMIT cannot get
    // the EXCLUSIVE lock it needs (rollback-journal mode) and gives up after its busy timeout.
    db::Transaction read(*reader, {db::Isolation::default_level, true});
    CHECK(reader->query("SELECT count(*) FROM t").scalar() == db::Value("0"));
    db::Transaction write(*writer);
    writer->execute("INSERT INTO t VALUES (1)");
    try {
      write.commit();
      FAIL("the COMMIT did not meet the reader's lock");
    } catch (const db::DbError& error) {
      CHECK((error.details().sqlite_code & 0xff) == 5); // SQLITE_BUSY
    }
    CHECK(writer->transaction_depth() == 0);
    CHECK_FALSE(writer->is_abandoned());
    read.commit();
  }
  // Not left inside the failed transaction: a new one begins, and the insert is gone.
  db::Transaction again(*writer);
  CHECK(writer->query("SELECT count(*) FROM t").scalar() == db::Value("0"));
  again.commit();
}

} // namespace grant_test_sqlite_foreign_keys_test
