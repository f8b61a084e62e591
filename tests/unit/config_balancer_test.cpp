// databases.X.balancer: the strategy name, its default, and errors with the key path.
#include <grant/config/load.hpp>
#include <grant/error.hpp>
#include <grant/route/strategy.hpp>

#include <doctest/doctest.h>

#include <algorithm>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_config_balancer_test {

using namespace grant;

namespace {

config::Config parse(const std::string& database_body) {
  return config::parse(R"({"databases": {"a": )" + database_body + "}}", "grant.json",
                       [](const std::string&) { return std::nullopt; });
}

ConfigError parse_error(const std::string& database_body) {
  try {
    parse(database_body);
  } catch (const ConfigError& error) {
    return error;
  }
  FAIL("accepted: " << database_body);
  return ConfigError("");
}

} // namespace

TEST_CASE("config: databases.X.balancer") {
  SUBCASE("round_robin by default") {
    CHECK(parse(R"({"url": "postgres://h/a"})").databases[0].balancer.strategy == "round_robin");
    CHECK(parse(R"({"url": "postgres://h/a", "balancer": {}})").databases[0].balancer.strategy == "round_robin");
  }
  SUBCASE("every strategy name is accepted, and ${VAR} expands") {
    for (const auto& name : config::balancer_strategies()) {
      CHECK(parse(R"({"url": "postgres://h/a", "balancer": {"strategy": ")" + name + R"("}})")
                .databases[0]
                .balancer.strategy == name);
    }
    const auto cfg = config::parse(R"({"databases": {"a": {"url": "postgres://h/a",
      "balancer": {"strategy": "${STRATEGY:-random}"}}}})",
                                   "grant.json", [](const std::string&) { return std::nullopt; });
    CHECK(cfg.databases[0].balancer.strategy == "random");
  }
  SUBCASE("an unknown strategy names its key path and the nearest name") {
    const auto error = parse_error(R"({"url": "postgres://h/a", "balancer": {"strategy": "least_connection"}})");
    CHECK(std::string(error.what()) == "unknown balancer strategy 'least_connection'");
    CHECK(error.where() == "grant.json: databases.a.balancer.strategy");
    CHECK(error.hint() == "did you mean 'least_connections'?");
    CHECK(error.exit_code() == 2);
    const auto far = parse_error(R"({"url": "postgres://h/a", "balancer": {"strategy": "fastest"}})");
    CHECK(far.hint() == "strategies: round_robin, random, least_connections");
  }
  SUBCASE("unknown keys and wrong types") {
    auto error = parse_error(R"({"url": "postgres://h/a", "balancer": {"type": "random"}})");
    CHECK(error.where() == "grant.json: databases.a.balancer.type");
    error = parse_error(R"({"url": "postgres://h/a", "balancer": "random"})");
    CHECK(std::string(error.what()) == "databases.a.balancer must be an object, not string");
    error = parse_error(R"({"url": "postgres://h/a", "balancer": {"strategy": 1}})");
    CHECK(error.where() == "grant.json: databases.a.balancer.strategy");
  }
  SUBCASE("breaker settings: defaults 5 and 5000 ms, bounds, strings from the environment") {
    const auto defaults = parse(R"({"url": "postgres://h/a"})").databases[0].balancer;
    CHECK(defaults.failure_threshold == 5);
    CHECK(defaults.cooldown_ms == 5000);
    const auto set = parse(R"({"url": "postgres://h/a", "balancer": {"failure_threshold": 2, "cooldown_ms": "750"}})")
                         .databases[0]
                         .balancer;
    CHECK(set.failure_threshold == 2);
    CHECK(set.cooldown_ms == 750);
    auto error = parse_error(R"({"url": "postgres://h/a", "balancer": {"failure_threshold": 0}})");
    CHECK(std::string(error.what()) == "databases.a.balancer.failure_threshold must be between 1 and 1000000, got 0");
    CHECK(error.where() == "grant.json: databases.a.balancer.failure_threshold");
    error = parse_error(R"({"url": "postgres://h/a", "balancer": {"cooldown_ms": -1}})");
    CHECK(error.where() == "grant.json: databases.a.balancer.cooldown_ms");
    error = parse_error(R"({"url": "postgres://h/a", "balancer": {"cooldown": 100}})");
    CHECK(error.where() == "grant.json: databases.a.balancer.cooldown");
    CHECK(error.hint() == "allowed keys: strategy, failure_threshold, cooldown_ms");
  }
  SUBCASE("the config's names and route's strategy table agree") {
    auto from_config = config::balancer_strategies();
    auto from_route = route::strategy_names();
    CHECK(from_config == from_route);
  }
}

TEST_CASE("config: databases.X.routing") {
  SUBCASE("lsn mode and a 2000 ms window by default") {
    const auto routing = parse(R"({"url": "postgres://h/a"})").databases[0].routing;
    CHECK(routing.read_your_writes == config::ReadYourWrites::lsn);
    CHECK(routing.read_your_writes_ms == 2000);
  }
  SUBCASE("every mode, and the window") {
    for (const auto mode : {config::ReadYourWrites::lsn, config::ReadYourWrites::window, config::ReadYourWrites::off}) {
      const auto name = std::string(config::read_your_writes_name(mode));
      const auto routing = parse(R"({"url": "postgres://h/a", "routing": {"read_your_writes": ")" + name +
                                 R"(", "read_your_writes_ms": 500}})")
                               .databases[0]
                               .routing;
      CHECK(routing.read_your_writes == mode);
      CHECK(routing.read_your_writes_ms == 500);
    }
  }
  SUBCASE("errors name the key path") {
    auto error = parse_error(R"({"url": "postgres://h/a", "routing": {"read_your_writes": "lns"}})");
    CHECK(std::string(error.what()) == "unknown read_your_writes mode 'lns'");
    CHECK(error.where() == "grant.json: databases.a.routing.read_your_writes");
    CHECK(error.hint() == "did you mean 'lsn'?");
    error = parse_error(R"({"url": "postgres://h/a", "routing": {"read_your_writes_ms": 3600001}})");
    CHECK(error.where() == "grant.json: databases.a.routing.read_your_writes_ms");
    CHECK(error.exit_code() == 2);
    error = parse_error(R"({"url": "postgres://h/a", "routing": {"window_ms": 5}})");
    CHECK(error.where() == "grant.json: databases.a.routing.window_ms");
    error = parse_error(R"({"url": "postgres://h/a", "routing": []})");
    CHECK(error.where() == "grant.json: databases.a.routing");
  }
}

} // namespace grant_test_config_balancer_test
