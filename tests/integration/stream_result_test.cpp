// db::Connection::stream_result and interrupt() against the real writer and SQLite files: typed
// columns, cursor batches, the read-only transaction, and a session broken from another thread
// while the fault proxy holds its server silent.
#include <grant/db/connection.hpp>
#include <grant/db/error.hpp>

#include "support/fault_proxy.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_stream_result_test {

using namespace grant;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<db::Connection> open(const std::string& url) {
  return db::connect(util::parse_database_url(url, {}), {"stream", 5000, "grant-test"});
}

// Keeps everything a stream delivers.
struct Collect final : db::ResultSink {
  std::vector<db::Column> columns_seen;
  std::vector<std::vector<std::optional<std::string>>> rows;
  std::vector<std::vector<db::ValueType>> types;
  int described = 0;
  long long affected = -1;
  long long throw_after = -1;

  void columns(const std::vector<db::Column>& columns) override {
    columns_seen = columns;
    ++described;
  }
  void row(const db::RowView& row) override {
    if (throw_after >= 0 && static_cast<long long>(rows.size()) == throw_after) {
      throw std::runtime_error("enough");
    }
    auto& out = rows.emplace_back();
    for (std::size_t c = 0; c < row.fields.size(); ++c) {
      out.push_back(row.nulls[c] ? std::nullopt : std::optional<std::string>(std::string(row.fields[c])));
    }
    if (row.types != nullptr) {
      types.push_back(*row.types);
    }
  }
  void finished(long long count) override { affected = count; }
};

} // namespace

TEST_CASE("db::stream_result on PostgreSQL") {
  const auto url = test::fresh_database(test::writer_url(), "stream");
  auto connection = open(url);

  SUBCASE("a query streams in cursor batches with typed columns") {
    Collect sink;
    connection->stream_result(
        "SELECT g AS id, g * 1.5 AS half, g % 2 = 0 AS even, json_build_object('g', g) AS doc, "
        "CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END AS name FROM generate_series(1, 12345) g",
        sink, {false, 1000});
    CHECK(sink.described == 1);
    REQUIRE(sink.columns_seen.size() == 5);
    CHECK(sink.columns_seen[0].name == "id");
    CHECK(sink.columns_seen[0].type == db::ValueType::integer);
    CHECK(sink.columns_seen[1].type == db::ValueType::number);
    CHECK(sink.columns_seen[2].type == db::ValueType::boolean);
    CHECK(sink.columns_seen[3].type == db::ValueType::json);
    CHECK(sink.columns_seen[4].type == db::ValueType::text);
    REQUIRE(sink.rows.size() == 12345);
    CHECK(sink.affected == 12345);
    CHECK(sink.rows[2][0] == "3");
    CHECK(sink.rows[2][4] == std::nullopt);
    CHECK(sink.rows[3][2] == "t");
    CHECK(sink.rows[12344][0] == "12345");
    CHECK(connection->transaction_depth() == 0);
  }

  SUBCASE("an empty result still describes its columns") {
    Collect sink;
    connection->stream_result("SELECT 1 AS a, 'x'::text AS b WHERE false", sink);
    CHECK(sink.described == 1);
    CHECK(sink.columns_seen.size() == 2);
    CHECK(sink.rows.empty());
  }

  SUBCASE("a statement that is not a query runs whole and reports what it changed") {
    connection->execute("CREATE TABLE items (id int PRIMARY KEY)");
    Collect sink;
    connection->stream_result("INSERT INTO items SELECT generate_series(1, 7)", sink);
    CHECK(sink.affected == 7);
    CHECK(sink.rows.empty());
    Collect returning;
    connection->stream_result("DELETE FROM items WHERE id > 5 RETURNING id", returning);
    CHECK(returning.rows.size() == 2);
  }

  SUBCASE("a WITH whose body writes cannot be a cursor: it runs whole, and writes once") {
    connection->execute("CREATE TABLE items (id int PRIMARY KEY)");
    Collect sink;
    connection->stream_result("WITH added AS (INSERT INTO items VALUES (1), (2) RETURNING id) SELECT id FROM added",
                              sink);
    CHECK(sink.rows.size() == 2);
    CHECK(connection->query("SELECT count(*) FROM items").scalar() == "2");
  }

  SUBCASE("read-only: the server refuses a write and nothing changes") {
    connection->execute("CREATE TABLE items (id int PRIMARY KEY)");
    Collect sink;
    try {
      connection->stream_result("INSERT INTO items VALUES (1)", sink, {true, 100});
      FAIL("the write went through");
    } catch (const db::DbError& error) {
      CHECK(error.sqlstate() == "25006"); // read_only_sql_transaction
    }
    CHECK(connection->transaction_depth() == 0);
    CHECK(connection->query("SELECT count(*) FROM items").scalar() == "0");
  }

  SUBCASE("inside the caller's transaction, twice: the cursor is closed each time") {
    db::Transaction transaction(*connection, {db::Isolation::default_level, true});
    for (int round = 0; round < 2; ++round) {
      Collect sink;
      connection->stream_result("SELECT generate_series(1, 10)", sink, {false, 3});
      CHECK(sink.rows.size() == 10);
    }
    transaction.commit();
  }

  SUBCASE("a sink that throws stops the stream and leaves the session usable") {
    Collect sink;
    sink.throw_after = 150;
    CHECK_THROWS_WITH(connection->stream_result("SELECT generate_series(1, 100000)", sink, {false, 100}), "enough");
    CHECK(connection->transaction_depth() == 0);
    CHECK(connection->is_usable());
    CHECK(connection->query("SELECT 41 + 1").scalar() == "42");
  }
}

TEST_CASE("db::stream_result on SQLite types each value") {
  test::TempDir dir;
  auto connection = open("sqlite:" + (dir / "t.db").string());
  connection->execute("CREATE TABLE mixed (v); INSERT INTO mixed VALUES (1), (2.5), ('three'), (NULL)");
  Collect sink;
  connection->stream_result("SELECT v FROM mixed ORDER BY rowid", sink);
  REQUIRE(sink.rows.size() == 4);
  REQUIRE(sink.types.size() == 4);
  CHECK(sink.types[0][0] == db::ValueType::integer);
  CHECK(sink.types[1][0] == db::ValueType::number);
  CHECK(sink.types[2][0] == db::ValueType::text);
  CHECK(sink.rows[3][0] == std::nullopt);

  Collect refused;
  CHECK_THROWS_AS(connection->stream_result("INSERT INTO mixed VALUES (5)", refused, {true, 100}), db::DbError);
  CHECK(connection->query("SELECT count(*) FROM mixed").scalar() == "4");
}

TEST_CASE("db::interrupt breaks a session whose server went silent") {
  test::FaultProxy proxy(test::writer_url());
  auto connection = open(proxy.url());
  proxy.add_rule("grant_silent_marker", test::FaultProxy::Action::stall);
  std::thread breaker([&] {
    std::this_thread::sleep_for(300ms);
    connection->interrupt();
  });
  try {
    connection->query("SELECT 'grant_silent_marker'");
    FAIL("the stalled statement returned");
  } catch (const db::DbError& error) {
    CHECK(error.connection_lost());
  }
  breaker.join();
  CHECK_FALSE(connection->is_usable());
  proxy.release();
}

} // namespace grant_test_stream_result_test
