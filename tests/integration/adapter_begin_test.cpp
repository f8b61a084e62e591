// The PostgreSQL adapter holds a transaction's BEGIN back and sends it in front of the next
// statement: one round trip fewer per transaction (a migration is one). Seen from a second
// session in pg_stat_activity, on a fresh database of the test writer.
#include <grant/db/connection.hpp>

#include "support/support.hpp"

#include <doctest/doctest.h>

#include <string>

namespace grant_test_adapter_begin_test {

using namespace grant;

namespace {

struct Watched {
  std::unique_ptr<db::Connection> session;
  std::unique_ptr<db::Connection> admin;
  std::string pid;

  Watched() {
    db::ConnectOptions options;
    options.target = "pg/adapter_begin";
    session =
        db::connect(util::parse_database_url(test::fresh_database(test::writer_url(), "adapter_begin"), "/"), options);
    admin = db::connect(util::parse_database_url(test::writer_url(), "/"), {});
    pid = session->query("SELECT pg_backend_pid()").scalar().value_or("0");
  }
  // The watched session's last statement as the server received it, and its state.
  std::string last() const {
    return admin->query("SELECT query FROM pg_stat_activity WHERE pid = $1", {pid}).scalar().value_or("");
  }
  std::string state() const {
    return admin->query("SELECT state FROM pg_stat_activity WHERE pid = $1", {pid}).scalar().value_or("");
  }
};

} // namespace

TEST_CASE("db::adapter PostgreSQL: a transaction's BEGIN travels with its first statement") {
  Watched w;
  auto& c = *w.session;

  SUBCASE("execute: one simple query, and the transaction is open on the server") {
    db::Transaction transaction(c);
    CHECK(w.state() == "idle"); // nothing sent yet
    c.execute("CREATE TABLE begun (id int)");
    CHECK(w.last() == "BEGIN;\nCREATE TABLE begun (id int)");
    CHECK(w.state() == "idle in transaction");
    c.execute("INSERT INTO begun VALUES (1)");
    CHECK(w.last() == "INSERT INTO begun VALUES (1)");
    transaction.commit();
    CHECK(w.state() == "idle");
    CHECK(c.query("SELECT count(*) FROM begun").scalar() == "1");
  }

  SUBCASE("options travel with it; a query without parameters carries it too") {
    db::Transaction transaction(c, {db::Isolation::serializable, true});
    CHECK(c.query("SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only')")
              .rows.at(0) == std::vector<db::Value>{"serializable", "on"});
    CHECK(w.last().rfind("BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY;\nSELECT current_setting(", 0) == 0);
  }

  SUBCASE("a query with parameters (one statement by protocol) sends the BEGIN on its own first") {
    db::Transaction transaction(c);
    CHECK(c.query("SELECT $1::int + 1", {db::Value{"41"}}).scalar() == "42");
    CHECK(w.last() == "SELECT $1::int + 1");
    CHECK(w.state() == "idle in transaction");
  }

  SUBCASE("a statement the server cannot parse: its error counts lines from the statement, and the "
          "transaction is open and aborted as after a BEGIN of its own") {
    {
      db::Transaction transaction(c);
      const std::string script = "CREATE TABLE kept (id int);\nSELEC 2;";
      try {
        c.execute(script);
        FAIL("expected a DbError");
      } catch (const db::DbError& error) {
        CHECK(error.statement() == script);
        CHECK(error.details().line == 2);
        CHECK(test::contains(error.what(), "LINE 2: SELEC 2;"));
        CHECK(error.sqlstate() == "42601");
      }
      CHECK(w.state() == "idle in transaction (aborted)");
      try {
        c.execute("CREATE TABLE after_failure (id int)");
        FAIL("expected the aborted transaction to refuse the statement");
      } catch (const db::DbError& error) {
        CHECK(error.sqlstate() == "25P02");
      }
    }
    CHECK(w.state() == "idle");
    CHECK(c.query("SELECT to_regclass('kept') IS NULL AND to_regclass('after_failure') IS NULL").scalar() == "t");
  }

  SUBCASE("a statement that fails as it runs leaves the transaction aborted, as before") {
    db::Transaction transaction(c);
    CHECK_THROWS_AS(c.execute("SELECT * FROM no_such_table"), db::DbError);
    CHECK(w.state() == "idle in transaction (aborted)");
  }

  SUBCASE("a transaction with no statement sends BEGIN with its COMMIT or ROLLBACK") {
    {
      db::Transaction transaction(c);
      transaction.commit();
    }
    CHECK(w.last() == "BEGIN;\nCOMMIT");
    { db::Transaction transaction(c); }
    CHECK(w.last() == "BEGIN;\nROLLBACK");
    CHECK(w.state() == "idle");
    CHECK(c.query("SELECT 1").scalar() == "1");
  }

  SUBCASE("a savepoint first carries the BEGIN") {
    db::Transaction outer(c);
    {
      db::Transaction inner(c);
      CHECK(w.last() == "BEGIN;\nSAVEPOINT grant_sp_2");
      c.execute("CREATE TABLE inner_t (id int)");
      inner.commit();
    }
    outer.commit();
    CHECK(c.query("SELECT to_regclass('inner_t') IS NOT NULL").scalar() == "t");
  }
}

} // namespace grant_test_adapter_begin_test
