#include <grant/util/text.hpp>

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_util_text_test {

using namespace grant::util;

TEST_CASE("util::text") {
  SUBCASE("utf8_sequence_length follows Unicode's table of well-formed sequences") {
    CHECK(utf8_sequence_length("a", 0) == 1);
    CHECK(utf8_sequence_length("\xc3\xa9", 0) == 2);
    CHECK(utf8_sequence_length("\xe2\x82\xac", 0) == 3);
    CHECK(utf8_sequence_length("\xf0\x9f\x98\x80", 0) == 4);
    CHECK(utf8_sequence_length("\xc0\xaf", 0) == 0);         // overlong '/'
    CHECK(utf8_sequence_length("\xe0\x80\xaf", 0) == 0);     // overlong
    CHECK(utf8_sequence_length("\xed\xa0\x80", 0) == 0);     // a surrogate
    CHECK(utf8_sequence_length("\xf4\x90\x80\x80", 0) == 0); // above U+10FFFF
    CHECK(utf8_sequence_length("\xe2\x82", 0) == 0);         // cut short
    CHECK(utf8_sequence_length("\x80", 0) == 0);
    CHECK(utf8_sequence_length("\xff", 0) == 0);
  }
  SUBCASE("valid_utf8 replaces each maximal invalid subpart with one U+FFFD") {
    CHECK(valid_utf8("caf\xc3\xa9") == "caf\xc3\xa9");
    CHECK(valid_utf8("\xff\t\xfe") == "\xef\xbf\xbd\t\xef\xbf\xbd");
    CHECK(valid_utf8("\xe2\x82"
                     "A") == "\xef\xbf\xbd"
                             "A");
    CHECK(valid_utf8("\xe0\x80") == "\xef\xbf\xbd\xef\xbf\xbd");
    CHECK(valid_utf8("x\xe2\x82") == "x\xef\xbf\xbd");
  }
  SUBCASE("json_text agrees with valid_utf8 and never throws") {
    for (const std::string bad : {"\xff\t\xfe",
                                  "\xe2\x82"
                                  "A",
                                  "\xe0\x80", "x\xe2\x82", "\xed\xa0\x80 \xc0\xaf"}) {
      const auto text = json_text(nlohmann::json(bad));
      CHECK(nlohmann::json::parse(text) == valid_utf8(bad));
    }
    CHECK(json_text(nlohmann::json{{"k\xff", {"\x1b[2J", 1}}}) == "{\"k\xef\xbf\xbd\":[\"\\u001b[2J\",1]}");
    CHECK(json_text(nlohmann::json{{"a", 1}}, 2) == "{\n  \"a\": 1\n}");
  }
  SUBCASE("printable leaves plain text alone and escapes what a terminal would act on") {
    CHECK(printable("orders/s0  caf\xc3\xa9 \xe2\x82\xac") == "orders/s0  caf\xc3\xa9 \xe2\x82\xac");
    CHECK(printable("a\x1b[2Jb") == "a\\x1b[2Jb");
    CHECK(printable("line\r\nnext\ttab") == "line\\r\\nnext\\ttab");
    CHECK(printable("line\r\nnext\ttab", "\n\t") == "line\\r\nnext\ttab");
    CHECK(printable("\xff\t\xfe") == "\\xff\\t\\xfe");
    CHECK(printable("\xe2\x82"
                    "A") == "\\xe2\\x82A");
    CHECK(printable("bell\x07 del\x7f nul", "") == "bell\\x07 del\\x7f nul");
    CHECK(printable(std::string_view("a\0b", 3)) == "a\\x00b");
    CHECK(printable("csi\xc2\x9b"
                    "2J nbsp\xc2\xa0") == "csi\\u009b2J nbsp\xc2\xa0");
  }
  SUBCASE("keep_colors passes color codes and nothing else") {
    CHECK(printable("\x1b[1;31mFAILED\x1b[0m", "", true) == "\x1b[1;31mFAILED\x1b[0m");
    CHECK(printable("\x1b[1;31mFAILED\x1b[0m") == "\\x1b[1;31mFAILED\\x1b[0m");
    CHECK(printable("\x1b[2J\x1b]0;title\x07", "", true) == "\\x1b[2J\\x1b]0;title\\x07");
    CHECK(printable("\x1b[", "", true) == "\\x1b[");
  }
}

} // namespace grant_test_util_text_test
