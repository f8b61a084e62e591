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
  if (value.contains("max_idle")) {
    out.max_idle = integer(value["max_idle"], key_path + ".max_idle", 0, out.size);
  }
  if (value.contains("checkout_timeout_ms")) {
    out.checkout_timeout_ms = integer(value["checkout_timeout_ms"], key_path + ".checkout_timeout_ms", 0, 3600000);
  }
  if (value.contains("connect_timeout_ms")) {
    out.connect_timeout_ms = integer(value["connect_timeout_ms"], key_path + ".connect_timeout_ms", 1, 3600000);
  }
  if (value.contains("retry_attempts")) {
    out.retry_attempts = integer(value["retry_attempts"], key_path + ".retry_attempts", 0, 100);
  }
  if (value.contains("retry_delay_ms")) {
    out.retry_delay_ms = integer(value["retry_delay_ms"], key_path + ".retry_delay_ms", 0, 600000);
  }
  return out;
}

} // namespace grant::config::detail
