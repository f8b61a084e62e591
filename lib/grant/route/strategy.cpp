#include <grant/route/strategy.hpp>

#include <grant/error.hpp>
#include <grant/util/strings.hpp>

#include <array>

namespace grant::route {

namespace {

struct Entry {
  std::string_view name;
  std::unique_ptr<Strategy> (*make)(Replicas);
};

// The registry of strategies; config::balancer_strategies() lists the same names.
constexpr std::array k_strategies = {
    Entry{"round_robin", detail::make_round_robin},
    Entry{"random", detail::make_random},
    Entry{"least_connections", detail::make_least_connections},
};

} // namespace

std::vector<std::string> strategy_names() {
  std::vector<std::string> names;
  for (const auto& entry : k_strategies) {
    names.emplace_back(entry.name);
  }
  return names;
}

std::unique_ptr<Strategy> make_strategy(std::string_view name, Replicas replicas, const std::string& key_path) {
  for (const auto& entry : k_strategies) {
    if (entry.name == name) {
      return entry.make(std::move(replicas));
    }
  }
  const auto known = strategy_names();
  const auto suggestion = util::closest_match(name, known);
  throw ConfigError("unknown balancer strategy " + util::in_quotes(name), key_path,
                    suggestion.empty() ? "strategies: " + util::join(known, ", ")
                                       : "did you mean " + util::in_quotes(suggestion) + "?");
}

} // namespace grant::route
