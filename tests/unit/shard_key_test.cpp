#include <grant/shard/key.hpp>
#include <grant/shard/key_range.hpp>

#include <doctest/doctest.h>

#include <limits>
#include <string>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_shard_key_test {

using namespace grant::shard;

namespace {

std::string hex(std::string_view bytes) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : bytes) {
    out += k_digits[c >> 4];
    out += k_digits[c & 0xF];
  }
  return out;
}

struct Vector {
  const char* label;
  Key key;
  const char* bytes;
  const char* id;
};

KeyRange range(const char* text) {
  std::string error;
  const auto parsed = parse_key_range(text, error);
  REQUIRE_MESSAGE(parsed.has_value(), text << ": " << error);
  return *parsed;
}

} // namespace

TEST_CASE("shard::key typing rule") {
  const auto is_integer = [](std::string_view text) { return Key::from_text({text}).integer().has_value(); };
  SUBCASE("canonical decimal int64s are integers") {
    CHECK(Key::from_text({"0"}).integer() == 0);
    CHECK(Key::from_text({"42"}).integer() == 42);
    CHECK(Key::from_text({"-7"}).integer() == -7);
    CHECK(Key::from_text({"9223372036854775807"}).integer() == std::numeric_limits<std::int64_t>::max());
    CHECK(Key::from_text({"-9223372036854775808"}).integer() == std::numeric_limits<std::int64_t>::min());
  }
  SUBCASE("anything else is a string") {
    for (const char* text : {"+7", "007", "-0", "00", "-", "1e3", "4.0", " 42", "42 ", "0x10", "9223372036854775808",
                             "-9223372036854775809", "6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f", "acme"}) {
      CAPTURE(text);
      CHECK_FALSE(is_integer(text));
    }
  }
  SUBCASE("the integer 42 and the string '42' are different keys") {
    CHECK(Key::from_text({"42"}) == Key::from_integer(42));
    CHECK_FALSE(Key::from_string("42") == Key::from_integer(42));
    CHECK(Key::from_text({"007"}) == Key::from_string("007"));
  }
  SUBCASE("an empty key or key part is an error") {
    CHECK_THROWS_AS(Key::from_text({""}), KeyError);
    CHECK_THROWS_WITH(Key::from_text({"acme", ""}), "empty shard key part 2");
    CHECK_THROWS_WITH(Key::from_text(std::span<const std::string_view>()), "empty shard key");
    try {
      Key::from_text({""});
      FAIL("an empty key was accepted");
    } catch (const KeyError& error) {
      CHECK(error.problem() == KeyProblem::empty_part);
      CHECK(error.kind() == grant::ErrorKind::usage);
    }
  }
  SUBCASE("assign_text reuses one key for a stream") {
    Key key;
    key.assign_text(std::vector<std::string_view>{"acme", "42"});
    CHECK(key.size() == 2);
    key.assign_text(std::vector<std::string_view>{"7"});
    CHECK(key == Key::from_integer(7));
    CHECK(key.to_display() == "7");
    CHECK(Key::from_text({"acme", "42"}).to_display() == "('acme', 42)");
  }
}

TEST_CASE("shard::key canonical encoding vectors") {
  // Frozen: docs/hash-vectors.md promises these never change.
  const Vector vectors[] = {
      {"0", Key::from_text({"0"}), "010000000000000000", "a2443c71157cb676"},
      {"1", Key::from_text({"1"}), "010000000000000001", "46894e5a99fba7f0"},
      {"-1", Key::from_text({"-1"}), "01ffffffffffffffff", "e4a42358fe73e0b6"},
      {"42", Key::from_text({"42"}), "01000000000000002a", "7e1480456b8f3aa6"},
      {"INT64_MIN", Key::from_text({"-9223372036854775808"}), "018000000000000000", "781d72b3df4e5192"},
      {"INT64_MAX", Key::from_text({"9223372036854775807"}), "017fffffffffffffff", "a2177c9d4c88bcca"},
      {"a", Key::from_text({"a"}), "020000000161", "f21c0e2f45addccf"},
      {"acme", Key::from_text({"acme"}), "020000000461636d65", "362e857d96efc3c9"},
      {"uuid", Key::from_text({"6f1c2a4e-8d3b-4c5a-9e7f-0a1b2c3d4e5f"}),
       "020000002436663163326134652d386433622d346335612d396537662d306131623263336434653566", "d48f2f9f4d51115d"},
      {"utf-8", Key::from_text({"Z\xc3\xbcrich-\xe6\x9d\xb1\xe4\xba\xac"}), "020000000e5ac3bc726963682de69db1e4baac",
       "f03e7785810d683c"},
      {"('acme', 42)", Key::from_text({"acme", "42"}), "020000000461636d6501000000000000002a", "7d3102fb0eb17f9a"},
      {"'42' as a string", Key::from_string("42"), "02000000023432", "189d58aeac59490a"},
      {"007", Key::from_text({"007"}), "0200000003303037", "5c0088e1bcda8481"},
  };
  for (const auto& vector : vectors) {
    CAPTURE(vector.label);
    CHECK(hex(vector.key.bytes()) == vector.bytes);
    CHECK(keyspace_id_hex(vector.key.keyspace_id()) == vector.id);
  }
  SUBCASE("consistent_hash ring points: the key (shard name, virtual node index)") {
    const Vector points[] = {
        {"('s0', 0)", Key::from_string("s0").add_integer(0), "02000000027330010000000000000000", "d5615562fb3161b3"},
        {"('s0', 1)", Key::from_string("s0").add_integer(1), "02000000027330010000000000000001", "be3517b3f6621ef8"},
        {"('s1', 0)", Key::from_string("s1").add_integer(0), "02000000027331010000000000000000", "d5cd97ef16d29e37"},
        {"('shard-eu', 159)", Key::from_string("shard-eu").add_integer(159),
         "020000000873686172642d657501000000000000009f", "5ad21a9d2c8f70fb"},
    };
    for (const auto& point : points) {
      CAPTURE(point.label);
      CHECK(hex(point.key.bytes()) == point.bytes);
      CHECK(keyspace_id_hex(point.key.keyspace_id()) == point.id);
    }
  }
  SUBCASE("a composite key is the concatenation of its parts") {
    const auto composite = Key::from_text({"acme", "42"});
    CHECK(composite.bytes() ==
          std::string(Key::from_text({"acme"}).bytes()) + std::string(Key::from_integer(42).bytes()));
  }
  SUBCASE("lengths keep composite keys apart") {
    CHECK_FALSE(Key::from_text({"ab", "c"}) == Key::from_text({"a", "bc"}));
    CHECK_FALSE(Key::from_text({"ab", "c"}).keyspace_id() == Key::from_text({"a", "bc"}).keyspace_id());
  }
}

TEST_CASE("shard::key_range") {
  SUBCASE("Vitess notation, left-aligned to 64 bits") {
    CHECK(range("-80") == KeyRange{0, 0x8000000000000000ULL, false});
    CHECK(range("80-") == KeyRange{0x8000000000000000ULL, 0, true});
    CHECK(range("40-80") == KeyRange{0x4000000000000000ULL, 0x8000000000000000ULL, false});
    CHECK(range("-") == KeyRange{0, 0, true});
    CHECK(range("4000-8A") == KeyRange{0x4000000000000000ULL, 0x8a00000000000000ULL, false});
    CHECK(range("0102030405060708-") == KeyRange{0x0102030405060708ULL, 0, true});
    CHECK(range("40-80").to_string() == "40-80");
    CHECK(range("-8000").to_string() == "-80");
    CHECK(range("-").to_string() == "-");
  }
  SUBCASE("boundaries: start inclusive, end exclusive") {
    const auto r = range("40-80");
    CHECK(r.contains(0x4000000000000000ULL));
    CHECK(r.contains(0x7fffffffffffffffULL));
    CHECK_FALSE(r.contains(0x8000000000000000ULL));
    CHECK_FALSE(r.contains(0x3fffffffffffffffULL));
    CHECK(range("c0-").contains(0xffffffffffffffffULL));
  }
  SUBCASE("malformed") {
    std::string error;
    for (const char* text : {"", "80", "8-", "-8", "-8g", "40-80-c0", "80-40", "40-40", "-001122334455667788"}) {
      CAPTURE(text);
      CHECK_FALSE(parse_key_range(text, error).has_value());
      CHECK_FALSE(error.empty());
    }
    parse_key_range("-8", error);
    CHECK(error.find("odd number of hex digits") != std::string::npos);
  }
  SUBCASE("even split matches Vitess key.GenerateShardRanges") {
    const auto names = [](std::size_t shards) {
      std::vector<std::string> out;
      for (const auto& r : even_key_ranges(shards)) {
        out.push_back(r.to_string());
      }
      return out;
    };
    CHECK(names(1) == std::vector<std::string>{"-"});
    CHECK(names(2) == std::vector<std::string>{"-80", "80-"});
    CHECK(names(3) == std::vector<std::string>{"-55", "55-aa", "aa-"});
    CHECK(names(4) == std::vector<std::string>{"-40", "40-80", "80-c0", "c0-"});
    CHECK(names(98)[48] == "7d-7f");  // Vitess's float64 arithmetic, kept on purpose
    CHECK(names(49).back() == "fa-"); // ... but the last range always reaches the end
    CHECK(names(512)[1] == "0080-01");
    CHECK(even_key_ranges(65537).empty());
  }
}

} // namespace grant_test_shard_key_test
