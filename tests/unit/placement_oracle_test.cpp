// The test oracle of tests/support/placement_oracle.hpp against the vectors documented in
// docs/hash-vectors.md: the oracle is written from the documentation, so these vectors are what
// makes it trustworthy as an independent check of grant's resolvers.
#include "support/placement_oracle.hpp"

#include <doctest/doctest.h>

#include <cstdio>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_placement_oracle_test {

namespace oracle = grant::test::oracle;

namespace {

std::string hex(const std::string& bytes) {
  std::string out;
  char buffer[3];
  for (const unsigned char c : bytes) {
    std::snprintf(buffer, sizeof buffer, "%02x", c);
    out += buffer;
  }
  return out;
}

std::string hex(std::uint64_t id) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(id));
  return buffer;
}

} // namespace

TEST_CASE("test oracle: the documented key vectors") {
  struct Vector {
    oracle::KeyParts key;
    const char* bytes;
    const char* id;
  };
  const Vector vectors[] = {
      {{"0"}, "010000000000000000", "a2443c71157cb676"},
      {{"-1"}, "01ffffffffffffffff", "e4a42358fe73e0b6"},
      {{"42"}, "01000000000000002a", "7e1480456b8f3aa6"},
      {{"-9223372036854775808"}, "018000000000000000", "781d72b3df4e5192"},
      {{"9223372036854775807"}, "017fffffffffffffff", "a2177c9d4c88bcca"},
      {{"acme"}, "020000000461636d65", "362e857d96efc3c9"},
      {{"007"}, "0200000003303037", "5c0088e1bcda8481"},
      {{"acme", "42"}, "020000000461636d6501000000000000002a", "7d3102fb0eb17f9a"},
  };
  for (const auto& v : vectors) {
    CAPTURE(v.id);
    CHECK(hex(oracle::canonical_bytes(v.key)) == v.bytes);
    CHECK(hex(oracle::keyspace_id(v.key)) == v.id);
  }
  for (const char* text : {"+7", "-0", "00", "1e3", " 42", "9223372036854775808", ""}) {
    CAPTURE(text);
    CHECK_FALSE(oracle::is_integer(text));
  }
}

TEST_CASE("test oracle: placement rules") {
  CHECK(oracle::modulo_owner(-1, 4) == 3);
  CHECK(oracle::modulo_owner(7, 4) == 3);
  CHECK(oracle::modulo_owner(8, 4) == 0);
  // docs/hash-vectors.md, "Placement examples": two shards, the even split -80, 80-.
  const std::vector<std::uint64_t> halves{0, 0x8000000000000000ULL};
  CHECK(oracle::hash_owner({"42"}, halves) == 0);
  CHECK(oracle::hash_owner({"acme"}, halves) == 0);
  CHECK(oracle::hash_owner({"-1"}, halves) == 1);
  // One shard with one virtual node owns everything; the documented point ("s0", 0) is
  // d5615562fb3161b3, so with ("s1", 0) at d5cd97ef16d29e37 a key just past the first belongs
  // to s1 and one past both wraps to s0: "acme" (362e...) comes before both, so s0.
  CHECK(oracle::Ring({{"s0", 1}}, 1).owner({"acme"}) == 0);
  CHECK(oracle::Ring({{"s0", 1}, {"s1", 1}}, 1).owner({"acme"}) == 0);
  // -1 (e4a4...) is past both points: it wraps to the first point, s0's.
  CHECK(oracle::Ring({{"s1", 1}, {"s0", 1}}, 1).owner({"-1"}) == 1);
}

} // namespace grant_test_placement_oracle_test
