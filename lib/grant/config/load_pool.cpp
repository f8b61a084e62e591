#include <grant/config/reader.hpp>

namespace grant::config::detail {

PoolSettings Reader::pool(const Json& value, const std::string& key_path) const {
  require_object(value, key_path);
  allow_keys(value, key_path,
             {"size", "max_idle", "checkout_timeout_ms", "connect_timeout_ms", "retry_attempts", "retry_delay_ms"});
  PoolSettings out;
  if (value.contains("size")) {
    out.size = integer(value["size"], key_path + ".size", 1, 10000);
    out.max_idle = out.size;
  }
  optional_integer(value, key_path, "max_idle", 0, out.size, out.max_idle);
  optional_integer(value, key_path, "checkout_timeout_ms", 0, 3600000, out.checkout_timeout_ms);
  optional_integer(value, key_path, "connect_timeout_ms", 1, 3600000, out.connect_timeout_ms);
  optional_integer(value, key_path, "retry_attempts", 0, 100, out.retry_attempts);
  optional_integer(value, key_path, "retry_delay_ms", 0, 600000, out.retry_delay_ms);
  return out;
}

} // namespace grant::config::detail
