// The Tracker on a real connection, watched statement by statement: the table's columns are read
// once per Tracker, and on PostgreSQL the schema is fixed before any migration can change it.
#include <grant/migrate/tracking.hpp>

#include <grant/db/connection.hpp>

#include "support/support.hpp"

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_migrate_tracker_test {

using namespace grant;
using grant::test::contains;

namespace {

// Forwards to a real connection and keeps every statement it was asked to run.
class Recording final : public db::Connection {
public:
  explicit Recording(std::unique_ptr<db::Connection> inner) : Connection("recording"), m_inner(std::move(inner)) {}

  db::Dialect dialect() const override { return m_inner->dialect(); }
  void execute(std::string_view sql) override {
    statements.emplace_back(sql);
    m_inner->execute(sql);
  }
  db::Rows query(std::string_view sql, const db::Params& params) override {
    statements.emplace_back(sql);
    return m_inner->query(sql, params);
  }
  void stream(std::string_view sql, const db::RowCallback& on_row) override { m_inner->stream(sql, on_row); }
  void stream_result(std::string_view sql, db::ResultSink& sink, const db::StreamOptions& options) override {
    m_inner->stream_result(sql, sink, options);
  }
  void interrupt() noexcept override { m_inner->interrupt(); }
  void set_statement_timeout(std::chrono::milliseconds timeout) override { m_inner->set_statement_timeout(timeout); }
  std::string reset_session_sql() const override { return m_inner->reset_session_sql(); }
  bool in_recovery() override { return m_inner->in_recovery(); }
  std::string server_version() override { return m_inner->server_version(); }
  bool is_usable() const noexcept override { return m_inner->is_usable(); }

  std::size_t count(const std::string& part) const {
    return static_cast<std::size_t>(
        std::count_if(statements.begin(), statements.end(), [&](const std::string& s) { return contains(s, part); }));
  }
  std::vector<std::string> statements;

protected:
  std::string begin_statement(const db::TxOptions&) const override {
    return m_inner->dialect() == db::Dialect::postgres ? "BEGIN" : "BEGIN IMMEDIATE";
  }

private:
  std::unique_ptr<db::Connection> m_inner;
};

migrate::Migration migration(const std::string& version) {
  migrate::Migration out;
  out.version = version;
  out.name = "m" + version;
  out.checksum = "c" + version;
  return out;
}

} // namespace

TEST_CASE("migrate::tracker") {
  SUBCASE("sqlite: the columns are read once, however often the Tracker is asked") {
    test::TempDir dir;
    Recording connection(db::connect(util::parse_database_url("sqlite3:t.sqlite3", dir.path()), {"t", 1000, "grant"}));
    connection.execute("CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY)");
    connection.execute("INSERT INTO schema_migrations VALUES ('001')");
    migrate::Tracker tracker(connection, "schema_migrations");
    tracker.ensure(); // adopts the dbmate table
    CHECK(tracker.applied().size() == 1);
    tracker.record(migration("2"), 5);
    CHECK(tracker.applied().size() == 2);
    CHECK(tracker.remove("1") == 1); // the row says 001
    CHECK(tracker.remove("1") == 0);
    CHECK(tracker.applied().size() == 1);
    CHECK(tracker.format() == migrate::TableFormat::grant);
    CHECK(connection.count("WHERE 1 = 0") == 1);
    CHECK(connection.count("sqlite_master") == 2); // the table once, Flyway's history once
  }

  SUBCASE("postgres: resolved once, so an emptied search_path changes nothing") {
    auto url = test::fresh_database(test::writer_url(), "mig_tracker");
    Recording connection(db::connect(util::parse_database_url(url, {}), {"t", 5000, "grant"}));
    migrate::Tracker tracker(connection, "schema_migrations");
    CHECK(tracker.qualified() == "\"public\".\"schema_migrations\"");
    tracker.ensure();
    connection.execute("SELECT pg_catalog.set_config('search_path', '', false)");
    tracker.record(migration("1"), 1);
    CHECK(tracker.applied().size() == 1);
    CHECK(tracker.record_sql(migration("2")).find("INSERT INTO \"public\".\"schema_migrations\"") == 0);
    CHECK(connection.count("current_schema()") == 1);
    CHECK(connection.query("SELECT count(*) FROM public.schema_migrations", {}).scalar() == db::Value{"1"});
  }
}

} // namespace grant_test_migrate_tracker_test
