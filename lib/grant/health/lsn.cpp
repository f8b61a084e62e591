#include <grant/health/lsn.hpp>

#include <charconv>

namespace grant::health {

std::optional<std::uint64_t> parse_lsn(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) {
    return std::nullopt;
  }
  const auto hex = [](std::string_view part) -> std::optional<std::uint64_t> {
    std::uint32_t value = 0;
    const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), value, 16);
    if (error != std::errc{} || end != part.data() + part.size()) {
      return std::nullopt;
    }
    return value;
  };
  const auto high = hex(text.substr(0, slash));
  const auto low = hex(text.substr(slash + 1));
  if (!high || !low) {
    return std::nullopt;
  }
  return (*high << 32) | *low;
}

} // namespace grant::health
