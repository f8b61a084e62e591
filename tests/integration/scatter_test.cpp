// route::scatter_gather over four real shard databases: merged order and limits checked against
// the same query on one table holding every row, a failing shard, and shards made silent or cut
// off mid-stream by the fault proxy.
#include <grant/config/load.hpp>
#include <grant/db/connection.hpp>
#include <grant/registry/registry.hpp>
#include <grant/route/scatter.hpp>

#include "support/fault_proxy.hpp"
#include "support/fleet.hpp"

#include <doctest/doctest.h>

#include <map>
#include <random>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_scatter_test {

using namespace grant;
using namespace std::chrono_literals;
using test::FaultProxy;

namespace {

using Row = std::vector<std::optional<std::string>>;

struct Collect final : route::MergedSink {
  std::vector<db::Column> seen;
  std::vector<std::string> shards;
  std::vector<Row> rows;
  void columns(const std::vector<db::Column>& columns) override { seen = columns; }
  void row(const std::string& shard, const db::RowView& row) override {
    shards.push_back(shard);
    auto& out = rows.emplace_back();
    for (std::size_t c = 0; c < row.fields.size(); ++c) {
      out.push_back(row.nulls[c] ? std::nullopt : std::optional<std::string>(std::string(row.fields[c])));
    }
  }
};

std::vector<Row> rows_of(db::Connection& connection, const std::string& sql) {
  const auto result = connection.query(sql);
  return {result.rows.begin(), result.rows.end()};
}

// The fleet's shards as scatter targets, straight to each shard's writer pool.
std::vector<route::ShardTarget> targets_of(registry::Registry& registry) {
  std::vector<route::ShardTarget> targets;
  for (const auto& shard : registry.database("orders").shards) {
    targets.push_back({shard.name, "orders/" + shard.name,
                       [&registry, name = shard.name] { return registry.writer("orders", name).checkout(); }});
  }
  return targets;
}

const char* k_table = "CREATE TABLE items (id int PRIMARY KEY, qty int, price numeric, name text, flag boolean)";

// Random rows spread over the shards by id, and every one of them in `combined` too.
void fill(test::ShardFleet& fleet, db::Connection& combined) {
  std::mt19937 random(20261201);
  std::vector<std::string> values(static_cast<std::size_t>(fleet.size()));
  std::string all;
  for (int id = 1; id <= 600; ++id) {
    const auto qty = std::uniform_int_distribution<int>(-50, 50)(random);
    const bool null_qty = qty % 7 == 0;
    const std::string price = std::to_string(std::uniform_int_distribution<int>(0, 99999)(random)) + ".25";
    const std::string name =
        std::string(1, static_cast<char>('A' + id % 26)) + (id % 3 == 0 ? "a" : "Z") + std::to_string(id % 11);
    const std::string row = "(" + std::to_string(id) + ", " + (null_qty ? "NULL" : std::to_string(qty)) + ", " + price +
                            ", '" + name + "', " + (id % 2 == 0 ? "true" : "false") + ")";
    auto& shard = values[static_cast<std::size_t>(id % fleet.size())];
    shard += (shard.empty() ? "" : ", ") + row;
    all += (all.empty() ? "" : ", ") + row;
  }
  for (int i = 0; i < fleet.size(); ++i) {
    fleet.execute(i, k_table);
    fleet.execute(i, "INSERT INTO items VALUES " + values[static_cast<std::size_t>(i)]);
  }
  combined.execute(k_table);
  combined.execute("INSERT INTO items VALUES " + all);
}

} // namespace

TEST_CASE("scatter_gather over four shards") {
  test::ShardFleet fleet(4, "scatter", true);
  auto combined = db::connect(util::parse_database_url(test::fresh_database(test::writer_url(), "combined"), {}),
                              {"combined", 5000, "grant-test"});
  fill(fleet, *combined);
  const auto config = config::load(fleet.dir / "grant.json", config::process_env());
  registry::Registry registry(config);
  auto targets = targets_of(registry);

  SUBCASE("ORDER BY + LIMIT across shards equals the same query on one combined table") {
    for (const std::string sql : {
             "SELECT id, qty, name FROM items ORDER BY qty, id LIMIT 40",
             "SELECT id, qty FROM items ORDER BY qty DESC NULLS LAST, id LIMIT 25 OFFSET 7",
             "SELECT id, qty FROM items ORDER BY qty NULLS FIRST, id DESC",
             "SELECT name, id FROM items ORDER BY name COLLATE \"C\" DESC, 2 LIMIT 33",
             "SELECT price, id FROM items ORDER BY price, id LIMIT 50 OFFSET 100",
             "SELECT flag, id FROM items ORDER BY flag DESC, id DESC LIMIT 10",
             "SELECT id FROM items ORDER BY 1 OFFSET 590",
         }) {
      CAPTURE(sql);
      Collect sink;
      const auto plan = route::plan_merge(sql);
      route::ScatterOptions options;
      options.batch_rows = 7; // many batches per shard: the merge crosses batch ends often
      options.fetch_rows = 9; // and many round trips per shard
      options.queued_batches = 2;
      const auto result = route::scatter_gather(targets, plan, sink, options);
      const auto expected = rows_of(*combined, sql);
      CHECK(result.rows == static_cast<long long>(expected.size()));
      CHECK(sink.rows == expected);
      CHECK(result.failures.empty());
    }
  }

  SUBCASE("without ORDER BY every shard's rows arrive, each named by its shard") {
    Collect sink;
    route::ScatterOptions options;
    options.jobs = 2; // fewer readers than shards: they take the shards in turn
    options.batch_rows = 13;
    route::scatter_gather(targets, route::plan_merge("SELECT id FROM items"), sink, options);
    REQUIRE(sink.rows.size() == 600);
    std::map<std::string, int> per_shard;
    for (std::size_t i = 0; i < sink.rows.size(); ++i) {
      ++per_shard[sink.shards[i]];
      const int id = std::stoi(*sink.rows[i][0]);
      CHECK(sink.shards[i] == "s" + std::to_string(id % 4));
    }
    CHECK(per_shard.size() == 4);
    CHECK(sink.seen.size() == 1);
    CHECK(sink.seen[0].type == db::ValueType::integer);
  }

  SUBCASE("a failing shard: all-or-error names it; --partial keeps the others whole") {
    fleet.execute(2, "DROP TABLE items");
    Collect sink;
    try {
      route::scatter_gather(targets, route::plan_merge("SELECT id FROM items"), sink);
      FAIL("no error");
    } catch (const route::ScatterError& error) {
      CHECK(error.failure().shard == "s2");
      CHECK(error.target() == "orders/s2");
      CHECK(test::contains(error.what(), "does not exist"));
    }
    Collect partial_sink;
    route::ScatterOptions options;
    options.partial = true;
    const auto result =
        route::scatter_gather(targets, route::plan_merge("SELECT id FROM items ORDER BY id"), partial_sink, options);
    REQUIRE(result.failures.size() == 1);
    CHECK(result.failures[0].shard == "s2");
    CHECK(partial_sink.rows.size() == 450);
    CHECK(partial_sink.rows == rows_of(*combined, "SELECT id FROM items WHERE id % 4 <> 2 ORDER BY id"));
  }

  SUBCASE("a shard gone silent behind the proxy times out, named, and the rest stop") {
    FaultProxy proxy(fleet.url(1));
    fleet.route(1, proxy.url());
    const auto routed = config::load(fleet.dir / "grant.json", config::process_env());
    registry::Registry through_proxy(routed);
    auto proxied = targets_of(through_proxy);
    proxy.add_rule("FETCH FORWARD", FaultProxy::Action::stall, -1);
    route::ScatterOptions options;
    options.timeout = 1500ms;
    for (const bool ordered : {false, true}) {
      CAPTURE(ordered);
      Collect sink;
      try {
        route::scatter_gather(proxied,
                              route::plan_merge(ordered ? "SELECT id FROM items ORDER BY id" : "SELECT id FROM items"),
                              sink, options);
        FAIL("no error");
      } catch (const route::ScatterError& error) {
        CHECK(error.failure().shard == "s1");
        CHECK(error.failure().timed_out);
        CHECK(test::contains(error.what(), "no answer within 1500 ms"));
      }
      proxy.release();
    }
    // The same shard answers again once the network does.
    proxy.clear_rules();
    Collect sink;
    route::scatter_gather(proxied, route::plan_merge("SELECT id FROM items ORDER BY id"), sink, options);
    CHECK(sink.rows.size() == 600);
  }

  SUBCASE("a connection cut mid-stream fails that shard, never a silent short result") {
    FaultProxy proxy(fleet.url(3));
    fleet.route(3, proxy.url());
    const auto routed = config::load(fleet.dir / "grant.json", config::process_env());
    registry::Registry through_proxy(routed);
    auto proxied = targets_of(through_proxy);
    proxy.add_rule("FETCH FORWARD", FaultProxy::Action::drop_after, 1);
    route::ScatterOptions options;
    options.batch_rows = 10;
    Collect sink;
    try {
      route::scatter_gather(proxied, route::plan_merge("SELECT id FROM items"), sink, options);
      FAIL("no error");
    } catch (const route::ScatterError& error) {
      CHECK(error.failure().shard == "s3");
      CHECK(test::contains(error.what(), "lost the connection"));
    }
  }

  SUBCASE("shards whose columns differ are an error naming the odd one") {
    fleet.execute(0, "ALTER TABLE items ADD COLUMN extra int");
    Collect sink;
    route::ScatterOptions options;
    options.jobs = 1; // s0 first: it sets the columns, the others then differ
    CHECK_THROWS_WITH_AS(route::scatter_gather(targets, route::plan_merge("SELECT * FROM items"), sink, options),
                         doctest::Contains("columns where shard s0 returned"), route::ScatterError);
  }
}

} // namespace grant_test_scatter_test
