#include <grant/db/postgres_text.hpp>

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_db_postgres_text_test {

using namespace grant::db::postgres_text;
using grant::db::ValueType;

// Splits one COPY text line; returns the fields as strings, "<null>" for NULL.
std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> decoded;
  std::vector<std::string_view> fields;
  std::vector<bool> nulls;
  split_copy_line(line, decoded, fields, nulls);
  REQUIRE(fields.size() == nulls.size());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    out.push_back(nulls[i] ? "<null>" : std::string(fields[i]));
  }
  return out;
}

TEST_CASE("db::postgres_text COPY text lines") {
  CHECK(split("1\tada\t\\N") == std::vector<std::string>{"1", "ada", "<null>"});
  CHECK(split("") == std::vector<std::string>{""});
  CHECK(split("\t") == std::vector<std::string>{"", ""});
  // Backslash escapes, octal included, and a literal backslash.
  CHECK(split("a\\tb\tline\\none\t\\\\N\t\\101\\0612") == std::vector<std::string>{"a\tb", "line\none", "\\N", "A12"});
  CHECK(split("\\b\\f\\r\\v\\x") == std::vector<std::string>{"\b\f\r\vx"});
  // Two decoded fields in one row: the first view must survive decoding the second.
  CHECK(split("x\\ty\tz\\tw") == std::vector<std::string>{"x\ty", "z\tw"});
}

TEST_CASE("db::postgres_text server messages") {
  CHECK(clean_message("ERROR:  relation \"nope\" does not exist\nLINE 1: select * from nope\n") ==
        "relation \"nope\" does not exist\nLINE 1: select * from nope");
  CHECK(clean_message("FATAL:  password authentication failed for user \"app\"\n") ==
        "password authentication failed for user \"app\"");
  CHECK(line_from_message("syntax error at or near \"FROMM\"\nLINE 3: FROMM t") == 3);
  CHECK(line_from_message("no line here") == 0);

  std::string declared = "syntax error\nLINE 4: selec 1";
  CHECK(shift_line_back(declared) == 3);
  CHECK(declared == "syntax error\nLINE 3: selec 1");
  std::string first = "syntax error\nLINE 1: DECLARE c CURSOR FOR selec";
  CHECK(shift_line_back(first) == 0);
  CHECK(first == "syntax error\nLINE 1: DECLARE c CURSOR FOR selec");
}

TEST_CASE("db::postgres_text URL parameters and type OIDs") {
  CHECK(with_parameter("postgres://h/db", "connect_timeout", "5") == "postgres://h/db?connect_timeout=5");
  CHECK(with_parameter("postgres://h/db?sslmode=disable", "connect_timeout", "5") ==
        "postgres://h/db?sslmode=disable&connect_timeout=5");
  CHECK(with_parameter("postgres://h/db?connect_timeout=9", "connect_timeout", "5") ==
        "postgres://h/db?connect_timeout=9");
  CHECK(value_type(20) == ValueType::integer);
  CHECK(value_type(1700) == ValueType::number);
  CHECK(value_type(16) == ValueType::boolean);
  CHECK(value_type(3802) == ValueType::json);
  CHECK(value_type(25) == ValueType::text);
}

} // namespace grant_test_db_postgres_text_test
