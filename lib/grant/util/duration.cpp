#include <grant/util/duration.hpp>

#include <array>
#include <cctype>
#include <limits>
#include <utility>

namespace grant::util {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::size_t digits = 0;
  long long number = 0;
  constexpr long long k_max = std::numeric_limits<int>::max(); // what PostgreSQL's GUCs hold
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])) != 0) {
    number = number * 10 + (text[digits] - '0');
    if (number > k_max * 1000) {
      return std::nullopt;
    }
    ++digits;
  }
  if (digits == 0) {
    return std::nullopt;
  }
  const auto unit = text.substr(digits);
  // Microseconds per unit; `us` rounds up so a non-zero duration never becomes "no limit".
  static constexpr std::array<std::pair<std::string_view, long long>, 7> k_units{
      {{"", 1000}, {"us", 1}, {"ms", 1000}, {"s", 1000000}, {"min", 60000000}, {"h", 3600000000}, {"d", 86400000000}}};
  for (const auto& [name, micros] : k_units) {
    if (unit != name) {
      continue;
    }
    if (micros >= 1000 && number > k_max / (micros / 1000)) {
      return std::nullopt;
    }
    const long long ms = micros >= 1000 ? number * (micros / 1000) : (number + 999) / 1000;
    if (ms > k_max) {
      return std::nullopt;
    }
    return std::chrono::milliseconds(ms);
  }
  return std::nullopt;
}

} // namespace grant::util
