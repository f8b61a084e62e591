#include <grant/config/reader.hpp>

#include <grant/util/strings.hpp>

#include <limits>

namespace grant::config::detail {

RolloutSettings Reader::rollout(const Json& value, const std::string& key_path) const {
  require_object(value, key_path);
  allow_keys(value, key_path, {"canary", "waves", "order", "pause_ms", "max_lag_ms", "gate_cmd", "gate_timeout_ms"});
  RolloutSettings out;
  if (value.contains("canary")) {
    out.canary = string_list(value["canary"], key_path + ".canary", true);
  }
  if (value.contains("waves")) {
    out.waves = string_list(value["waves"], key_path + ".waves", false);
  }
  if (value.contains("order")) {
    out.order = string(value["order"], key_path + ".order");
    if (out.order != "config" && out.order != "name" && out.order != "size") {
      fail("rollout.order must be \"config\", \"name\" or \"size\", not " + util::in_quotes(out.order),
           key_path + ".order");
    }
  }
  constexpr int k_day_ms = 86'400'000;
  optional_integer(value, key_path, "pause_ms", 0, k_day_ms, out.pause_ms);
  optional_integer(value, key_path, "gate_timeout_ms", 0, k_day_ms, out.gate_timeout_ms);
  if (value.contains("max_lag_ms")) {
    out.max_lag_ms = integer(value["max_lag_ms"], key_path + ".max_lag_ms", 0, std::numeric_limits<int>::max());
  }
  if (value.contains("gate_cmd")) {
    out.gate_cmd = string(value["gate_cmd"], key_path + ".gate_cmd");
  }
  return out;
}

} // namespace grant::config::detail
