#include <grant/config/reader.hpp>

namespace grant::config::detail {

HealthSettings Reader::health(const Json& value, const std::string& key_path) const {
  require_object(value, key_path);
  allow_keys(value, key_path, {"timeout_ms", "max_lag_ms", "fall", "rise"});
  HealthSettings out;
  if (value.contains("timeout_ms")) {
    out.timeout_ms = integer(value["timeout_ms"], key_path + ".timeout_ms", 1, 3600000);
  }
  if (value.contains("max_lag_ms")) {
    out.max_lag_ms = integer(value["max_lag_ms"], key_path + ".max_lag_ms", 0, 86400000);
  }
  if (value.contains("fall")) {
    out.fall = integer(value["fall"], key_path + ".fall", 1, 100);
  }
  if (value.contains("rise")) {
    out.rise = integer(value["rise"], key_path + ".rise", 1, 100);
  }
  return out;
}

} // namespace grant::config::detail
