#include <grant/route/prevent_writes.hpp>
#include <grant/route/statement.hpp>

#include <doctest/doctest.h>

#include <string>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_route_statement_test {

using grant::route::check_writes;
using grant::route::leaves_read_only;

namespace {

// The keyword check_writes names, "" when the text reads.
std::string refused(const std::string& sql) {
  const auto check = check_writes(sql);
  CHECK(check.writes == !check.keyword.empty());
  return check.keyword;
}

} // namespace

TEST_CASE("route::check_writes") {
  SUBCASE("reads") {
    for (const char* sql : {
             "SELECT 1",
             "select * from orders where id = $1",
             "VALUES (1, 'a'), (2, 'b')",
             "TABLE orders",
             "SHOW search_path",
             "EXPLAIN SELECT * FROM t",
             "EXPLAIN INSERT INTO t VALUES (1)", // planned, not run
             "EXPLAIN ANALYZE SELECT * FROM t",
             "EXPLAIN (ANALYZE false, COSTS off) DELETE FROM t",
             "EXPLAIN (ANALYZE off) UPDATE t SET x = 1",
             "SET statement_timeout = '5s'",
             "SET search_path TO app, public",
             "RESET ALL",
             "BEGIN",
             "BEGIN READ ONLY",
             "START TRANSACTION ISOLATION LEVEL REPEATABLE READ",
             "COMMIT",
             "ROLLBACK",
             "SAVEPOINT a; RELEASE SAVEPOINT a",
             "WITH recent AS (SELECT * FROM orders WHERE at > now() - interval '1 day') SELECT count(*) FROM recent",
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) SELECT sum(i) FROM n",
             "WITH a AS MATERIALIZED (SELECT 1), b AS NOT MATERIALIZED (SELECT 2) SELECT * FROM a, b",
             "COPY orders TO STDOUT",
             "COPY (SELECT * FROM orders) TO STDOUT WITH (FORMAT csv)",
             "DECLARE c CURSOR WITH HOLD FOR SELECT * FROM t; FETCH 10 FROM c; CLOSE c",
             "PREPARE q (int) AS SELECT * FROM t WHERE id = $1",
             "DISCARD ALL",
             "LISTEN changes",
             "SELECT nextval('orders_id_seq')", // left to the read-only transaction
             "SELECT f()",                      // what a function does is not in the text
             "(SELECT 1) UNION (SELECT 2)",
             "SELECT 1;;  ;",
             "",
             "-- just a comment\n/* and another */",
         }) {
      const std::string text = sql;
      CAPTURE(text);
      CHECK(refused(sql) == "");
    }
  }

  SUBCASE("writes, with the first offending keyword") {
    const std::pair<const char*, const char*> cases[] = {
        {"INSERT INTO t VALUES (1)", "INSERT"},
        {"update t set x = 1", "UPDATE"},
        {"DELETE FROM t", "DELETE"},
        {"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "MERGE"},
        {"TRUNCATE t", "TRUNCATE"},
        {"COPY t FROM STDIN", "COPY FROM"},
        {"copy t (a, b) from '/tmp/x.csv'", "COPY FROM"},
        {"COPY (INSERT INTO t VALUES (1) RETURNING *) TO STDOUT", "INSERT"},
        {"COPY t TO '/tmp/t.csv'", "COPY TO FILE"},
        {"COPY (SELECT 1) TO PROGRAM 'cat > /tmp/x'", "COPY TO PROGRAM"},
        {"LOAD 'auto_explain'", "LOAD"},
        {"CREATE TABLE t (id int)", "CREATE"},
        {"ALTER TABLE t ADD COLUMN y int", "ALTER"},
        {"DROP TABLE t", "DROP"},
        {"GRANT SELECT ON t TO reader", "GRANT"},
        {"REVOKE ALL ON t FROM reader", "REVOKE"},
        {"COMMENT ON TABLE t IS 'x'", "COMMENT"},
        {"REINDEX TABLE t", "REINDEX"},
        {"VACUUM t", "VACUUM"},
        {"ANALYZE t", "ANALYZE"},
        {"CLUSTER t USING t_pkey", "CLUSTER"},
        {"REFRESH MATERIALIZED VIEW v", "REFRESH"},
        {"LOCK TABLE t IN ACCESS SHARE MODE", "LOCK"},
        {"CALL p()", "CALL"},
        {"DO $$ BEGIN INSERT INTO t VALUES (1); END $$", "DO"},
        {"SELECT * FROM t FOR UPDATE", "FOR UPDATE"},
        {"SELECT * FROM t WHERE id = 1 FOR NO KEY UPDATE SKIP LOCKED", "FOR NO KEY UPDATE"},
        {"select * from t for share", "FOR SHARE"},
        {"SELECT * FROM t FOR KEY SHARE OF t NOWAIT", "FOR KEY SHARE"},
        {"SELECT * FROM (SELECT * FROM t FOR UPDATE) s", "FOR UPDATE"},
        {"SELECT * INTO copy_of_t FROM t", "SELECT INTO"},
        {"WITH x AS (INSERT INTO t VALUES (1) RETURNING id) SELECT * FROM x", "INSERT"},
        {"WITH a AS (SELECT 1), b AS (DELETE FROM t RETURNING *) SELECT * FROM b", "DELETE"},
        {"WITH x AS (SELECT 1) UPDATE t SET y = 2", "UPDATE"},
        {"WITH x AS (SELECT id FROM t) SELECT * INTO u FROM x", "SELECT INTO"},
        {"WITH x AS (WITH y AS (SELECT 1) DELETE FROM t RETURNING *) SELECT 1", "DELETE"},
        {"WITH x AS MATERIALIZED (UPDATE t SET a = 1 RETURNING *) TABLE x", "UPDATE"},
        {"EXPLAIN ANALYZE INSERT INTO t VALUES (1)", "INSERT"},
        {"EXPLAIN (ANALYZE, BUFFERS) DELETE FROM t", "DELETE"},
        {"EXPLAIN ANALYZE VERBOSE UPDATE t SET x = 1", "UPDATE"},
        {"PREPARE q AS INSERT INTO t VALUES ($1)", "INSERT"},
        {"EXECUTE q(1)", "EXECUTE"},
        {"DECLARE c CURSOR FOR SELECT * FROM t FOR UPDATE", "FOR UPDATE"},
        {"NOTIFY changes", "NOTIFY"},
        {"SECURITY LABEL ON TABLE t IS 'x'", "SECURITY"},
        {"FROBNICATE t", "FROBNICATE"}, // unknown: counted as a write
    };
    for (const auto& [sql, keyword] : cases) {
      const std::string text = sql;
      CAPTURE(text);
      CHECK(refused(sql) == keyword);
    }
  }

  SUBCASE("keywords inside strings, identifiers, dollar quotes and comments do not count") {
    for (const char* sql : {
             "SELECT 'DELETE FROM t'",
             "SELECT 'it''s; DROP TABLE t'",
             "SELECT E'\\'; DELETE FROM t; --'",
             "SELECT \"update\" FROM \"insert\"",
             "SELECT \"for\", \"update\" FROM t",
             "SELECT $$ DROP TABLE t $$",
             "SELECT $tag$ ; INSERT INTO t VALUES (1); $tag$",
             "SELECT 1 -- ; DELETE FROM t",
             "SELECT /* ; DROP /* nested */ TABLE t; */ 1",
             "SELECT t.update, t.delete FROM t",
             "SELECT price$ FROM t",
         }) {
      const std::string text = sql;
      CAPTURE(text);
      CHECK(refused(sql) == "");
    }
  }

  SUBCASE("several statements: the first writing one is named, with its position") {
    const auto check = check_writes("SELECT 1; SHOW x;\n  delete from t where id = 3 ;SELECT 2");
    CHECK(check.writes);
    CHECK(check.keyword == "DELETE");
    CHECK(check.statement == "delete from t where id = 3");
    CHECK(check.index == 2);
    CHECK(refused("SELECT 1; INSERT INTO t VALUES (1); DROP TABLE t") == "INSERT");
  }

  SUBCASE("case does not matter") {
    CHECK(refused("InSeRt INTO t VALUES (1)") == "INSERT");
    CHECK(refused("select * from t For Update") == "FOR UPDATE");
    CHECK(refused("With x As (DeLeTe FROM t RETURNING *) select 1") == "DELETE");
    CHECK(refused("SeLeCt 1") == "");
  }
}

TEST_CASE("route::leaves_read_only") {
  CHECK(leaves_read_only("SELECT 1") == "");
  CHECK(leaves_read_only("BEGIN") == "");
  CHECK(leaves_read_only("SAVEPOINT a; ROLLBACK TO SAVEPOINT a; RELEASE a") == "");
  CHECK(leaves_read_only("ROLLBACK WORK TO a") == "");
  CHECK(leaves_read_only("SELECT 1; COMMIT") == "COMMIT");
  CHECK(leaves_read_only("end") == "END");
  CHECK(leaves_read_only("ROLLBACK") == "ROLLBACK");
  CHECK(leaves_read_only("abort") == "ABORT");
  CHECK(leaves_read_only("PREPARE TRANSACTION 'x'") == "PREPARE TRANSACTION");
  CHECK(leaves_read_only("COMMIT PREPARED 'x'") == "COMMIT PREPARED");
  CHECK(leaves_read_only("SET TRANSACTION READ WRITE") == "SET TRANSACTION READ WRITE");
  CHECK(leaves_read_only("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE") == "SET TRANSACTION READ WRITE");
  CHECK(leaves_read_only("set local transaction_read_only = off") == "SET TRANSACTION_READ_ONLY");
  CHECK(leaves_read_only("SET default_transaction_read_only TO off") == "SET DEFAULT_TRANSACTION_READ_ONLY");
  CHECK(leaves_read_only("SELECT 'COMMIT'") == "");
}

TEST_CASE("route::statements_of and ends_transaction") {
  CHECK(grant::route::statements_of("BEGIN; SELECT ';' ; /* ; */ COMMIT;") ==
        std::vector<std::string>{"BEGIN", "SELECT ';'", "COMMIT"}); // comments between statements drop
  CHECK(grant::route::statements_of("  ").empty());
  CHECK(grant::route::ends_transaction(leaves_read_only("commit")));
  CHECK(grant::route::ends_transaction(leaves_read_only("ROLLBACK")));
  CHECK(grant::route::ends_transaction(leaves_read_only("end")));
  CHECK_FALSE(grant::route::ends_transaction(leaves_read_only("PREPARE TRANSACTION 'x'")));
  CHECK_FALSE(grant::route::ends_transaction(leaves_read_only("COMMIT PREPARED 'x'")));
  CHECK_FALSE(grant::route::ends_transaction(leaves_read_only("SET TRANSACTION READ WRITE")));
  CHECK_FALSE(grant::route::ends_transaction(leaves_read_only("SELECT 1")));
}

TEST_CASE("route::statements_of splits as util::split_statements does: a BEGIN ATOMIC body stays whole") {
  const auto statements = grant::route::statements_of(
      "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3");
  REQUIRE(statements.size() == 2);
  CHECK(statements[0] == "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END");
  CHECK(statements[1] == "SELECT 3");
  CHECK(refused("CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END") == "CREATE");
}

TEST_CASE("route::PreventWrites::check: the one write rule, with transaction ends restarting or refused") {
  using grant::route::PreventWrites;
  using grant::route::TransactionEnds;
  const auto writes = PreventWrites::check("SELECT 1; DELETE FROM t");
  CHECK(writes.refused());
  CHECK(writes.keyword == "DELETE");
  CHECK(writes.statement == "DELETE FROM t");
  CHECK_FALSE(writes.leaves);

  const auto reads = PreventWrites::check("SELECT 1");
  CHECK_FALSE(reads.refused());
  CHECK_FALSE(reads.ends_transaction);

  // A scope restarts its read-only transaction at COMMIT; one statement alone has none to restart.
  const auto commit = PreventWrites::check("SELECT 1; COMMIT");
  CHECK_FALSE(commit.refused());
  CHECK(commit.ends_transaction);
  const auto strict = PreventWrites::check("SELECT 1; COMMIT", TransactionEnds::refuse);
  CHECK(strict.refused());
  CHECK(strict.keyword == "COMMIT");
  CHECK(strict.statement == "COMMIT");
  CHECK(strict.leaves);
  CHECK(PreventWrites::check("rollback", TransactionEnds::refuse).keyword == "ROLLBACK");

  // Leaving read-only any other way is refused either way; a write is named before a COMMIT.
  for (const auto ends : {TransactionEnds::restart, TransactionEnds::refuse}) {
    const auto verdict = PreventWrites::check("COMMIT; SET TRANSACTION READ WRITE", ends);
    CHECK(verdict.keyword == (ends == TransactionEnds::refuse ? "COMMIT" : "SET TRANSACTION READ WRITE"));
    CHECK(PreventWrites::check("COMMIT; INSERT INTO t VALUES (1)", ends).keyword == "INSERT");
    CHECK(PreventWrites::check("PREPARE TRANSACTION 'x'", ends).keyword == "PREPARE TRANSACTION");
  }
}

} // namespace grant_test_route_statement_test
