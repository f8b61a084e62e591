#include <grant/migrate/plan.hpp>

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_migrate_plan_test {

using namespace grant::migrate;

namespace {

std::vector<Migration> files_with(const std::vector<std::string>& versions) {
  std::vector<Migration> out;
  for (const auto& version : versions) {
    Migration migration;
    migration.version = version;
    migration.name = "m" + version;
    migration.checksum = "sum" + version;
    out.push_back(migration);
  }
  return out;
}

AppliedMigration row(const std::string& version, bool covers_older = false,
                     AppliedMigration::Source source = AppliedMigration::Source::grant) {
  AppliedMigration applied;
  applied.version = version;
  applied.covers_older = covers_older;
  applied.source = source;
  return applied;
}

std::vector<std::string> versions(const std::vector<const Migration*>& migrations) {
  std::vector<std::string> out;
  for (const auto* migration : migrations) {
    out.push_back(migration->version);
  }
  return out;
}

} // namespace

TEST_CASE("migrate::plan") {
  const auto files = files_with({"000001", "000002", "000010", "000015", "000016", "000017"});

  SUBCASE("golang-migrate's one row stands for every file version up to it") {
    const auto plan = make_plan(files, {row("15", true, AppliedMigration::Source::golang_migrate)});
    CHECK(plan.applied.size() == 4);
    CHECK(versions(plan.pending) == std::vector<std::string>{"000016", "000017"});
    CHECK(plan.out_of_order.empty());
    CHECK(plan.missing_files.empty());
    CHECK(plan.current_version == "000015"); // the file's spelling, not the table's
    CHECK(plan.applied.front().source == AppliedMigration::Source::golang_migrate);
    CHECK_FALSE(plan.applied.front().checksum.has_value());
  }
  SUBCASE("a covering row whose own file is gone still counts, and is reported missing") {
    const auto plan = make_plan(files, {row("12", true)});
    CHECK(versions(plan.pending) == std::vector<std::string>{"000015", "000016", "000017"});
    REQUIRE(plan.missing_files.size() == 1);
    CHECK(plan.missing_files[0].version == "12");
  }
  SUBCASE("ordinary rows cover only themselves, matched as numbers") {
    const auto plan = make_plan(files, {row("1"), row("0015")});
    CHECK(versions(plan.pending) == std::vector<std::string>{"000002", "000010", "000016", "000017"});
    CHECK(versions(plan.out_of_order) == std::vector<std::string>{"000002", "000010"});
    CHECK(plan.missing_files.empty());
  }
  SUBCASE("a Flyway baseline next to later Flyway rows") {
    const auto plan = make_plan(
        files, {row("2", true, AppliedMigration::Source::flyway), row("10", false, AppliedMigration::Source::flyway)});
    CHECK(versions(plan.pending) == std::vector<std::string>{"000015", "000016", "000017"});
    CHECK(plan.applied.size() == 3);
  }
}

} // namespace grant_test_migrate_plan_test
