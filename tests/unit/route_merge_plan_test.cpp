// route::plan_merge (the trailing ORDER BY / LIMIT / OFFSET a scatter-gather applies again),
// compare_values, and db::leading_keyword, which decides what streams through a cursor.
#include <grant/db/connection.hpp>
#include <grant/error.hpp>
#include <grant/route/merge_plan.hpp>

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_route_merge_plan_test {

using namespace grant;
using db::ValueType;

TEST_CASE("route::plan_merge") {
  SUBCASE("no ORDER BY or LIMIT: the query goes out as it is") {
    const auto plan = route::plan_merge("SELECT * FROM t WHERE a = 'ORDER BY x'");
    CHECK(plan.order.empty());
    CHECK_FALSE(plan.limit);
    CHECK(plan.shard_sql == "SELECT * FROM t WHERE a = 'ORDER BY x'");
  }
  SUBCASE("ORDER BY names, positions, directions and nulls") {
    const auto plan =
        route::plan_merge("SELECT a, b, c FROM t ORDER BY t.a DESC, 2 NULLS FIRST, \"C\"\"x\" ASC NULLS LAST");
    REQUIRE(plan.order.size() == 3);
    CHECK(plan.order[0].column == "a");
    CHECK(plan.order[0].descending);
    CHECK(plan.order[0].nulls_come_first()); // PostgreSQL: DESC puts nulls first
    CHECK(plan.order[1].position == 2);
    CHECK(plan.order[1].nulls_come_first());
    CHECK(plan.order[2].column == "C\"x");
    CHECK_FALSE(plan.order[2].nulls_come_first());
    CHECK(plan.shard_sql == "SELECT a, b, c FROM t ORDER BY t.a DESC, 2 NULLS FIRST, \"C\"\"x\" ASC NULLS LAST");
  }
  SUBCASE("LIMIT stays on each shard; OFFSET moves to the merge") {
    const auto plan = route::plan_merge("SELECT id FROM t ORDER BY id LIMIT 10 OFFSET 5;");
    CHECK(plan.limit == 10);
    CHECK(plan.offset == 5);
    CHECK(plan.shard_sql == "SELECT id FROM t ORDER BY id LIMIT 15");
    const auto swapped = route::plan_merge("select id from t order by id offset 5 rows limit 10");
    CHECK(swapped.limit == 10);
    CHECK(swapped.offset == 5);
  }
  SUBCASE("ORDER BY inside parentheses, strings and comments is not the query's") {
    const auto plan = route::plan_merge(
        "SELECT id, row_number() OVER (ORDER BY x) FROM t /* ORDER BY y */ WHERE s = $$ LIMIT 3 $$ -- LIMIT 4\n");
    CHECK(plan.order.empty());
    CHECK_FALSE(plan.limit);
  }
  SUBCASE("COLLATE is accepted: the merge compares bytes") {
    const auto plan = route::plan_merge("SELECT name FROM t ORDER BY name COLLATE \"C\" LIMIT 3");
    REQUIRE(plan.order.size() == 1);
    CHECK(plan.order[0].column == "name");
  }
  SUBCASE("what the merge cannot apply is a usage error") {
    CHECK_THROWS_AS(route::plan_merge("SELECT a FROM t ORDER BY lower(a)"), ConfigError);
    CHECK_THROWS_AS(route::plan_merge("SELECT a FROM t ORDER BY a + 1"), ConfigError);
    CHECK_THROWS_AS(route::plan_merge("SELECT a FROM t ORDER BY a LIMIT $1"), ConfigError);
    CHECK_THROWS_AS(route::plan_merge("SELECT a FROM t ORDER BY a FOR UPDATE"), ConfigError);
  }
}

TEST_CASE("route::resolve_sort_key") {
  const std::vector<db::Column> columns{{"id", ValueType::integer}, {"name", ValueType::text}};
  CHECK(route::resolve_sort_key({"name", 0, false, {}}, columns) == 1);
  CHECK(route::resolve_sort_key({"", 1, false, {}}, columns) == 0);
  CHECK_THROWS_AS(route::resolve_sort_key({"", 3, false, {}}, columns), ConfigError);
  CHECK_THROWS_WITH_AS(route::resolve_sort_key({"total", 0, false, {}}, columns),
                       doctest::Contains("not an output column"), ConfigError);
}

TEST_CASE("route::compare_values") {
  CHECK(route::compare_values("9", ValueType::integer, "10", ValueType::integer) < 0);
  CHECK(route::compare_values("-3", ValueType::integer, "-20", ValueType::integer) > 0);
  CHECK(route::compare_values("9223372036854775807", ValueType::integer, "1", ValueType::integer) > 0);
  CHECK(route::compare_values("2.5", ValueType::number, "10", ValueType::number) < 0);
  CHECK(route::compare_values("NaN", ValueType::number, "Infinity", ValueType::number) > 0);
  CHECK(route::compare_values("-Infinity", ValueType::number, "-1e300", ValueType::number) < 0);
  CHECK(route::compare_values("f", ValueType::boolean, "t", ValueType::boolean) < 0);
  CHECK(route::compare_values("B", ValueType::text, "a", ValueType::text) < 0); // bytes: the "C" collation
  CHECK(route::compare_values("x", ValueType::text, "x", ValueType::text) == 0);
  CHECK(route::compare_values("5", ValueType::integer, "apple", ValueType::text) < 0); // SQLite: numbers first
}

TEST_CASE("db::leading_keyword") {
  CHECK(db::leading_keyword("  /* a /* nested */ comment */ -- line\n (SELECT 1)") == "select");
  CHECK(db::leading_keyword("WITH x AS (SELECT 1) SELECT * FROM x") == "with");
  CHECK(db::leading_keyword("").empty());
  CHECK(db::is_query_statement("values (1)"));
  CHECK(db::is_query_statement("TABLE t"));
  CHECK_FALSE(db::is_query_statement("INSERT INTO t VALUES (1)"));
  CHECK_FALSE(db::is_query_statement("explain select 1"));
}

} // namespace grant_test_route_merge_plan_test
