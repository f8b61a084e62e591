// Files saved by Windows editors (a UTF-8 byte-order mark, CRLF line ends) read as their LF,
// BOM-less twins: same sections, same options, same checksum (as Flyway's checksum ignores both).

#include <grant/config/load.hpp>
#include <grant/migrate/migration_file.hpp>
#include <grant/shard/key.hpp>
#include <grant/util/sha256.hpp>

#include "support/support.hpp"

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_windows_files_test {

using grant::test::TempDir;
using namespace grant::migrate;

namespace {

const std::string k_bom = "\xEF\xBB\xBF";

std::string crlf(std::string text) {
  std::string out;
  for (const char c : text) {
    if (c == '\n') {
      out += '\r';
    }
    out += c;
  }
  return out;
}

const Migration& only(const std::vector<Migration>& files) {
  REQUIRE(files.size() == 1);
  return files.front();
}

} // namespace

TEST_CASE("migrate::files saved by Windows editors") {
  const std::string grant_text = "-- grant:up lock_timeout=5s retries=2\n"
                                 "CREATE TABLE users (id integer PRIMARY KEY);\n"
                                 "INSERT INTO users VALUES (1);\n"
                                 "-- grant:down\n"
                                 "DROP TABLE users;\n";
  const auto lf = parse_migration("1_users.sql", grant_text);

  SUBCASE("grant format: BOM, CRLF and both read like the LF file, checksum included") {
    for (const auto& text : {k_bom + grant_text, crlf(grant_text), k_bom + crlf(grant_text)}) {
      const auto windows = parse_migration("1_users.sql", text);
      CHECK(windows.up.sql == lf.up.sql);
      REQUIRE(windows.down);
      CHECK(windows.down->sql == lf.down->sql);
      CHECK(windows.up.first_line == 2);
      CHECK(windows.up.lock_timeout == std::chrono::milliseconds(5000));
      CHECK(windows.up.retries == 2);
      CHECK(windows.up.statements.size() == 2);
      CHECK(windows.checksum == lf.checksum);
    }
  }

  SUBCASE("a CRLF file keeps the checksum older grant versions recorded for it, as a legacy one") {
    const auto windows = parse_migration("1_users.sql", crlf(grant_text));
    CHECK(windows.legacy_checksum == grant::util::sha256_hex(crlf("CREATE TABLE users (id integer PRIMARY KEY);\n"
                                                                  "INSERT INTO users VALUES (1);\n")));
    CHECK(windows.matches_checksum(windows.legacy_checksum));
    CHECK(windows.matches_checksum(lf.checksum));
    CHECK(lf.legacy_checksum.empty());
    CHECK(parse_migration("1_users.sql", k_bom + grant_text).legacy_checksum.empty());
  }

  SUBCASE("dbmate format") {
    const std::string text = "-- migrate:up\nCREATE TABLE t (id integer);\n-- migrate:down\nDROP TABLE t;\n";
    const auto windows = parse_migration("1_t.sql", k_bom + crlf(text));
    CHECK(windows.format == FileFormat::dbmate);
    CHECK(windows.up.sql == "CREATE TABLE t (id integer);\n");
    CHECK(windows.checksum == parse_migration("1_t.sql", text).checksum);
  }

  SUBCASE("golang-migrate and Flyway files: BOM dropped, LF line ends, same checksum") {
    TempDir plain;
    TempDir windows;
    const std::string up = "CREATE TABLE t (id integer);\nINSERT INTO t VALUES (1);\n";
    const std::string down = "DROP TABLE t;\n";
    for (const auto* dir : {&plain, &windows}) {
      const bool win = dir == &windows;
      dir->write("golang/1_t.up.sql", win ? k_bom + crlf(up) : up);
      dir->write("golang/1_t.down.sql", win ? k_bom + crlf(down) : down);
      dir->write("flyway/V1__T.sql", win ? k_bom + crlf(up) : up);
      dir->write("flyway/U1__T.sql", win ? k_bom + crlf(down) : down);
    }
    for (const char* folder : {"golang", "flyway"}) {
      CAPTURE(folder);
      const auto plain_files = load_migrations(plain / folder);
      const auto windows_files = load_migrations(windows / folder);
      const auto& a = only(plain_files);
      const auto& b = only(windows_files);
      CHECK(b.up.sql == up);
      REQUIRE(b.down);
      CHECK(b.down->sql == down);
      CHECK(b.checksum == a.checksum);
      CHECK(b.legacy_checksum == grant::util::sha256_hex(crlf(up)));
    }
  }

  SUBCASE("a BOM in the middle of a file is not a BOM: it stays") {
    const auto text = "-- grant:up\nSELECT 1;\n" + k_bom + "SELECT 2;\n";
    CHECK(parse_migration("1_x.sql", text).up.sql == "SELECT 1;\n" + k_bom + "SELECT 2;\n");
  }

  SUBCASE("a lone CR is not a line end") {
    CHECK(parse_migration("1_x.sql", "-- grant:up\nSELECT 'a\rb';\n").up.sql == "SELECT 'a\rb';\n");
  }
}

TEST_CASE("config::parse reads a config saved by a Windows editor") {
  TempDir dir;
  const std::string text = "{\r\n  \"databases\": {\r\n    \"app\": {\"url\": \"sqlite3:app.sqlite3\"}\r\n  }\r\n}\r\n";
  const auto env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  for (const auto& variant : {text, k_bom + text}) {
    const auto config = grant::config::parse(variant, dir / "grant.json", env);
    REQUIRE(config.databases.size() == 1);
    CHECK(config.databases[0].name == "app");
  }
  SUBCASE("a JSON error after a BOM still points at the right line and column") {
    try {
      grant::config::parse(k_bom + "{\r\n  \"databases\": {\r\n    \"app\" 1\r\n", dir / "grant.json", env);
      FAIL("no error");
    } catch (const grant::ConfigError& error) {
      CHECK(error.where() == (dir / "grant.json").string() + ":3:11");
    }
  }
}

} // namespace grant_test_windows_files_test
