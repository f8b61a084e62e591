// A project saved by Windows editors (UTF-8 byte-order marks, CRLF line ends) migrates as it
// is, in every file format, with the checksums of its LF twin (docs/commands/migrate.md).

#include "support/project.hpp"

#include <grant/util/sha256.hpp>

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_windows_files_cli_test {

using grant::test::Project;
using grant::test::run_grant;
using grant::test::TempDir;

namespace {

const std::string k_bom = "\xEF\xBB\xBF";

std::string windows(const std::string& text) {
  std::string out = k_bom;
  for (const char c : text) {
    if (c == '\n') {
      out += '\r';
    }
    out += c;
  }
  return out;
}

struct File {
  std::string name;
  std::string text;
  std::string up; ///< the up section, LF
};

const std::vector<File> k_files{
    {"1_users.sql",
     "-- grant:up\nCREATE TABLE users (id integer PRIMARY KEY, email text);\n-- grant:down\nDROP TABLE users;\n",
     "CREATE TABLE users (id integer PRIMARY KEY, email text);\n"},
    {"2_orders.sql",
     "-- migrate:up\nCREATE TABLE orders (id integer PRIMARY KEY);\n\n-- migrate:down\nDROP TABLE orders;\n",
     "CREATE TABLE orders (id integer PRIMARY KEY);\n\n"},
    {"3_items.up.sql", "CREATE TABLE items (id integer PRIMARY KEY);\nCREATE INDEX items_id ON items (id);\n",
     "CREATE TABLE items (id integer PRIMARY KEY);\nCREATE INDEX items_id ON items (id);\n"},
    {"3_items.down.sql", "DROP TABLE items;\n", ""},
    {"V4__Tags.sql", "CREATE TABLE tags (name text);\nINSERT INTO tags VALUES ('a\nb');\n",
     "CREATE TABLE tags (name text);\nINSERT INTO tags VALUES ('a\nb');\n"},
    {"U4__Tags.sql", "DROP TABLE tags;\n", ""},
};

} // namespace

TEST_CASE("cli: files saved by Windows editors (BOM, CRLF) migrate as they are") {
  Project project(grant::test::Engine::sqlite);
  project.dir.write("grant.json", windows(project.config().dump(2)));
  for (const auto& file : k_files) {
    project.file(file.name, windows(file.text));
  }

  const auto migrate = project.grant({"migrate"});
  INFO(migrate.out, migrate.err);
  REQUIRE(migrate.exit_code == 0);
  CHECK(project.applied() == std::vector<std::string>{"1", "2", "3", "4"});
  for (const char* table : {"users", "orders", "items", "tags"}) {
    CHECK_MESSAGE(project.has_table(table), table);
  }
  CHECK(project.columns("users") == std::vector<std::string>{"id", "email"});
  // A line end inside a string literal is read as LF, as the file's twin would have it.
  CHECK(project.scalar("SELECT name FROM tags") == "a\nb");

  SUBCASE("the recorded checksum is the one of the LF file without BOM") {
    const std::map<std::string, std::string> expected{
        {"1", k_files[0].up}, {"2", k_files[1].up}, {"3", k_files[2].up}, {"4", k_files[4].up}};
    for (const auto& [version, up] : expected) {
      CHECK_MESSAGE(project.scalar("SELECT checksum FROM schema_migrations WHERE version = '" + version + "'") ==
                        grant::util::sha256_hex(up),
                    version);
    }
  }

  SUBCASE("converting the files to LF (or back) is no checksum drift") {
    CHECK(project.grant({"validate"}).exit_code == 0);
    for (const auto& file : k_files) {
      project.file(file.name, file.text);
    }
    const auto validate = project.grant({"validate"});
    INFO(validate.out, validate.err);
    CHECK(validate.exit_code == 0);
  }

  SUBCASE("the down sections and files run too") {
    const auto rollback = project.grant({"rollback", "--all"});
    INFO(rollback.out, rollback.err);
    CHECK(rollback.exit_code == 0);
    for (const char* table : {"users", "orders", "items", "tags"}) {
      CHECK_MESSAGE(!project.has_table(table), table);
    }
  }
}

TEST_CASE("cli: a CRLF file applied before line ends were normalized shows no drift") {
  Project project(grant::test::Engine::sqlite);
  const std::string text = "-- grant:up\nCREATE TABLE users (id integer);\n";
  project.file("1_users.sql", windows(text));
  REQUIRE(project.grant({"migrate"}).exit_code == 0);
  // What older versions recorded: the SHA-256 of the up section with its CRs.
  project.execute("UPDATE schema_migrations SET checksum = '" +
                  grant::util::sha256_hex("CREATE TABLE users (id integer);\r\n") + "'");
  const auto validate = project.grant({"validate"});
  INFO(validate.out, validate.err);
  CHECK(validate.exit_code == 0);
}

TEST_CASE("cli: a key list saved by a Windows editor resolves like its LF twin") {
  TempDir dir;
  dir.write("grant.json",
            R"({"databases": {"orders": {"shards": [{"url": "sqlite3:s0.sqlite3"}, {"url": "sqlite3:s1.sqlite3"}],
    "sharding": {"key": "user_id", "resolver": {"type": "modulo"}}}}})");
  const auto lf = run_grant({"shard-resolve", "--database", "orders", "--stdin"}, dir.path(), {}, "1\n2\n3\n");
  const auto crlf =
      run_grant({"shard-resolve", "--database", "orders", "--stdin"}, dir.path(), {}, windows("1\n2\n3\n"));
  INFO(crlf.err);
  CHECK(lf.exit_code == 0);
  CHECK(crlf.exit_code == 0);
  CHECK(lf.out == "1\ts1\n2\ts0\n3\ts1\n");
  CHECK(crlf.out == lf.out);
}

} // namespace grant_test_windows_files_cli_test
