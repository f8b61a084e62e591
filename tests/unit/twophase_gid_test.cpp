#include <grant/twophase/gid.hpp>

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_twophase_gid_test {

using grant::twophase::Gid;
using grant::twophase::parse_gid;

TEST_CASE("twophase::gid") {
  SUBCASE("round trip: the coordinator rides in the id") {
    const Gid gid{"orders", grant::twophase::new_txid("20240101120000"), "s1", "s3", false};
    const auto parsed = parse_gid(gid.text());
    REQUIRE(parsed);
    CHECK(parsed->scope == "orders");
    CHECK(parsed->txid == gid.txid);
    CHECK(parsed->coordinator == "s1");
    CHECK(parsed->participant == "s3");
    CHECK_FALSE(parsed->legacy);
    CHECK(parsed->decision_key() == "grant:orders:" + gid.txid + "@s1");
    CHECK(gid.text() == parsed->decision_key() + ":s3");
  }
  SUBCASE("an unsharded database: empty coordinator and participant") {
    const auto parsed = parse_gid("grant:primary:7-00ff@:");
    REQUIRE(parsed);
    CHECK(parsed->coordinator.empty());
    CHECK(parsed->participant.empty());
  }
  SUBCASE("grant 0.1 ids are read, their decision key is what 0.1 wrote") {
    const auto parsed = parse_gid("grant:orders:3:a1b2c3d4e5:s2");
    REQUIRE(parsed);
    CHECK(parsed->legacy);
    CHECK(parsed->participant == "s2");
    CHECK(parsed->decision_key() == "grant:orders:3:a1b2c3d4e5");
    CHECK(parsed->text() == "grant:orders:3:a1b2c3d4e5:s2");
  }
  SUBCASE("other ids are not grant's") {
    CHECK_FALSE(parse_gid("pgbench:1"));
    CHECK_FALSE(parse_gid("grant:"));
    CHECK_FALSE(parse_gid("grant:orders"));
    CHECK_FALSE(parse_gid("grant:orders:@s1:s2"));
    CHECK_FALSE(parse_gid("grant::x@s1:s2"));
  }
  SUBCASE("fresh ids differ") {
    CHECK(grant::twophase::new_txid("1") != grant::twophase::new_txid("1"));
    CHECK(grant::twophase::new_txid("42").rfind("42-", 0) == 0);
  }
}

} // namespace grant_test_twophase_gid_test
