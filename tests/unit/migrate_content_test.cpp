// What loading refuses in a migration's text: transaction control in a transactional section
// (found with the SQL lexer, so strings, comments, dollar quotes and routine bodies do not
// count), bytes that are not UTF-8, and versions longer than the tracking table's column.
#include <grant/migrate/content_check.hpp>
#include <grant/migrate/file_name.hpp>
#include <grant/migrate/migration_file.hpp>
#include <grant/migrate/statement_kind.hpp>

#include <grant/error.hpp>
#include <grant/util/sql_split.hpp>

#include "support/support.hpp"

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_migrate_content_test {

using grant::test::contains;
using namespace grant::migrate;

namespace {

const std::filesystem::path k_file = "db/migrate/app/7_x.sql";

grant::ConfigError parse_error(std::string_view text, const std::filesystem::path& file = k_file) {
  try {
    parse_migration(file, text);
  } catch (const grant::ConfigError& error) {
    return error;
  }
  FAIL("parsing did not fail: " << text);
  throw std::logic_error("unreachable");
}

// The transaction-control command of each statement of `script`, "-" for the others.
std::vector<std::string> commands(std::string_view script) {
  std::vector<std::string> out;
  for (const auto& statement : grant::util::split_statements(script)) {
    out.push_back(transaction_control(statement.text).value_or("-"));
  }
  return out;
}

using Strings = std::vector<std::string>;

} // namespace

TEST_CASE("migrate::transaction_control names the statements that end or open a transaction") {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"BEGIN;", "BEGIN"},
      {"begin work;", "BEGIN"},
      {"BEGIN TRANSACTION ISOLATION LEVEL SERIALIZABLE;", "BEGIN"},
      {"BEGIN IMMEDIATE;", "BEGIN"}, // SQLite
      {"START TRANSACTION;", "START TRANSACTION"},
      {"start transaction read only;", "START TRANSACTION"},
      {"COMMIT;", "COMMIT"},
      {"COMMIT", "COMMIT"},
      {"commit work;", "COMMIT"},
      {"COMMIT TRANSACTION;", "COMMIT"},
      {"COMMIT AND CHAIN;", "COMMIT"},
      {"COMMIT AND NO CHAIN;", "COMMIT"},
      {"END;", "END"},
      {"END TRANSACTION;", "END"},
      {"ROLLBACK;", "ROLLBACK"},
      {"ROLLBACK WORK;", "ROLLBACK"},
      {"ROLLBACK AND CHAIN;", "ROLLBACK"},
      {"ABORT;", "ABORT"},
      {"PREPARE TRANSACTION 'gid';", "PREPARE TRANSACTION"},
      {"  -- why\n  /* and how */ COMMIT;", "COMMIT"},
  };
  for (const auto& [statement, command] : cases) {
    CAPTURE(statement);
    CHECK(transaction_control(statement) == command);
  }
  for (const auto* statement :
       {"SAVEPOINT a;", "RELEASE a;", "RELEASE SAVEPOINT a;", "ROLLBACK TO a;", "ROLLBACK TO SAVEPOINT a;",
        "rollback work to savepoint a;", "ROLLBACK TRANSACTION TO a;", "COMMIT PREPARED 'gid';",
        "ROLLBACK PREPARED 'gid';", "PREPARE get_user AS SELECT 1;", "START_TRANSACTION();", "SELECT 'COMMIT';",
        "SELECT 1; -- COMMIT", "\"commit\";", "CREATE TABLE begin_log (ended boolean);",
        "INSERT INTO t (\"end\") VALUES (1);", "DO $$ BEGIN COMMIT; END $$;", "-- COMMIT", ""}) {
    CAPTURE(statement);
    CHECK_FALSE(transaction_control(statement));
  }
}

TEST_CASE("migrate::transaction_control reads split statements, not words inside bodies") {
  SUBCASE("a BEGIN ATOMIC body is one statement, its END no transaction end") {
    CHECK(commands("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\nSELECT f();") ==
          Strings{"-", "-"});
    CHECK(commands("CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC\n  INSERT INTO t VALUES (CASE WHEN "
                   "true THEN 1 END);\nEND;\nCOMMIT;") == Strings{"-", "COMMIT"});
  }

  SUBCASE("plpgsql BEGIN ... END inside a dollar-quoted or quoted body") {
    CHECK(commands("CREATE FUNCTION f() RETURNS trigger AS $fn$\nBEGIN\n  COMMIT;\n  RETURN NEW;\nEND;\n$fn$ "
                   "LANGUAGE plpgsql;") == Strings{"-"});
    CHECK(commands("CREATE FUNCTION g() RETURNS void AS 'BEGIN END;' LANGUAGE plpgsql;") == Strings{"-"});
    CHECK(commands("DO $$\nBEGIN\n  PERFORM 1;\nEND\n$$;\nEND;") == Strings{"-", "END"});
  }

  SUBCASE("a SQLite trigger body stays one statement") {
    CHECK(commands("CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN\n  UPDATE t SET a = CASE WHEN new.a > 0 THEN 1 "
                   "END;\n  DELETE FROM u;\nEND;\nCOMMIT;") == Strings{"-", "COMMIT"});
    CHECK(commands("CREATE TEMP TRIGGER IF NOT EXISTS t2 BEFORE DELETE ON t BEGIN SELECT 1; END;") == Strings{"-"});
  }

  SUBCASE("keywords in strings and comments do not count") {
    CHECK(commands("INSERT INTO log VALUES ('BEGIN; COMMIT;');\n/* COMMIT; */\n-- ROLLBACK;\nSELECT E'\\'; "
                   "COMMIT; \\'';") == Strings{"-", "-"});
  }
}

TEST_CASE("migrate::creates_only: statements that cannot cascade or break a foreign key") {
  using grant::migrate::creates_only;
  for (const auto* statement :
       {"CREATE TABLE t (id integer PRIMARY KEY, p integer REFERENCES parent ON DELETE CASCADE)",
        "create temp table t (id int)", "CREATE TEMPORARY TABLE t AS SELECT 1", "CREATE UNIQUE INDEX i ON t (a)",
        "CREATE INDEX IF NOT EXISTS i ON t (a)", "-- a comment\nCREATE VIEW v AS SELECT 1",
        "CREATE VIRTUAL TABLE f USING fts5(body)", "CREATE TRIGGER t_del AFTER DELETE ON t BEGIN DELETE FROM u; END"}) {
    CAPTURE(statement);
    CHECK(creates_only(statement));
  }
  for (const auto* statement :
       {"DROP TABLE parent", "ALTER TABLE t RENAME TO u", "DELETE FROM parent", "INSERT INTO child VALUES (1, 2)",
        "UPDATE t SET a = 1", "CREATE", "CREATE OR REPLACE VIEW v AS SELECT 1", "PRAGMA foreign_keys = OFF", ""}) {
    CAPTURE(statement);
    CHECK_FALSE(creates_only(statement));
  }
}

TEST_CASE("migrate::parse_migration refuses transaction control in transactional sections") {
  SUBCASE("COMMIT in the up section, at its line, with the marker to use") {
    const auto error = parse_error("-- grant:up\nCREATE TABLE t (id int);\n\nCOMMIT;\n-- grant:down\nDROP TABLE t;\n");
    CHECK(error.where() == k_file.string() + ":4");
    CHECK(contains(error.what(), "COMMIT in a section that grant runs in a transaction of its own"));
    CHECK(contains(error.hint(), "`-- grant:up transaction=false`"));
  }

  SUBCASE("ROLLBACK in the down section names the down marker") {
    const auto error = parse_error("-- grant:up\nCREATE TABLE t (id int);\n-- grant:down lock_timeout=5s\nDROP "
                                   "TABLE t;\nROLLBACK;\n");
    CHECK(error.where() == k_file.string() + ":5");
    CHECK(contains(error.hint(), "`-- grant:down transaction=false`"));
  }

  SUBCASE("dbmate files get dbmate's option spelling") {
    const auto error = parse_error("-- migrate:up\nBEGIN;\nSELECT 1;\n");
    CHECK(error.where() == k_file.string() + ":2");
    CHECK(contains(error.hint(), "`-- migrate:up transaction:false`"));
  }

  SUBCASE("CRLF and a byte-order mark keep the editor's line") {
    const auto error = parse_error("\xEF\xBB\xBF-- grant:up\r\nSELECT 1;\r\nEND;\r\n");
    CHECK(error.where() == k_file.string() + ":3");
  }

  SUBCASE("transaction=false sections may manage their own transactions") {
    const auto migration = parse_migration(k_file, "-- grant:up transaction=false\nBEGIN;\nCREATE TABLE t (id "
                                                   "int);\nCOMMIT;\n-- grant:down\n");
    CHECK(migration.up.statements.size() == 3);
    const auto dbmate = parse_migration(k_file, "-- migrate:up transaction:false\nBEGIN;\nCOMMIT;\n-- migrate:down "
                                                "transaction:false\nBEGIN;\nROLLBACK;\n");
    CHECK(dbmate.down->statements.size() == 2);
  }

  SUBCASE("savepoints and bodies are fine in a transactional section") {
    const auto migration = parse_migration(
        k_file, "-- grant:up\nSAVEPOINT a;\nROLLBACK TO SAVEPOINT a;\nRELEASE a;\nCREATE FUNCTION f() RETURNS int "
                "LANGUAGE sql BEGIN ATOMIC SELECT 1; END;\nDO $$ BEGIN NULL; END $$;\n");
    CHECK(migration.up.statements.size() == 5);
  }
}

TEST_CASE("migrate::first_invalid_utf8 follows RFC 3629") {
  CHECK_FALSE(first_invalid_utf8(""));
  CHECK_FALSE(first_invalid_utf8("plain ASCII\n"));
  CHECK_FALSE(first_invalid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x90\x98 \xED\x9F\xBF \xF4\x8F\xBF\xBF"));
  const std::vector<std::pair<std::string, std::size_t>> bad{
      {"caf\xE9", 3},           // Latin-1
      {"ab\x80", 2},            // a lone continuation byte
      {"\xC0\xAF", 0},          // overlong '/'
      {"\xC1\xBF", 0},          // overlong
      {"x\xE0\x80\xAF", 1},     // overlong, 3 bytes
      {"x\xF0\x80\x80\xAF", 1}, // overlong, 4 bytes
      {"\xED\xA0\x80", 0},      // surrogate U+D800
      {"\xF4\x90\x80\x80", 0},  // past U+10FFFF
      {"\xF5\x80\x80\x80", 0},  // never a lead byte
      {"\xFF", 0},              //
      {"ok \xE2\x82", 3},       // cut at the end
      {"ok \xE2\x82x", 3},      // cut in the middle
      {"\xC3\xA9\xC3", 2},      // a good character, then a cut one
  };
  for (const auto& [text, offset] : bad) {
    CAPTURE(text);
    CHECK(first_invalid_utf8(text) == offset);
  }
}

TEST_CASE("migrate::parse_migration refuses bytes that are not UTF-8 at file:line:column") {
  SUBCASE("line, column and byte offset") {
    const auto error = parse_error("-- grant:up\nINSERT INTO t VALUES ('caf\xE9');\n");
    CHECK(error.where() == k_file.string() + ":2:27");
    CHECK(std::string(error.what()) ==
          "migration file is not valid UTF-8: byte 0xE9 at line 2, column 27 (byte offset 38 of the file)");
  }

  SUBCASE("a byte-order mark is no column, but counts in the offset") {
    const auto error = parse_error("\xEF\xBB\xBF\xFF-- grant:up\n");
    CHECK(error.where() == k_file.string() + ":1:1");
    CHECK(contains(error.what(), "byte 0xFF at line 1, column 1 (byte offset 3 of the file)"));
  }

  SUBCASE("in a comment too: PostgreSQL checks the whole text it is sent") {
    const auto error = parse_error("-- grant:up\n-- r\xE9sum\xE9\nSELECT 1;\n");
    CHECK(error.where() == k_file.string() + ":2:5");
  }

  SUBCASE("a NUL byte is still reported as a binary file, first") {
    const auto error = parse_error(std::string("-- grant:up\n\xFFSELECT\0 1;\n", 22));
    CHECK(contains(error.what(), "NUL byte"));
    CHECK(error.where() == k_file.string() + ":2");
  }

  SUBCASE("UTF-8 text in every script loads") {
    const auto migration = parse_migration(k_file, "-- grant:up\nINSERT INTO t VALUES ('café', 'Ελληνικά', '日本', "
                                                   "'🐘');\n");
    CHECK(migration.up.statements.size() == 1);
  }
}

TEST_CASE("migrate::parse_file_name refuses a version longer than the tracking column") {
  CHECK(k_max_version_digits == 128);
  const std::string longest(k_max_version_digits, '9');
  CHECK(parse_file_name(longest + "_a.sql")->version == longest);
  CHECK(parse_file_name("V" + longest + "__a.sql")->version == longest);
  for (const auto& name : {"1" + longest + "_a.sql", "0" + longest + "_a.up.sql", "1" + longest + "_a.down.sql",
                           "V1" + longest + "__a.sql", "U1" + longest + "__a.sql"}) {
    CAPTURE(name);
    try {
      parse_file_name(name);
      FAIL("accepted");
    } catch (const grant::ConfigError& error) {
      CHECK(std::string(error.what()) ==
            "migration version has 129 digits; the tracking table's version column holds at most 128");
      CHECK(error.where() == name);
    }
  }
}

TEST_CASE("migrate::is_copy_from_stdin") {
  CHECK(is_copy_from_stdin("COPY users (id, email) FROM STDIN;"));
  CHECK(is_copy_from_stdin("copy public.users from stdin with (format csv);"));
  CHECK(is_copy_from_stdin("COPY t FROM\n  STDIN"));
  CHECK_FALSE(is_copy_from_stdin("COPY t FROM '/tmp/data.csv';"));
  CHECK_FALSE(is_copy_from_stdin("COPY t TO STDOUT;"));
  CHECK_FALSE(is_copy_from_stdin("COPY (SELECT * FROM stdin) TO STDOUT;"));
  CHECK_FALSE(is_copy_from_stdin("SELECT 'COPY t FROM STDIN';"));
  CHECK_FALSE(is_copy_from_stdin("INSERT INTO copy VALUES (1); -- from stdin"));
}

} // namespace grant_test_migrate_content_test
