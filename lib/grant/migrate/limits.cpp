#include <grant/migrate/limits.hpp>

namespace grant::migrate {

namespace {

std::optional<std::chrono::milliseconds> either(const std::optional<std::chrono::milliseconds>& marker,
                                                const std::optional<int>& default_ms) {
  if (marker) {
    return marker;
  }
  if (default_ms) {
    return std::chrono::milliseconds(*default_ms);
  }
  return std::nullopt;
}

} // namespace

Limits effective_limits(const Section& section, const config::MigrateSettings& defaults) {
  Limits out;
  out.lock_timeout = either(section.lock_timeout, defaults.lock_timeout_ms);
  out.statement_timeout = either(section.statement_timeout, defaults.statement_timeout_ms);
  out.retries = section.retries.value_or(defaults.retries.value_or(0));
  return out;
}

} // namespace grant::migrate
