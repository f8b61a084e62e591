#include <grant/util/gtid.hpp>

#include <grant/util/strings.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>

namespace grant::util {

namespace {

std::optional<std::uint64_t> number(std::string_view text) {
  std::uint64_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || stop != end) {
    return std::nullopt;
  }
  return value;
}

} // namespace

std::optional<std::map<std::uint64_t, std::uint64_t>> gtid_sequences(std::string_view text) {
  std::map<std::uint64_t, std::uint64_t> out;
  text = trim(text);
  while (!text.empty()) {
    const auto comma = text.find(',');
    const auto gtid = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const auto first = gtid.find('-');
    const auto last = gtid.rfind('-');
    if (first == std::string_view::npos || first == last) {
      return std::nullopt;
    }
    const auto domain = number(gtid.substr(0, first));
    const auto server = number(gtid.substr(first + 1, last - first - 1));
    const auto sequence = number(gtid.substr(last + 1));
    if (!domain || !server || !sequence) {
      return std::nullopt;
    }
    auto& kept = out[*domain];
    kept = std::max(kept, *sequence);
  }
  return out;
}

std::optional<std::uint64_t> gtid_transactions_behind(std::string_view position, std::string_view replayed) {
  const auto wanted = gtid_sequences(position);
  const auto have = gtid_sequences(replayed);
  if (!wanted || !have) {
    return std::nullopt;
  }
  std::uint64_t behind = 0;
  for (const auto& [domain, sequence] : *wanted) {
    const auto found = have->find(domain);
    const std::uint64_t done = found == have->end() ? 0 : found->second;
    behind += sequence > done ? sequence - done : 0;
  }
  return behind;
}

bool gtid_position_reached(std::string_view position, std::string_view replayed) {
  return gtid_transactions_behind(position, replayed) == std::uint64_t{0};
}

} // namespace grant::util
