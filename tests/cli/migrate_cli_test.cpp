// The migration commands end to end through the binary, on SQLite files only (no server):
// bad input is refused with exit 2 before anything is created, and `generate`.
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <regex>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_migrate_cli_test {

using grant::test::contains;

using grant::test::RunResult;
using grant::test::TempDir;

namespace {

// Two SQLite databases, "app" and "other", each with one good migration.
class Project {
public:
  Project() {
    nlohmann::json config;
    config["databases"]["app"] = {{"url", "sqlite3:db/app.sqlite3"}, {"migrations", "db/migrate/app"}};
    config["databases"]["other"] = {{"url", "sqlite3:db/other.sqlite3"}, {"migrations", "db/migrate/other"}};
    dir.write("grant.json", config.dump(2));
    dir.write("db/migrate/app/1_a.sql", "-- grant:up\nCREATE TABLE a (id int);\n-- grant:down\nDROP TABLE a;\n");
    dir.write("db/migrate/other/1_b.sql", "-- grant:up\nCREATE TABLE b (id int);\n");
  }

  TempDir dir;

  RunResult grant(const std::vector<std::string>& args) const { return grant::test::run_grant(args, dir.path()); }
  bool untouched() const {
    return !std::filesystem::exists(dir / "db/app.sqlite3") && !std::filesystem::exists(dir / "db/other.sqlite3");
  }
};

// Runs migrate and checks the user-visible contract for bad input: exit 2, the error names
// `where`, and no database file was even created.
void refused(const Project& project, const std::string& where, const std::string& what = {}) {
  const auto run = project.grant({"migrate"});
  INFO(run.out, run.err);
  CHECK(run.exit_code == 2);
  CHECK(contains(run.err, "grant: error: "));
  CHECK(contains(run.err, where));
  if (!what.empty()) {
    CHECK(contains(run.err, what));
  }
  CHECK(project.untouched());
}

} // namespace

TEST_CASE("migrate::bad_input") {
  Project project;

  SUBCASE("the project itself is fine") {
    const auto run = project.grant({"migrate"});
    CHECK(run.exit_code == 0);
    CHECK(std::filesystem::exists(project.dir / "db/other.sqlite3"));
  }
  SUBCASE("two files with the same version") {
    project.dir.write("db/migrate/other/01_again.sql", "-- grant:up\nSELECT 1;\n");
    refused(project, "01_again.sql", "1_b.sql");
  }
  SUBCASE("a file with no up marker") {
    project.dir.write("db/migrate/other/2_plain.sql", "CREATE TABLE c (id int);\n");
    refused(project, "2_plain.sql:1", "grant:up");
  }
  SUBCASE("a marker typo") {
    project.dir.write("db/migrate/other/2_typo.sql", "-- grant:upp\nCREATE TABLE c (id int);\n");
    refused(project, "2_typo.sql:1", "did you mean -- grant:up?");
  }
  SUBCASE("an unknown marker option") {
    project.dir.write("db/migrate/other/2_option.sql", "-- grant:up\nSELECT 1;\n-- grant:down transactions=false\n");
    refused(project, "2_option.sql:3", "transactions");
  }
  SUBCASE("an empty up section") {
    project.dir.write("db/migrate/other/2_empty.sql", "-- grant:up\n\n-- grant:down\nSELECT 1;\n");
    refused(project, "2_empty.sql:1", "empty up section");
  }
  SUBCASE("marker options that do not parse") {
    project.dir.write("db/migrate/other/2_slow.sql", "-- grant:up lock_timeout=fast\nSELECT 1;\n");
    refused(project, "2_slow.sql:1", "lock_timeout=fast");
    project.dir.write("db/migrate/other/2_slow.sql", "-- grant:up\nSELECT 1;\n-- grant:down retries=-1\nSELECT 2;\n");
    refused(project, "2_slow.sql:3", "retries=-1");
    project.dir.write("db/migrate/other/2_slow.sql", "-- grant:up retires=2\nSELECT 1;\n");
    refused(project, "2_slow.sql:1", "did you mean 'retries'?");
  }
  SUBCASE("COPY FROM STDIN") {
    project.dir.write("db/migrate/other/2_copy.sql",
                      "-- grant:up\nCREATE TABLE c (id int);\nCOPY c FROM stdin;\n1\n\\.\n");
    refused(project, "2_copy.sql:3", "COPY ... FROM STDIN");
  }
  SUBCASE("a repeatable Flyway migration, a dotted Flyway version") {
    project.dir.write("db/migrate/other/R__views.sql", "CREATE VIEW v AS SELECT 1;\n");
    refused(project, "R__views.sql", "repeatable Flyway migrations are not supported");
    std::filesystem::remove(project.dir / "db/migrate/other/R__views.sql");
    project.dir.write("db/migrate/other/V2.1__fix.sql", "SELECT 1;\n");
    refused(project, "V2.1__fix.sql", "whole numbers");
  }
  SUBCASE("a version that is not digits") {
    project.dir.write("db/migrate/other/2b_oops.sql", "-- grant:up\nSELECT 1;\n");
    refused(project, "2b_oops.sql", "numeric version");
  }
  SUBCASE("a migrations folder that does not exist") {
    std::filesystem::remove_all(project.dir / "db/migrate/other");
    refused(project, "db/migrate/other", "does not exist");
  }
  SUBCASE("non-UTF-8 bytes in a file name") {
    project.dir.write("db/migrate/other/2_caf\xe9.sql", "-- grant:up\nSELECT 1;\n");
    refused(project, "2_caf", "UTF-8");
  }
  SUBCASE("--to a version no file has") {
    const auto run = project.grant({"migrate", "--to", "20990101000000"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "--to 20990101000000"));
    CHECK(project.untouched());
    CHECK(project.grant({"migrate", "--to", "v2"}).exit_code == 2);
    CHECK(project.untouched());
  }
  SUBCASE("--atomic on SQLite") {
    const auto run = project.grant({"migrate", "--atomic"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "--atomic needs PostgreSQL"));
    CHECK(project.untouched());
  }
  SUBCASE("an unknown database") {
    const auto run = project.grant({"migrate", "--database", "ap"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "app"));
    CHECK(project.untouched());
  }
  SUBCASE("--json: the error is one JSON document on stdout") {
    project.dir.write("db/migrate/other/2_typo.sql", "-- grant:upp\n");
    const auto run = project.grant({"migrate", "--json"});
    CHECK(run.exit_code == 2);
    const auto document = nlohmann::json::parse(run.out);
    CHECK(contains(document["error"]["where"].get<std::string>(), "2_typo.sql:1"));
  }
  SUBCASE("looking never creates a database file") {
    auto run = project.grant({"status", "--json"});
    CHECK(run.exit_code == 0);
    CHECK(nlohmann::json::parse(run.out)["pending"] == 2);
    run = project.grant({"validate"});
    CHECK(run.exit_code == 0);
    run = project.grant({"migrate", "--dry-run"});
    CHECK(run.exit_code == 0);
    CHECK(contains(run.out, "CREATE TABLE b (id int);"));
    CHECK(project.untouched());
  }
}

TEST_CASE("migrate::a freshly generated, empty migration") {
  Project project;
  REQUIRE(project.grant({"migrate"}).exit_code == 0);
  auto run = project.grant({"generate", "migration", "todo", "--database", "other"});
  REQUIRE(run.exit_code == 0);

  // status still reports every database, and names the empty file.
  run = project.grant({"status"});
  INFO(run.out, run.err);
  CHECK(run.exit_code == 0);
  CHECK(contains(run.out, "app  1 applied, 0 pending, at 1"));
  CHECK(contains(run.out, "other  1 applied, 1 pending, at 1"));
  CHECK(contains(run.out, "_todo  (empty)"));
  CHECK(contains(run.out, "empty migration "));
  CHECK(contains(run.out, "_todo.sql: migrate refuses it; write its up section or delete it"));
  run = project.grant({"status", "--json"});
  const auto document = nlohmann::json::parse(run.out);
  CHECK(document["pending"] == 1);
  CHECK(document["databases"][1]["empty_migrations"][0]["name"] == "todo");
  CHECK(contains(document["databases"][1]["empty_migrations"][0]["file"].get<std::string>(), "_todo.sql"));
  CHECK(document["targets"][1]["pending"][0]["empty"] == true);

  // migrate refuses before touching anything, on every database.
  project.dir.write("db/migrate/app/2_more.sql", "-- grant:up\nCREATE TABLE more (id int);\n");
  run = project.grant({"migrate"});
  CHECK(run.exit_code == 2);
  CHECK(contains(run.err, "_todo has an empty up section"));
  CHECK(contains(run.err, "_todo.sql:"));
  CHECK(contains(run.err, "hint: write its up section or delete it"));
  CHECK(nlohmann::json::parse(project.grant({"status", "--json"}).out)["pending"] == 2);
  // --to an earlier version is fine.
  CHECK(project.grant({"migrate", "--to", "2"}).exit_code == 0);
}

TEST_CASE("migrate::generate") {
  Project project;

  SUBCASE("writes a timestamped snake_case file from the template and prints its path") {
    auto run = project.grant({"generate", "migration", "Add Email To Users", "--database", "app"});
    INFO(run.out, run.err);
    REQUIRE(run.exit_code == 0);
    const auto path = run.out.substr(0, run.out.find('\n'));
    CHECK(std::regex_search(path, std::regex(R"(db/migrate/app/\d{14}_add_email_to_users\.sql$)")));
    REQUIRE(std::filesystem::exists(path));
    const auto text = grant::test::read_file(path);
    CHECK(contains(text, "-- grant:up"));
    CHECK(contains(text, "-- grant:down"));
    // Not filled in yet: migrate refuses it rather than record an empty migration.
    run = project.grant({"migrate", "--database", "app"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "add_email_to_users.sql"));
    CHECK(contains(run.err, "empty"));

    run = project.grant({"generate", "migration", "add_email_to_users", "--database", "app"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "already exists"));
  }
  SUBCASE("two in a row get distinct, increasing versions") {
    const auto first = project.grant({"generate", "migration", "one", "--database", "app", "--json"});
    const auto second = project.grant({"generate", "migration", "two", "--database", "app", "--json"});
    REQUIRE(first.exit_code == 0);
    REQUIRE(second.exit_code == 0);
    const auto a = nlohmann::json::parse(first.out)["version"].get<std::string>();
    const auto b = nlohmann::json::parse(second.out)["version"].get<std::string>();
    CHECK(a.size() == 14);
    CHECK(a < b);
  }
  SUBCASE("the project's templates/migration.sql wins over the built-in one") {
    project.dir.write("templates/migration.sql", "-- house style for {{name}} in {{database}}\n-- grant:up\n"
                                                 "SELECT '{{version}}';\n");
    const auto run = project.grant({"generate", "migration", "custom", "--database", "other"});
    REQUIRE(run.exit_code == 0);
    const auto text = grant::test::read_file(run.out.substr(0, run.out.find('\n')));
    CHECK(contains(text, "house style for custom in other"));
    CHECK(project.grant({"migrate", "--database", "other"}).exit_code == 0);
  }
  SUBCASE("with several databases, --database is required") {
    const auto run = project.grant({"generate", "migration", "x"});
    CHECK(run.exit_code == 2);
    CHECK(contains(run.err, "--database"));
  }
}

TEST_CASE("migrate::status of an unreachable target is unknown, not pending") {
  TempDir dir;
  nlohmann::json config;
  config["databases"]["orders"] = {
      {"shards",
       {{{"name", "s0"}, {"url", "sqlite3:db/s0.sqlite3"}},
        {{"name", "s1"},
         {"url",
          "postgres://grant@127.0.0.1:" + std::to_string(grant::test::closed_port()) + "/orders?connect_timeout=2"}}}},
      {"migrations", "db/migrate/orders"}};
  dir.write("grant.json", config.dump(2));
  dir.write("db/migrate/orders/1_a.sql", "-- grant:up\nCREATE TABLE a (id int);\n");
  dir.write("db/migrate/orders/2_b.sql", "-- grant:up\nCREATE TABLE b (id int);\n");

  const auto text = grant::test::run_grant({"-v", "status"}, dir.path());
  INFO(text.out, text.err);
  CHECK(text.exit_code == 3);
  CHECK(contains(text.out, "orders/s1  UNREACHABLE  state unknown: "));
  // s0 is reachable and has both files pending; s1's files are not listed as pending.
  CHECK(contains(text.out, "orders/s0  0 applied, 2 pending"));
  std::size_t listed = 0;
  for (auto pos = text.out.find("pending  1_a"); pos != std::string::npos;
       pos = text.out.find("pending  1_a", pos + 1)) {
    ++listed;
  }
  CHECK(listed == 1);

  const auto json = grant::test::run_grant({"status", "--json"}, dir.path());
  CHECK(json.exit_code == 3);
  const auto document = nlohmann::json::parse(json.out);
  CHECK(document["pending"] == 2); // s0's two; s1's are unknown, not counted
  const auto& s1 = document["targets"][1];
  CHECK(s1["target"] == "orders/s1");
  CHECK(s1["reachable"] == false);
  CHECK(s1["state"] == "unknown");
  CHECK(s1["pending"].is_null());
  CHECK(s1["applied"].is_null());
  CHECK(s1["current_version"].is_null());
  CHECK(document["targets"][0]["state"] == "known");
}

} // namespace grant_test_migrate_cli_test
