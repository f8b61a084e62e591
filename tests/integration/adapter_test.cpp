// Both adapters against real databases: a fresh PostgreSQL database on the test writer and a
// SQLite file in a temporary folder. Each SUBCASE below the adapter choice runs on its own.
#include <grant/db/connection.hpp>

#include "support/support.hpp"

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_adapter_test {

using grant::test::closed_port;

using namespace grant;
using grant::test::TempDir;

namespace {

std::unique_ptr<db::Connection> open_postgres(const std::string& prefix) {
  const auto url = util::parse_database_url(test::fresh_database(test::writer_url(), prefix), "/");
  db::ConnectOptions options;
  options.target = "pg/" + prefix;
  return db::connect(url, options);
}

std::unique_ptr<db::Connection> open_sqlite(const TempDir& dir, const std::string& name) {
  const auto url = util::parse_database_url("sqlite3:" + name + ".sqlite3", dir.path());
  db::ConnectOptions options;
  options.target = "sqlite/" + name;
  return db::connect(url, options);
}

std::vector<std::string> column(const db::Rows& rows, std::size_t index = 0) {
  std::vector<std::string> out;
  for (const auto& row : rows.rows) {
    out.push_back(row.at(index).value_or("NULL"));
  }
  return out;
}

// Runs `suite` once on a fresh PostgreSQL database and once on a fresh SQLite file. SUBCASEs
// inside the suite then run once per adapter (doctest only nests subcases, it does not multiply
// sibling ones).
template <typename Suite> void on_each_adapter(const std::string& name, Suite&& suite) {
  SUBCASE("postgres") {
    auto connection = open_postgres("adapter_" + name);
    suite(*connection);
  }
  SUBCASE("sqlite") {
    TempDir dir;
    auto connection = open_sqlite(dir, name);
    suite(*connection);
  }
}

} // namespace

TEST_CASE("db::adapter scripts, parameters and results") {
  on_each_adapter("basic", [](db::Connection& c) {
    CAPTURE(db::dialect_name(c.dialect()));

    c.execute(R"(
    CREATE TABLE people (id integer PRIMARY KEY, name text, note text);
    -- a comment between statements
    INSERT INTO people VALUES (1, 'ada', 'first');
    INSERT INTO people VALUES (2, 'brian', NULL);
  )");

    SUBCASE("a multi-statement script runs every statement") {
      const auto rows = c.query("SELECT id, name FROM people ORDER BY id");
      CHECK(rows.columns == std::vector<std::string>{"id", "name"});
      CHECK(column(rows, 1) == std::vector<std::string>{"ada", "brian"});
    }

    SUBCASE("$n parameters, including NULL, bind by position") {
      c.query("INSERT INTO people (id, name, note) VALUES ($1, $2, $3)", {"3", "it's \"quoted\"", std::nullopt});
      const auto rows = c.query("SELECT name, note FROM people WHERE id = $1", {"3"});
      REQUIRE(rows.size() == 1);
      CHECK(rows.at(0, 0) == "it's \"quoted\"");
      CHECK_FALSE(rows.at(0, 1).has_value());
      // The same parameter used twice, out of order.
      const auto twice = c.query("SELECT name FROM people WHERE id = $2 OR id = $1 ORDER BY id", {"1", "3"});
      CHECK(column(twice) == std::vector<std::string>{"ada", "it's \"quoted\""});
      // NULL comes back as NULL, not as an empty string.
      CHECK_FALSE(c.query("SELECT note FROM people WHERE id = 2").scalar().has_value());
      CHECK(c.query("SELECT note FROM people WHERE id = 1").scalar() == "first");
    }

    SUBCASE("affected rows") {
      const auto updated = c.query("UPDATE people SET note = $1", {"x"});
      CHECK(updated.affected == 2);
    }

    SUBCASE("scalar() refuses a result of the wrong shape") {
      CHECK_THROWS_AS(c.query("SELECT id FROM people").scalar(), Error);
    }

    SUBCASE("quoting round-trips a weird identifier and literal") {
      const std::string table = "we\"ird Table; DROP TABLE people; --";
      const std::string col = "Col \"x\"";
      const std::string text = "O'Reilly \\ \"q\" ; --";
      c.execute("CREATE TABLE " + c.quote_identifier(table) + " (" + c.quote_identifier(col) + " text)");
      c.execute("INSERT INTO " + c.quote_identifier(table) + " VALUES (" + c.quote_literal(text) + ")");
      CHECK(c.query("SELECT " + c.quote_identifier(col) + " FROM " + c.quote_identifier(table)).scalar() == text);
      CHECK(c.query("SELECT count(*) FROM people").scalar() == "2"); // the DROP inside the name did nothing
      const auto catalog = c.dialect() == db::Dialect::postgres
                               ? "SELECT count(*) FROM information_schema.tables WHERE table_name = $1"
                               : "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1";
      CHECK(c.query(catalog, {table}).scalar() == "1");
    }

    SUBCASE("errors carry the statement, the target and the line") {
      const std::string script = "INSERT INTO people VALUES (9, 'x', 'y');\nSELECT 1;\nSELECT * FROM no_such_table;";
      try {
        c.execute(script);
        FAIL("expected a DbError");
      } catch (const db::DbError& error) {
        CHECK(error.exit_code() == 3);
        CHECK(std::string(error.what()).find("no_such_table") != std::string::npos);
        CHECK(error.statement() == script);
        CHECK(error.target() == (c.dialect() == db::Dialect::postgres ? "pg/adapter_basic" : "sqlite/basic"));
        CHECK(error.details().line == 3);
        CHECK_FALSE(error.connection_lost());
        if (c.dialect() == db::Dialect::postgres) {
          CHECK(error.sqlstate() == "42P01");
        } else {
          CHECK(error.details().sqlite_code == 1); // SQLITE_ERROR
        }
      }
      // The session is still usable after a failed statement.
      CHECK(c.is_usable());
      CHECK(c.query("SELECT count(*) FROM people WHERE id < 9").scalar() == "2");
    }

    SUBCASE("a constraint violation") {
      try {
        c.query("INSERT INTO people (id, name) VALUES ($1, $2)", {"1", "dup"});
        FAIL("expected a DbError");
      } catch (const db::DbError& error) {
        if (c.dialect() == db::Dialect::postgres) {
          CHECK(error.sqlstate() == "23505");
        } else {
          CHECK(error.details().sqlite_code == 1555); // SQLITE_CONSTRAINT_PRIMARYKEY
        }
      }
    }

    SUBCASE("server identity") {
      CHECK_FALSE(c.in_recovery());
      CHECK(c.server_version().rfind(c.dialect() == db::Dialect::postgres ? "PostgreSQL 15" : "SQLite 3", 0) == 0);
    }
  });
}

TEST_CASE("db::adapter transactions") {
  on_each_adapter("tx", [](db::Connection& c) {
    CAPTURE(db::dialect_name(c.dialect()));
    c.execute("CREATE TABLE t (v integer PRIMARY KEY)");
    const auto values = [&] { return column(c.query("SELECT v FROM t ORDER BY v")); };

    SUBCASE("rolled back when destroyed without commit") {
      {
        db::Transaction tx(c);
        c.execute("INSERT INTO t VALUES (1)");
        CHECK(c.transaction_depth() == 1);
      }
      CHECK(c.transaction_depth() == 0);
      CHECK(values().empty());
    }

    SUBCASE("rolled back when an exception unwinds through it") {
      try {
        db::Transaction tx(c);
        c.execute("INSERT INTO t VALUES (1)");
        c.execute("INSERT INTO t VALUES (1)"); // duplicate key
        tx.commit();
      } catch (const db::DbError&) {
      }
      CHECK(values().empty());
      c.execute("INSERT INTO t VALUES (5)"); // autocommit works again
      CHECK(values() == std::vector<std::string>{"5"});
    }

    SUBCASE("committed") {
      db::Transaction tx(c);
      c.execute("INSERT INTO t VALUES (1)");
      tx.commit();
      CHECK(values() == std::vector<std::string>{"1"});
      CHECK_THROWS_AS(tx.commit(), Error); // already finished
    }

    SUBCASE("nested savepoints: an inner rollback keeps the outer work") {
      db::Transaction outer(c);
      c.execute("INSERT INTO t VALUES (1)");
      {
        db::Transaction inner(c);
        CHECK(inner.is_savepoint());
        c.execute("INSERT INTO t VALUES (2)");
        {
          db::Transaction innermost(c);
          c.execute("INSERT INTO t VALUES (3)");
          innermost.commit();
        }
        CHECK(c.transaction_depth() == 2);
      } // inner rolls back, taking 2 and the released 3 with it
      {
        db::Transaction kept(c);
        c.execute("INSERT INTO t VALUES (4)");
        kept.commit();
      }
      c.execute("INSERT INTO t VALUES (5)");
      outer.commit();
      CHECK(values() == std::vector<std::string>{"1", "4", "5"});
    }

    SUBCASE("a failed statement inside a savepoint does not doom the outer transaction") {
      db::Transaction outer(c);
      c.execute("INSERT INTO t VALUES (1)");
      try {
        db::Transaction inner(c);
        c.execute("INSERT INTO t VALUES (1)"); // duplicate key
        inner.commit();
        FAIL("expected a DbError");
      } catch (const db::DbError&) {
      }
      c.execute("INSERT INTO t VALUES (2)");
      outer.commit();
      CHECK(values() == std::vector<std::string>{"1", "2"});
    }

    SUBCASE("outer rollback undoes committed savepoints") {
      {
        db::Transaction outer(c);
        db::Transaction inner(c);
        c.execute("INSERT INTO t VALUES (1)");
        inner.commit();
        outer.rollback();
      }
      CHECK(values().empty());
    }

    SUBCASE("a read-only transaction rejects writes, and the next one writes again") {
      {
        db::Transaction tx(c, {db::Isolation::default_level, true});
        CHECK(c.query("SELECT count(*) FROM t").scalar() == "0"); // reads are fine
        try {
          c.execute("INSERT INTO t VALUES (1)");
          FAIL("expected a DbError");
        } catch (const db::DbError& error) {
          if (c.dialect() == db::Dialect::postgres) {
            CHECK(error.sqlstate() == "25006");
          } else {
            CHECK((error.details().sqlite_code & 0xff) == 8); // SQLITE_READONLY
          }
        }
      }
      db::Transaction tx(c);
      c.execute("INSERT INTO t VALUES (1)");
      tx.commit();
      CHECK(values() == std::vector<std::string>{"1"});
      c.execute("INSERT INTO t VALUES (2)");
      CHECK(values() == std::vector<std::string>{"1", "2"});
    }

    SUBCASE("isolation levels") {
      if (c.dialect() == db::Dialect::postgres) {
        const auto level = [&](db::Isolation isolation) {
          db::Transaction tx(c, {isolation, false});
          return c.query("SHOW transaction_isolation").scalar().value_or("?");
        };
        CHECK(level(db::Isolation::default_level) == "read committed");
        CHECK(level(db::Isolation::read_committed) == "read committed");
        CHECK(level(db::Isolation::repeatable_read) == "repeatable read");
        CHECK(level(db::Isolation::serializable) == "serializable");
        db::Transaction tx(c, {db::Isolation::serializable, true});
        CHECK(c.query("SHOW transaction_read_only").scalar() == "on");
      } else {
        // SQLite transactions are always serializable; every level must still begin and commit.
        for (const auto isolation :
             {db::Isolation::read_committed, db::Isolation::repeatable_read, db::Isolation::serializable}) {
          db::Transaction tx(c, {isolation, false});
          c.execute("INSERT INTO t VALUES (" + std::to_string(static_cast<int>(isolation)) + ")");
          tx.commit();
        }
        CHECK(values().size() == 3);
      }
    }
  });
}

TEST_CASE("db::adapter streaming") {
  on_each_adapter("stream", [](db::Connection& c) {
    CAPTURE(db::dialect_name(c.dialect()));

    // Values that the COPY text format has to escape: tab, newline, carriage return, backslash,
    // \N-lookalikes, empty strings and real NULLs.
    const std::string tricky = c.dialect() == db::Dialect::postgres
                                   ? "'a' || chr(9) || 'b' || chr(10) || 'c' || chr(13) || E'\\\\N\\\\' || i"
                                   : "'a' || char(9) || 'b' || char(10) || 'c' || char(13) || '\\N\\' || i";
    const std::string source = c.dialect() == db::Dialect::postgres
                                   ? "SELECT i, CASE WHEN i % 10 = 0 THEN NULL WHEN i % 10 = 1 THEN '' ELSE " + tricky +
                                         " END AS v FROM generate_series(1, 100000) AS i ORDER BY i"
                                   : "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100000) "
                                     "SELECT i, CASE WHEN i % 10 = 0 THEN NULL WHEN i % 10 = 1 THEN '' ELSE " +
                                         tricky + " END AS v FROM s ORDER BY i";

    long long count = 0;
    long long bad = 0;
    c.stream(source, [&](const db::RowView& row) {
      ++count;
      if (row.fields.size() != 2) {
        ++bad;
        return;
      }
      const auto i = std::stoll(std::string(row.fields[0]));
      bad += i == count ? 0 : 1;
      if (i % 10 == 0) {
        bad += row.nulls[1] ? 0 : 1;
      } else if (i % 10 == 1) {
        bad += !row.nulls[1] && row.fields[1].empty() ? 0 : 1;
      } else {
        bad += !row.nulls[1] && row.fields[1] == "a\tb\nc\r\\N\\" + std::to_string(i) ? 0 : 1;
      }
    });
    CHECK(count == 100000);
    CHECK(bad == 0);

    if (c.dialect() == db::Dialect::postgres) {
      // The rows come through COPY ... TO STDOUT, not a buffered result: look from another session.
      const auto pid = c.query("SELECT pg_backend_pid()").scalar().value_or("0");
      auto admin = db::connect(util::parse_database_url(test::writer_url(), "/"), {});
      std::string seen;
      c.stream("SELECT 1", [&](const db::RowView&) {
        seen = admin->query("SELECT query FROM pg_stat_activity WHERE pid = $1", {pid}).scalar().value_or("");
      });
      CHECK(seen.rfind("COPY (SELECT 1) TO STDOUT", 0) == 0);
    }

    SUBCASE("an exception from the callback stops the stream and leaves the session usable") {
      int seen = 0;
      CHECK_THROWS_AS(c.stream(source,
                               [&](const db::RowView&) {
                                 if (++seen == 5) {
                                   throw std::runtime_error("stop");
                                 }
                               }),
                      std::runtime_error);
      CHECK(seen == 5);
      CHECK(c.query("SELECT 40 + 2").scalar() == "42");
    }

    SUBCASE("a failing stream is a DbError with the statement") {
      try {
        c.stream("SELECT * FROM no_such_table", [](const db::RowView&) {});
        FAIL("expected a DbError");
      } catch (const db::DbError& error) {
        CHECK(error.statement() == "SELECT * FROM no_such_table");
      }
      CHECK(c.query("SELECT 1").scalar() == "1");
    }
  });
}

TEST_CASE("db::adapter statement timeout") {
  on_each_adapter("timeout", [](db::Connection& c) {
    CAPTURE(db::dialect_name(c.dialect()));
    const std::string slow =
        c.dialect() == db::Dialect::postgres
            ? "SELECT pg_sleep(5)"
            : "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 5000000000) "
              "SELECT count(*) FROM s";
    c.set_statement_timeout(std::chrono::milliseconds(200));
    try {
      c.query(slow);
      FAIL("expected a DbError");
    } catch (const db::DbError& error) {
      CHECK(error.statement() == slow);
      if (c.dialect() == db::Dialect::postgres) {
        CHECK(error.sqlstate() == "57014"); // query_canceled
      } else {
        CHECK(std::string(error.what()).find("statement timeout") != std::string::npos);
      }
    }
    // The session survives, and lifting the bound lets a short statement through.
    c.set_statement_timeout(std::chrono::milliseconds(0));
    CHECK(c.query("SELECT 1").scalar() == "1");
    CHECK(c.is_usable());
  });
}

// libpqxx 6 raises deadlocks and serialization failures as pqxx::failure, not sql_error: their
// SQLSTATE must still reach DbError, since the retries of rebalance and migrate key on it.
TEST_CASE("db::adapter a deadlock and a serialization failure carry their SQLSTATE") {
  const auto url = util::parse_database_url(test::fresh_database(test::writer_url(), "adapter_retry"), "/");
  auto a = db::connect(url, {"pg/a", 5000, "grant"});
  auto b = db::connect(url, {"pg/b", 5000, "grant"});
  a->execute("CREATE TABLE r (id int PRIMARY KEY, v int); INSERT INTO r VALUES (1, 0), (2, 0)");

  SUBCASE("deadlock: 40P01") {
    a->execute("BEGIN; UPDATE r SET v = 1 WHERE id = 1");
    b->execute("BEGIN; UPDATE r SET v = 2 WHERE id = 2; SET LOCAL deadlock_timeout = '50ms'");
    // a waits for b's row; b then asks for a's row and, detecting first, is the one aborted.
    std::thread waiter([&] {
      try {
        a->execute("UPDATE r SET v = 1 WHERE id = 2");
      } catch (const db::DbError&) {
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::string sqlstate;
    try {
      b->execute("UPDATE r SET v = 2 WHERE id = 1");
    } catch (const db::DbError& error) {
      sqlstate = error.sqlstate();
      CHECK_FALSE(error.connection_lost());
    }
    b->execute("ROLLBACK");
    waiter.join();
    a->execute("ROLLBACK");
    CHECK(sqlstate == "40P01");
  }
  SUBCASE("serialization failure: 40001") {
    a->execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT * FROM r");
    b->execute("UPDATE r SET v = 5 WHERE id = 1");
    std::string sqlstate;
    try {
      a->execute("UPDATE r SET v = 6 WHERE id = 1");
    } catch (const db::DbError& error) {
      sqlstate = error.sqlstate();
    }
    a->execute("ROLLBACK");
    CHECK(sqlstate == "40001");
  }
}

TEST_CASE("db::adapter replica is read-only") {
  auto replica = db::connect(util::parse_database_url(test::replica_url(), "/"), {"replica", 5000, "grant"});
  CHECK(replica->in_recovery());
  auto writer = db::connect(util::parse_database_url(test::writer_url(), "/"), {"writer", 5000, "grant"});
  CHECK_FALSE(writer->in_recovery());
  try {
    replica->execute("CREATE TABLE should_fail (id int)");
    FAIL("expected a DbError");
  } catch (const db::DbError& error) {
    CHECK(error.sqlstate() == "25006");
    CHECK(error.target() == "replica");
  }
}

TEST_CASE("db::adapter connection failures") {
  const std::string password = test::server_env("GRANT_TEST_PG_PASSWORD");

  SUBCASE("unreachable server") {
    const std::string url =
        "postgres://grant:" + password + "@127.0.0.1:" + std::to_string(closed_port()) + "/grant_test";
    try {
      db::connect(util::parse_database_url(url, "/"), {});
      FAIL("expected a DbError");
    } catch (const db::DbError& error) {
      const std::string what = error.what();
      CHECK(error.exit_code() == 3);
      CHECK(error.connection_lost());
      CHECK(what.find("127.0.0.1") != std::string::npos);
      CHECK(what.find(password) == std::string::npos);
      CHECK(error.where().find(password) == std::string::npos);
      CHECK(what.find("grant:***@") != std::string::npos);
    }
  }

  SUBCASE("wrong password: says so, never shows it") {
    const std::string wrong = "Wr0ng-Pa55word";
    auto url = test::writer_url();
    url.replace(url.find(password), password.size(), wrong);
    try {
      db::connect(util::parse_database_url(url, "/"), {"writer", 5000, "grant"});
      FAIL("expected a DbError");
    } catch (const db::DbError& error) {
      const std::string text = std::string(error.what()) + error.where() + error.hint();
      CHECK(text.find("password authentication failed") != std::string::npos);
      CHECK(text.find(wrong) == std::string::npos);
      CHECK(text.find(password) == std::string::npos);
      CHECK(error.hint().find("password") != std::string::npos);
    }
  }

  SUBCASE("the connect timeout is honoured against a server that never answers") {
    // A listening socket that never accepts: TCP connects, the startup packet gets no reply.
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(listen(fd, 4) == 0);
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    const std::string url = "postgres://grant@127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/x";
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(db::connect(util::parse_database_url(url, "/"), {"silent", 2000, "grant"}), db::DbError);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    close(fd);
    CHECK(elapsed >= std::chrono::milliseconds(1500));
    CHECK(elapsed < std::chrono::seconds(10));
  }

  SUBCASE("SQLite in a folder that does not exist") {
    TempDir dir;
    try {
      db::connect(util::parse_database_url("sqlite3:missing/x.sqlite3", dir.path()), {"sqlite/x", 5000, "grant"});
      FAIL("expected a DbError");
    } catch (const db::DbError& error) {
      CHECK(std::string(error.what()).find("missing/x.sqlite3") != std::string::npos);
      CHECK(error.target() == "sqlite/x");
    }
    CHECK_FALSE(std::filesystem::exists(dir / "missing"));
  }
}

} // namespace grant_test_adapter_test
