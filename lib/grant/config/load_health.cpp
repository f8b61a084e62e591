#include <grant/config/reader.hpp>

namespace grant::config::detail {

HealthSettings Reader::health(const Json& value, const std::string& key_path) const {
  require_object(value, key_path);
  allow_keys(value, key_path, {"timeout_ms", "max_lag_ms", "fall", "rise"});
  HealthSettings out;
  optional_integer(value, key_path, "timeout_ms", 1, 3600000, out.timeout_ms);
  optional_integer(value, key_path, "max_lag_ms", 0, 86400000, out.max_lag_ms);
  optional_integer(value, key_path, "fall", 1, 100, out.fall);
  optional_integer(value, key_path, "rise", 1, 100, out.rise);
  return out;
}

} // namespace grant::config::detail
