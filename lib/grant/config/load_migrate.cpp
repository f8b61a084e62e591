#include <grant/config/reader.hpp>

#include <limits>

namespace grant::config::detail {

MigrateSettings Reader::migrate(const Json& value, const std::string& key_path) const {
  require_object(value, key_path);
  allow_keys(value, key_path, {"lock_timeout_ms", "statement_timeout_ms", "retries"});
  MigrateSettings out;
  constexpr int k_max_ms = std::numeric_limits<int>::max(); // PostgreSQL's limit for both
  if (value.contains("lock_timeout_ms")) {
    out.lock_timeout_ms = integer(value["lock_timeout_ms"], key_path + ".lock_timeout_ms", 0, k_max_ms);
  }
  if (value.contains("statement_timeout_ms")) {
    out.statement_timeout_ms = integer(value["statement_timeout_ms"], key_path + ".statement_timeout_ms", 0, k_max_ms);
  }
  if (value.contains("retries")) {
    out.retries = integer(value["retries"], key_path + ".retries", 0, 100);
  }
  return out;
}

} // namespace grant::config::detail
