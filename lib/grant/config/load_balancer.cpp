#include <grant/config/reader.hpp>

#include <grant/util/strings.hpp>

#include <algorithm>

namespace grant::config {

const std::vector<std::string>& balancer_strategies() {
  static const std::vector<std::string> names = {"round_robin", "random", "least_connections"};
  return names;
}

namespace detail {

BalancerSettings Reader::balancer(const Json& value, const std::string& key_path) const {
  require_object(value, key_path);
  allow_keys(value, key_path, {"strategy", "failure_threshold", "cooldown_ms"});
  BalancerSettings out;
  optional_integer(value, key_path, "failure_threshold", 1, 1000000, out.failure_threshold);
  optional_integer(value, key_path, "cooldown_ms", 1, 86400000, out.cooldown_ms);
  if (value.contains("strategy")) {
    const auto& known = balancer_strategies();
    out.strategy = string(value["strategy"], key_path + ".strategy");
    if (std::find(known.begin(), known.end(), out.strategy) == known.end()) {
      const auto suggestion = util::closest_match(out.strategy, known);
      fail("unknown balancer strategy " + util::in_quotes(out.strategy), key_path + ".strategy",
           suggestion.empty() ? "strategies: " + util::join(known, ", ")
                              : "did you mean " + util::in_quotes(suggestion) + "?");
    }
  }
  return out;
}

} // namespace detail

} // namespace grant::config
