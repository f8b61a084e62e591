#include <grant/config/interpolate.hpp>

#include <grant/error.hpp>

#include <doctest/doctest.h>

#include <map>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_interpolate_test {

using grant::ConfigError;
using grant::config::interpolate;

namespace {

grant::config::EnvLookup env_of(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    const auto found = values.find(name);
    return found == values.end() ? std::nullopt : std::optional<std::string>(found->second);
  };
}

const auto k_env = env_of({{"HOST", "db.internal"}, {"PORT", "6432"}, {"EMPTY", ""}});

} // namespace

TEST_CASE("config::interpolate") {
  SUBCASE("plain text is unchanged") {
    CHECK(interpolate("postgres://h/db", k_env, "k") == "postgres://h/db");
    CHECK(interpolate("", k_env, "k").empty());
    CHECK(interpolate("cost: $5 {braces}", k_env, "k") == "cost: $5 {braces}");
  }

  SUBCASE("${VAR} is replaced, several times in one string") {
    CHECK(interpolate("postgres://${HOST}:${PORT}/db", k_env, "k") == "postgres://db.internal:6432/db");
    CHECK(interpolate("${HOST}${HOST}", k_env, "k") == "db.internaldb.internal");
  }

  SUBCASE("${VAR:-default} uses the default when unset or empty, like the shell") {
    CHECK(interpolate("${MISSING:-127.0.0.1}", k_env, "k") == "127.0.0.1");
    CHECK(interpolate("${EMPTY:-fallback}", k_env, "k") == "fallback");
    CHECK(interpolate("${HOST:-fallback}", k_env, "k") == "db.internal");
    CHECK(interpolate("${MISSING:-}", k_env, "k").empty());
    CHECK(interpolate("${MISSING:-postgres://grant@h:5432/a?x=1}", k_env, "k") == "postgres://grant@h:5432/a?x=1");
  }

  SUBCASE("a set but empty variable without default is empty, not an error") {
    CHECK(interpolate("a${EMPTY}b", k_env, "k") == "ab");
  }

  SUBCASE("$${ is a literal ${") {
    CHECK(interpolate("$${HOST}", k_env, "k") == "${HOST}");
    CHECK(interpolate("a $${ b ${PORT}", k_env, "k") == "a ${ b 6432");
  }

  SUBCASE("an unset variable without default names the variable and the key path") {
    try {
      interpolate("postgres://${ORDERS_S1_HOST}/orders", k_env, "grant.json: databases.orders.shards[1].url");
      FAIL("expected a ConfigError");
    } catch (const ConfigError& error) {
      const std::string what = error.what();
      CHECK(what.find("ORDERS_S1_HOST") != std::string::npos);
      CHECK(what.find("databases.orders.shards[1].url") != std::string::npos);
      CHECK(error.where() == "grant.json: databases.orders.shards[1].url");
      CHECK(error.hint().find("export ORDERS_S1_HOST=") != std::string::npos);
    }
  }

  SUBCASE("malformed references are errors") {
    CHECK_THROWS_WITH_AS(interpolate("${HOST", k_env, "k"), doctest::Contains("unterminated"), ConfigError);
    CHECK_THROWS_WITH_AS(interpolate("${}", k_env, "k"), doctest::Contains("empty variable name"), ConfigError);
    CHECK_THROWS_WITH_AS(interpolate("${A-B}", k_env, "k"), doctest::Contains("invalid variable name"), ConfigError);
  }
}

} // namespace grant_test_interpolate_test
