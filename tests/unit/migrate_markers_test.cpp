#include <grant/migrate/migration_file.hpp>
#include <grant/util/duration.hpp>

#include <grant/error.hpp>

#include "support/support.hpp"

#include <doctest/doctest.h>

using grant::test::contains;
using namespace grant::migrate;
using namespace std::chrono_literals;

namespace {

grant::ConfigError parse_error(std::string_view text) {
  try {
    parse_migration("db/migrate/app/7_x.sql", text);
  } catch (const grant::ConfigError& error) {
    return error;
  }
  FAIL("parsing did not fail: " << text);
  throw std::logic_error("unreachable");
}

} // namespace

TEST_CASE("util::parse_duration") {
  using grant::util::parse_duration;
  CHECK(parse_duration("500ms") == 500ms);
  CHECK(parse_duration("5s") == 5000ms);
  CHECK(parse_duration("2min") == 120000ms);
  CHECK(parse_duration("1h") == 3600000ms);
  CHECK(parse_duration("1d") == 86400000ms);
  CHECK(parse_duration("1500") == 1500ms);
  CHECK(parse_duration("0") == 0ms);
  CHECK(parse_duration("1us") == 1ms);
  for (const auto* bad : {"", "fast", "-1s", "1.5s", "5 s", "5sec", "s", "5S", "99999999999999999999", "25d"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_duration(bad));
  }
}

TEST_CASE("migrate::markers") {
  SUBCASE("lock_timeout, statement_timeout and retries ride on the marker") {
    const auto migration = parse_migration("7_x.sql", "-- grant:up lock_timeout=5s statement_timeout=2min retries=3\n"
                                                      "ALTER TABLE t ADD COLUMN c int;\n"
                                                      "-- grant:down\tlock_timeout=250\n"
                                                      "ALTER TABLE t DROP COLUMN c;\n");
    CHECK(migration.up.lock_timeout == 5000ms);
    CHECK(migration.up.statement_timeout == 120000ms);
    CHECK(migration.up.retries == 3);
    CHECK(migration.up.transaction);
    REQUIRE(migration.down);
    CHECK(migration.down->lock_timeout == 250ms);
    CHECK_FALSE(migration.down->statement_timeout);
    CHECK_FALSE(migration.down->retries);
  }
  SUBCASE("without options nothing is set, and dbmate's key:value works too") {
    const auto plain = parse_migration("7_x.sql", "-- grant:up\nSELECT 1;\n");
    CHECK_FALSE(plain.up.lock_timeout);
    CHECK_FALSE(plain.up.retries);
    const auto dbmate = parse_migration("7_x.sql", "-- migrate:up transaction:false lock_timeout:1s\nSELECT 1;\n");
    CHECK(dbmate.format == FileFormat::dbmate);
    CHECK_FALSE(dbmate.up.transaction);
    CHECK(dbmate.up.lock_timeout == 1000ms);
  }
  SUBCASE("bad values name file:line and the value, exit 2") {
    auto error = parse_error("-- grant:up lock_timeout=fast\nSELECT 1;\n");
    CHECK(error.exit_code() == 2);
    CHECK(contains(error.what(), "lock_timeout=fast"));
    CHECK(contains(error.where(), "7_x.sql:1"));
    CHECK(contains(error.hint(), "5s"));
    error = parse_error("-- grant:up\nSELECT 1;\n-- grant:down retries=-1\nSELECT 2;\n");
    CHECK(contains(error.what(), "retries=-1"));
    CHECK(contains(error.where(), "7_x.sql:3"));
    CHECK(contains(parse_error("-- grant:up retries=x\nSELECT 1;\n").what(), "retries=x"));
    CHECK(contains(parse_error("-- grant:up retries=\nSELECT 1;\n").what(), "retries="));
    CHECK(contains(parse_error("-- grant:up retries=1000\nSELECT 1;\n").what(), "retries=1000"));
    CHECK(contains(parse_error("-- grant:up statement_timeout=1.5s\nSELECT 1;\n").what(), "statement_timeout=1.5s"));
  }
  SUBCASE("an unknown option suggests the closest one") {
    auto error = parse_error("-- grant:up lock_timout=5s\nSELECT 1;\n");
    CHECK(contains(error.what(), "lock_timout"));
    CHECK(contains(error.hint(), "did you mean 'lock_timeout'"));
    error = parse_error("-- grant:up frobnicate=1\nSELECT 1;\n");
    CHECK(contains(error.hint(), "retries"));
  }
}

TEST_CASE("migrate::section statements") {
  SUBCASE("each statement with its line in the file") {
    const auto migration = parse_migration("7_x.sql", "-- a header\n"
                                                      "-- grant:up\n"
                                                      "CREATE TABLE a (id int);\n"
                                                      "\n"
                                                      "INSERT INTO a VALUES (E'it\\'s; fine');\n"
                                                      "-- grant:down\n"
                                                      "DROP TABLE a;\n");
    REQUIRE(migration.up.statements.size() == 2);
    CHECK(migration.up.statements[0].text == "CREATE TABLE a (id int);");
    CHECK(migration.up.statements[0].first_line == 3);
    CHECK(migration.up.statements[1].first_line == 5);
    REQUIRE(migration.down);
    REQUIRE(migration.down->statements.size() == 1);
    CHECK(migration.down->statements[0].first_line == 7);
    // The checksum stays the SHA-256 of the section's text.
    CHECK(migration.up.sql == "CREATE TABLE a (id int);\n\nINSERT INTO a VALUES (E'it\\'s; fine');\n");
  }
  SUBCASE("COPY ... FROM STDIN is refused at parse time, naming file:line") {
    const auto error = parse_error("-- grant:up\nCREATE TABLE a (id int);\nCOPY a (id) FROM stdin;\n1\n2\n\\.\n");
    CHECK(error.exit_code() == 2);
    CHECK(contains(error.what(), "COPY ... FROM STDIN"));
    CHECK(contains(error.where(), "7_x.sql:3"));
    CHECK_NOTHROW(parse_migration("7_x.sql", "-- grant:up\nCOPY a FROM '/srv/a.csv';\n"));
  }
}

#include <grant/migrate/limits.hpp>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_migrate_markers_test {

TEST_CASE("migrate::effective_limits: the marker wins over the config default") {
  grant::config::MigrateSettings defaults;
  const auto plain = parse_migration("7_x.sql", "-- grant:up\nSELECT 1;\n");
  const auto marked = parse_migration("7_x.sql", "-- grant:up lock_timeout=2s retries=0\nSELECT 1;\n");

  SUBCASE("nothing anywhere: nothing set, no retries") {
    const auto limits = effective_limits(plain.up, defaults);
    CHECK_FALSE(limits.lock_timeout);
    CHECK_FALSE(limits.statement_timeout);
    CHECK(limits.retries == 0);
  }
  SUBCASE("config defaults fill what the marker leaves out") {
    defaults.lock_timeout_ms = 5000;
    defaults.statement_timeout_ms = 0;
    defaults.retries = 3;
    auto limits = effective_limits(plain.up, defaults);
    CHECK(limits.lock_timeout == 5000ms);
    CHECK(limits.statement_timeout == 0ms);
    CHECK(limits.retries == 3);
    limits = effective_limits(marked.up, defaults);
    CHECK(limits.lock_timeout == 2000ms);
    CHECK(limits.statement_timeout == 0ms);
    CHECK(limits.retries == 0); // retries=0 on the marker is a choice, not an absence
  }
}

} // namespace grant_test_migrate_markers_test
