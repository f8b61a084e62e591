#include <grant/util/sql_split.hpp>

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_util_sql_split_test {

using namespace grant::util;

namespace {

std::vector<std::string> texts(std::string_view script) {
  std::vector<std::string> out;
  for (const auto& statement : split_statements(script)) {
    out.push_back(statement.text);
  }
  return out;
}

} // namespace

TEST_CASE("util::split_statements") {
  SUBCASE("top-level semicolons split, with the line each statement starts on") {
    const auto parts = split_statements("CREATE TABLE a (id int);\n\nCREATE TABLE b (id int);\nSELECT 1");
    REQUIRE(parts.size() == 3);
    CHECK(parts[0].text == "CREATE TABLE a (id int);");
    CHECK(parts[0].first_line == 1);
    CHECK(parts[1].text == "CREATE TABLE b (id int);");
    CHECK(parts[1].first_line == 3);
    CHECK(parts[2].text == "SELECT 1");
    CHECK(parts[2].first_line == 4);
  }
  SUBCASE("semicolons inside quotes and identifiers do not split") {
    const auto parts = split_statements("INSERT INTO t VALUES ('a;b', 'it''s; here');\nSELECT \"odd;name\" FROM t;");
    REQUIRE(parts.size() == 2);
    CHECK(parts[0].text == "INSERT INTO t VALUES ('a;b', 'it''s; here');");
    CHECK(parts[1].text == "SELECT \"odd;name\" FROM t;");
  }
  SUBCASE("dollar quotes, tagged or not") {
    const auto parts = split_statements("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n"
                                        "DO $body$ BEGIN PERFORM 1; END $body$;\n"
                                        "SELECT $1;");
    REQUIRE(parts.size() == 3);
    CHECK(parts[0].text == "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;");
    CHECK(parts[1].text == "DO $body$ BEGIN PERFORM 1; END $body$;");
    CHECK(parts[1].first_line == 2);
    CHECK(parts[2].text == "SELECT $1;");
  }
  SUBCASE("comments hide semicolons, and comment-only pieces are no statements") {
    const auto parts = split_statements("-- first; still a comment\nSELECT 1; /* block; comment */\n"
                                        "/* multi\nline; */ SELECT 2;\n-- trailing comment;\n");
    REQUIRE(parts.size() == 2);
    // A statement's text starts at its code, so the server's "LINE n" counts from first_line.
    CHECK(parts[0].first_line == 2);
    CHECK(parts[0].text == "SELECT 1;");
    CHECK(parts[1].first_line == 4);
    CHECK(parts[1].text == "SELECT 2;");
  }
  SUBCASE("empty and blank scripts give nothing") {
    CHECK(split_statements("").empty());
    CHECK(split_statements("  \n ;; \n-- x\n").empty());
  }
}

TEST_CASE("util::split_statements: what PostgreSQL accepts") {
  using V = std::vector<std::string>;
  SUBCASE("E'' strings with backslash escapes") {
    CHECK(texts("INSERT INTO t VALUES (E'it\\'s; here');\nSELECT 2;") ==
          V{"INSERT INTO t VALUES (E'it\\'s; here');", "SELECT 2;"});
    CHECK(texts("SELECT e'a\\\\';SELECT 'b';") == V{"SELECT e'a\\\\';", "SELECT 'b';"});
    CHECK(texts("SELECT E'x''; y';SELECT 1;") == V{"SELECT E'x''; y';", "SELECT 1;"});
    // A standard string keeps its backslash: 'a\' ends at the second quote.
    CHECK(texts("SELECT 'a\\';SELECT 1;") == V{"SELECT 'a\\';", "SELECT 1;"});
    // An identifier ending in e is no E'' prefix (nor valid SQL, but it must not swallow the rest).
    CHECK(texts("SELECT some'x';SELECT 1;") == V{"SELECT some'x';", "SELECT 1;"});
  }
  SUBCASE("nested block comments") {
    CHECK(texts("/* outer /* inner; */ still; comment */ SELECT 1;\nSELECT 2;") == V{"SELECT 1;", "SELECT 2;"});
    const auto parts = split_statements("/* a\n/* b\n*/ c; */\nSELECT 1;");
    REQUIRE(parts.size() == 1);
    CHECK(parts[0].first_line == 4);
  }
  SUBCASE("standard '' escapes and \"quoted \"\"identifiers\"\"\"") {
    CHECK(texts("SELECT 'it''s;';SELECT \"a \"\"b;\"\"\" FROM t;") ==
          V{"SELECT 'it''s;';", "SELECT \"a \"\"b;\"\"\" FROM t;"});
  }
  SUBCASE("-- comments, also at the end of a statement") {
    CHECK(texts("SELECT 1; -- a; b\nSELECT 2 -- c;\n;") == V{"SELECT 1;", "SELECT 2 -- c;\n;"});
  }
  SUBCASE("identifiers containing $ are no dollar quotes") {
    CHECK(texts("CREATE TABLE a$1 (price$ int);\nSELECT price$ FROM a$1;\nSELECT 3;") ==
          V{"CREATE TABLE a$1 (price$ int);", "SELECT price$ FROM a$1;", "SELECT 3;"});
    CHECK(texts("SELECT x$y$ FROM t; SELECT 2;") == V{"SELECT x$y$ FROM t;", "SELECT 2;"});
    // A parameter is no dollar quote, nor is $1$.
    CHECK(texts("PREPARE p AS SELECT $1; SELECT 2;") == V{"PREPARE p AS SELECT $1;", "SELECT 2;"});
    // After a number, $$ does open a quote, as in PostgreSQL.
    CHECK(texts("SELECT 1 AS $$;x$$; SELECT 2;").size() == 2);
  }
  SUBCASE("dollar quotes with tags that look alike") {
    CHECK(texts("DO $a$ BEGIN RAISE NOTICE '$b$;'; END $a$; SELECT 1;") ==
          V{"DO $a$ BEGIN RAISE NOTICE '$b$;'; END $a$;", "SELECT 1;"});
  }
  SUBCASE("BEGIN ATOMIC bodies of functions and procedures") {
    const auto script = "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql\n"
                        "BEGIN ATOMIC\n"
                        "  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\n"
                        "  SELECT x;\n"
                        "END;\n"
                        "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END;\n"
                        "BEGIN;\n"
                        "SELECT CASE WHEN true THEN 1 END;\n"
                        "COMMIT;";
    const auto parts = split_statements(script);
    REQUIRE(parts.size() == 5);
    CHECK(parts[0].text == "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n"
                           "  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\n  SELECT x;\nEND;");
    CHECK(parts[1].first_line == 6);
    CHECK(parts[1].text == "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END;");
    // A transaction's BEGIN, or a CASE outside a routine, opens nothing.
    CHECK(parts[2].text == "BEGIN;");
    CHECK(parts[3].text == "SELECT CASE WHEN true THEN 1 END;");
    CHECK(parts[4].text == "COMMIT;");
  }
  SUBCASE("semicolons inside parentheses do not split (CREATE RULE ... DO ALSO (...; ...))") {
    CHECK(texts("CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));\n"
                "SELECT 1;")
              .size() == 2);
  }
  SUBCASE("an unterminated quote runs to the end") {
    CHECK(texts("SELECT 'open; SELECT 2;") == V{"SELECT 'open; SELECT 2;"});
  }
}

} // namespace grant_test_util_sql_split_test
