// The prevent-writes scope and route::Router's scoped routing against the real servers of
// tests/servers.sh: writes refused before they reach the server and, when the text hides them,
// by the read-only transaction; scopes on the writer, the replica and the shard that owns a key.
#include <grant/config/load.hpp>
#include <grant/db/error.hpp>
#include <grant/route/prevent_writes.hpp>
#include <grant/route/router.hpp>

#include "support/pg_pair.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_route_scope_test {

using namespace grant;
using registry::Role;

namespace {

config::Config parse_config(const std::string& json, const test::TempDir& dir) {
  return config::parse(json, dir.write("grant.json", json), config::process_env());
}

std::unique_ptr<db::Connection> open(const std::string& url) {
  return db::connect(util::parse_database_url(url, {}), {"route-test", 5000, "grant-test"});
}

std::string scalar(const std::string& url, const std::string& sql) {
  return open(url)->query(sql).scalar().value_or("NULL");
}

std::string dbname_of(const std::string& url) {
  return url.substr(url.rfind('/') + 1);
}

// The keyword of the WriteRefused that `sql` gets through `guard`; fails the test when it passes.
std::string refused(route::PreventWrites& guard, const std::string& sql) {
  try {
    guard.execute(sql);
  } catch (const route::WriteRefused& error) {
    CHECK(error.exit_code() == 2);
    CHECK(test::contains(error.what(), "writes are prevented here"));
    return error.keyword();
  }
  FAIL("not refused: " << sql);
  return {};
}

} // namespace

TEST_CASE("route::PreventWrites on the writer: refused before the server, and by the read-only transaction") {
  const auto url = test::fresh_database(test::writer_url(), "prevent");
  {
    auto setup = open(url);
    setup->execute(
        "CREATE TABLE t (id int PRIMARY KEY, note text);"
        "INSERT INTO t VALUES (1, 'one');"
        "CREATE SEQUENCE s;"
        "CREATE FUNCTION sneaky() RETURNS int LANGUAGE sql AS $$ INSERT INTO t VALUES (99, 'x') RETURNING id $$;");
  }
  auto connection = open(url);
  const auto rows = [&] { return scalar(url, "SELECT count(*) || ':' || string_agg(note, ',' ORDER BY id) FROM t"); };

  {
    route::PreventWrites guard(*connection);
    CHECK(guard.query("SELECT count(*) FROM t").scalar() == db::Value{"1"});
    CHECK(guard.query("SHOW transaction_read_only").scalar() == db::Value{"on"});
    CHECK(guard.query("SELECT note FROM t WHERE id = $1", {"1"}).scalar() == db::Value{"one"});
    CHECK(guard.query("SELECT 'DELETE FROM t', \"note\" FROM t").size() == 1);
    CHECK(refused(guard, "INSERT INTO t VALUES (2, 'two')") == "INSERT");
    CHECK(refused(guard, "UPDATE t SET note = 'changed'") == "UPDATE");
    CHECK(refused(guard, "DELETE FROM t") == "DELETE");
    CHECK(refused(guard, "TRUNCATE t") == "TRUNCATE");
    CHECK(refused(guard, "CREATE TABLE u (id int)") == "CREATE");
    CHECK(refused(guard, "DROP TABLE t") == "DROP");
    CHECK(refused(guard, "ALTER TABLE t ADD COLUMN y int") == "ALTER");
    CHECK(refused(guard, "SELECT * FROM t FOR UPDATE") == "FOR UPDATE");
    CHECK(refused(guard, "WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone") == "DELETE");
    CHECK(refused(guard, "SELECT 1; UPDATE t SET note = 'x'") == "UPDATE");
    // Refused before the server: a table that does not exist would otherwise be a 42P01 DbError.
    CHECK(refused(guard, "INSERT INTO no_such_table VALUES (1)") == "INSERT");
    // The scope's transaction cannot be left or made read-write from inside.
    // BEGIN / COMMIT / ROLLBACK are allowed, and what follows them is read-only still.
    guard.execute("COMMIT");
    CHECK(guard.query("SHOW transaction_read_only").scalar() == db::Value{"on"});
    guard.execute("BEGIN; SELECT count(*) FROM t; COMMIT; SELECT 1");
    CHECK(guard.query("ROLLBACK").empty());
    CHECK(guard.query("SHOW transaction_read_only").scalar() == db::Value{"on"});
    CHECK(refused(guard, "BEGIN; COMMIT; INSERT INTO t VALUES (4, 'four')") == "INSERT");
    CHECK(test::contains(refused(guard, "PREPARE TRANSACTION 'x'"), "PREPARE TRANSACTION"));
    CHECK(test::contains(refused(guard, "SET TRANSACTION READ WRITE"), "READ WRITE"));
    CHECK(guard.query("SHOW transaction_read_only").scalar() == db::Value{"on"}); // still usable
    try {
      guard.query("UPDATE t SET note = 'secret-free message'");
      FAIL("not refused");
    } catch (const route::WriteRefused& error) {
      CHECK(error.statement() == "UPDATE t SET note = 'secret-free message'");
      CHECK(error.where() == "route-test");
    }
  }
  CHECK(rows() == "1:one");

  SUBCASE("a write the text does not show is refused by PostgreSQL (25006)") {
    route::PreventWrites guard(*connection);
    try {
      guard.query("SELECT sneaky()");
      FAIL("the function's insert went through");
    } catch (const db::DbError& error) {
      CHECK(error.sqlstate() == "25006"); // read_only_sql_transaction
    }
    guard.execute("ROLLBACK"); // after the error, as an application would: read-only again
    CHECK(guard.query("SELECT count(*) FROM t").scalar() == db::Value{"1"});
    CHECK_THROWS_AS(guard.query("SELECT sneaky()"), db::DbError);
  }
  SUBCASE("nextval is left to the read-only transaction") {
    route::PreventWrites guard(*connection);
    try {
      guard.query("SELECT nextval('s')");
      FAIL("nextval went through");
    } catch (const db::DbError& error) {
      CHECK(error.sqlstate() == "25006");
    }
  }
  SUBCASE("a set_config that would make the transaction read-write is refused once the snapshot is taken") {
    route::PreventWrites guard(*connection);
    CHECK_THROWS_AS(guard.query("SELECT set_config('transaction_read_only', 'off', true)"), db::DbError);
  }
  CHECK(rows() == "1:one");
  CHECK(connection->transaction_depth() == 0);              // the scope rolled back its transaction
  connection->execute("INSERT INTO t VALUES (3, 'after')"); // and the session writes again
  CHECK(rows() == "2:one,after");
  connection->execute("DELETE FROM t WHERE id = 3");
}

TEST_CASE("route::Router: scopes by role, shard and key, writes prevented where they must be") {
  test::TempDir dir;
  const auto app_url = test::fresh_database(test::writer_url(), "router");
  const auto replica = test::with_dbname(test::replica_url(), dbname_of(app_url));
  std::vector<std::string> shard_urls{test::fresh_database(test::shard_url(0), "router"),
                                      test::fresh_database(test::shard_url(1), "router")};
  open(app_url)->execute("CREATE TABLE t (id int PRIMARY KEY);"
                         "CREATE TABLE tenant_shards (tenant_id text PRIMARY KEY, shard text NOT NULL);"
                         "INSERT INTO tenant_shards VALUES ('acme', 's1'), ('globex', 's0')");
  for (const auto& url : shard_urls) {
    open(url)->execute("CREATE TABLE orders (user_id bigint, item text)");
  }
  // The replica has the new database once it replayed its creation.
  REQUIRE(test::eventually([&] {
    try {
      return scalar(replica, "SELECT to_regclass('tenant_shards') IS NOT NULL") == "t";
    } catch (const std::exception&) {
      return false;
    }
  }));
  const auto shards_json =
      R"([{"name": "s0", "url": ")" + shard_urls[0] + R"("}, {"name": "s1", "url": ")" + shard_urls[1] + R"("}])";
  const auto config = parse_config(R"({"databases": {
    "app": {"url": ")" + app_url + R"(", "replicas": [{"name": "r1", "url": ")" +
                                       replica + R"("}], "routing": {"read_your_writes": "off"}},
    "solo": {"url": ")" + app_url + R"("},
    "orders": {"shards": )" + shards_json +
                                       R"(, "sharding": {"key": "user_id", "resolver": {"type": "modulo"}}},
    "tenants": {"shards": )" + shards_json +
                                       R"(, "sharding": {"key": "tenant_id", "resolver": {"type": "lookup",
       "table": {"database": "app", "name": "tenant_shards", "key_column": "tenant_id", "shard_column": "shard"}}}}}})",
                                   dir);
  registry::Registry registry(config);
  route::Router router(registry);

  SUBCASE("writing goes to the writer, reading to the replica; fn's result comes back") {
    const auto inserted = router.with_connection("app", Role::writing, {}, [](route::Session& session) {
      CHECK_FALSE(session.preventing_writes());
      CHECK(session.query("SELECT pg_is_in_recovery()").scalar() == db::Value{"f"});
      return session.query("INSERT INTO t VALUES (1) RETURNING id").scalar();
    });
    CHECK(inserted == db::Value{"1"});
    router.with_connection("app", Role::reading, {}, [](route::Session& session) {
      CHECK(session.on_replica());
      CHECK(session.endpoint().label() == "app/r1");
      CHECK(session.preventing_writes());
      CHECK(session.query("SELECT pg_is_in_recovery()").scalar() == db::Value{"t"});
      CHECK_THROWS_AS(session.execute("INSERT INTO t VALUES (2)"), route::WriteRefused);
      CHECK_THROWS_AS(session.connection(), Error);
    });
  }

  SUBCASE("a read served by the writer still cannot write there") {
    router.with_connection("solo", Role::reading, {}, [](route::Session& session) {
      CHECK_FALSE(session.on_replica());
      CHECK(session.fallback() == route::Fallback::no_replicas);
      CHECK(session.query("SELECT pg_is_in_recovery()").scalar() == db::Value{"f"});
      CHECK_THROWS_AS(session.execute("INSERT INTO t VALUES (5)"), route::WriteRefused);
      CHECK_THROWS_AS(session.query("SELECT * FROM t FOR UPDATE"), route::WriteRefused);
    });
    CHECK(scalar(app_url, "SELECT count(*) FROM t") == "0");
  }

  SUBCASE("while_preventing_writes covers writing scopes, on this thread only") {
    std::atomic<bool> other_wrote{false};
    router.while_preventing_writes([&] {
      CHECK(route::Router::preventing_writes());
      router.with_connection("solo", Role::writing, {}, [](route::Session& session) {
        CHECK(session.preventing_writes());
        try {
          session.execute("INSERT INTO t VALUES (7)");
          FAIL("not refused");
        } catch (const route::WriteRefused& error) {
          CHECK(error.keyword() == "INSERT");
          CHECK(error.where() == "solo");
        }
      });
      CHECK_THROWS_AS(router.across_shards("orders", {}, [](const std::string&, db::Connection&) {}),
                      route::WriteRefused);
      std::thread other([&] {
        router.with_connection("solo", Role::writing, {},
                               [](route::Session& session) { session.execute("INSERT INTO t VALUES (8)"); });
        other_wrote = true;
      });
      other.join();
    });
    CHECK(other_wrote);
    CHECK_FALSE(route::Router::preventing_writes());
    CHECK(scalar(app_url, "SELECT string_agg(id::text, ',') FROM t") == "8");
    router.with_connection("solo", Role::writing, {},
                           [](route::Session& session) { session.execute("INSERT INTO t VALUES (9)"); });
    CHECK(scalar(app_url, "SELECT string_agg(id::text, ',' ORDER BY id) FROM t") == "8,9");
  }

  SUBCASE("with_key writes each row on the shard its key resolves to, from several threads") {
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 25; ++i) {
          const std::int64_t user = t * 100 + i;
          try {
            router.with_key("orders", shard::Key::from_integer(user), Role::writing, [&](route::Session& session) {
              if (session.endpoint().shard != (user % 2 == 0 ? "s0" : "s1")) {
                ++failures;
              }
              session.query("INSERT INTO orders VALUES ($1, 'book')", {std::to_string(user)});
            });
          } catch (const std::exception&) {
            ++failures;
          }
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    CHECK(failures == 0);
    CHECK(scalar(shard_urls[0], "SELECT count(*) FROM orders WHERE user_id % 2 = 0") == "52"); // 13 even of each 25
    CHECK(scalar(shard_urls[0], "SELECT count(*) FROM orders") == "52");
    CHECK(scalar(shard_urls[1], "SELECT count(*) FROM orders WHERE user_id % 2 = 1") == "48");
    CHECK(scalar(shard_urls[1], "SELECT count(*) FROM orders") == "48");
    CHECK(router.shard_for("orders", shard::Key::from_integer(7)) == "s1");
    const auto count =
        router.with_key("orders", shard::Key::from_integer(8), Role::reading, [](route::Session& session) {
          CHECK(session.endpoint().label() == "orders/s0");
          return session.query("SELECT count(*) FROM orders").scalar();
        });
    CHECK(count == db::Value{"52"});
  }

  SUBCASE("a lookup resolver reads its table through the registry, once") {
    CHECK(router.shard_for("tenants", shard::Key::from_string("acme")) == "s1");
    CHECK(router.shard_for("tenants", shard::Key::from_string("globex")) == "s0");
    router.with_key("tenants", shard::Key::from_string("acme"), Role::writing, [&](route::Session& session) {
      CHECK(session.query("SELECT current_database()").scalar() == db::Value{dbname_of(shard_urls[1])});
    });
    CHECK_THROWS_AS(router.shard_for("tenants", shard::Key::from_string("initech")), shard::KeyError);
  }

  SUBCASE("unknown names and a missing shard are config errors") {
    const auto nothing = [](route::Session&) {};
    CHECK_THROWS_AS(router.with_connection("nope", Role::writing, {}, nothing), ConfigError);
    CHECK_THROWS_AS(router.with_connection("orders", Role::writing, {}, nothing), ConfigError);
    CHECK_THROWS_AS(router.with_connection("orders", Role::writing, "s9", nothing), ConfigError);
    CHECK_THROWS_AS(router.with_connection("app", Role::reading, "s0", nothing), ConfigError);
    CHECK_THROWS_AS(router.shard_for("app", shard::Key::from_integer(1)), ConfigError);
  }
}

TEST_CASE("route::Router on SQLite: the same scopes, PRAGMA query_only behind the classifier") {
  test::TempDir dir;
  const auto config = parse_config(R"({"databases": {"local": {"url": "sqlite3:local.sqlite3"}}})", dir);
  registry::Registry registry(config);
  route::Router router(registry);
  router.with_connection("local", Role::writing, {}, [](route::Session& session) {
    session.execute("CREATE TABLE notes (id integer PRIMARY KEY, body text); INSERT INTO notes (body) VALUES ('a')");
  });
  CHECK(router.pending_writes() == 1); // no WAL position in SQLite: the window holds
  const auto count = router.with_connection("local", Role::reading, {}, [](route::Session& session) {
    CHECK(session.preventing_writes());
    CHECK_THROWS_AS(session.execute("DELETE FROM notes"), route::WriteRefused);
    return session.query("SELECT count(*) FROM notes").scalar();
  });
  CHECK(count == db::Value{"1"});
  router.with_connection("local", Role::writing, {}, [](route::Session& session) {
    CHECK(session.query("SELECT count(*) FROM notes").scalar() == db::Value{"1"}); // nothing was deleted
    session.execute("INSERT INTO notes (body) VALUES ('b')");                      // and the session writes again
  });
  CHECK_THROWS_AS(router.across_shards("local", {}, [](const std::string&, db::Connection&) {}), ConfigError);
}

} // namespace grant_test_route_scope_test
