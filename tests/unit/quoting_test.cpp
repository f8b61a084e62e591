#include <grant/db/quoting.hpp>

#include <grant/error.hpp>

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_quoting_test {

using namespace grant::db;
using namespace std::string_literals;

TEST_CASE("db::quoting") {
  for (const auto dialect : {Dialect::postgres, Dialect::sqlite}) {
    CAPTURE(dialect_name(dialect));

    // Identifiers.
    CHECK(quote_identifier(dialect, "users") == R"("users")");
    CHECK(quote_identifier(dialect, "Mixed Case") == R"("Mixed Case")");
    CHECK(quote_identifier(dialect, R"(we"ird)") == R"("we""ird")");
    CHECK(quote_identifier(dialect, R"("")") == R"("""""")");
    CHECK(quote_identifier(dialect, "a.b") == R"("a.b")"); // one name, the dot is part of it
    CHECK(quote_identifier(dialect, "users; DROP TABLE x; --") == R"("users; DROP TABLE x; --")");
    CHECK(quote_identifier(dialect, "caf\xc3\xa9") == "\"caf\xc3\xa9\"");

    // Qualified names quote each part.
    CHECK(quote_qualified(dialect, "users") == R"("users")");
    CHECK(quote_qualified(dialect, "public.users") == R"("public"."users")");
    CHECK(quote_qualified(dialect, R"(my"schema.t)") == R"("my""schema"."t")");

    // Literals.
    CHECK(quote_literal(dialect, "plain") == "'plain'");
    CHECK(quote_literal(dialect, "O'Reilly") == "'O''Reilly'");
    CHECK(quote_literal(dialect, "") == "''");
    CHECK(quote_literal(dialect, R"(back\slash)") == R"('back\slash')"); // standard_conforming_strings
    CHECK(quote_literal(dialect, "line\nbreak") == "'line\nbreak'");

    // A NUL byte cannot be represented: refuse rather than truncate.
    CHECK_THROWS_AS(quote_identifier(dialect, "a\0b"s), grant::Error);
    CHECK_THROWS_AS(quote_literal(dialect, "a\0b"s), grant::Error);
  }
  CHECK(dialect_name(Dialect::postgres) == "postgres");
  CHECK(dialect_name(Dialect::sqlite) == "sqlite");
}

TEST_CASE("db::array_literal") {
  CHECK(array_literal({}) == "{}");
  CHECK(array_literal({"a", std::nullopt, ""}) == R"({"a",NULL,""})");
  // Quotes and backslashes are escaped; commas, braces and the word NULL stay inside the quotes.
  CHECK(array_literal({R"(say "hi")", R"(back\slash)", "a,b}", "NULL"}) ==
        R"({"say \"hi\"","back\\slash","a,b}","NULL"})");
  std::string out = "x:";
  append_array_element(out, std::nullopt);
  append_array_element(out, "1");
  CHECK(out == R"(x:NULL"1")");
}

} // namespace grant_test_quoting_test
