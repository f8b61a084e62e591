#include <grant/shard/heavy_hitters.hpp>

#include <grant/shard/key.hpp>

#include <algorithm>

namespace grant::shard {

std::size_t HeavyHitters::Hash::operator()(std::string_view bytes) const noexcept { return keyspace_id(bytes); }

void HeavyHitters::add(std::string_view bytes) {
  if (const auto found = m_counts.find(bytes); found != m_counts.end()) {
    ++found->second;
    return;
  }
  if (m_counts.size() < m_capacity) {
    m_counts.emplace(std::string(bytes), 1);
    return;
  }
  // Full: this row and one row of every kept key cancel out.
  ++m_undercount;
  for (auto it = m_counts.begin(); it != m_counts.end();) {
    it = --it->second == 0 ? m_counts.erase(it) : std::next(it);
  }
}

void HeavyHitters::merge(const HeavyHitters& other) {
  for (const auto& [bytes, count] : other.m_counts) {
    m_counts[bytes] += count;
  }
  m_undercount += other.m_undercount;
  shrink_to_capacity();
}

void HeavyHitters::shrink_to_capacity() {
  if (m_counts.size() <= m_capacity) {
    return;
  }
  std::vector<std::uint64_t> counts;
  for (const auto& [bytes, count] : m_counts) {
    counts.push_back(count);
  }
  std::nth_element(counts.begin(), counts.begin() + static_cast<long>(m_capacity), counts.end(), std::greater<>());
  const auto cut = counts[m_capacity];
  m_undercount += cut;
  for (auto it = m_counts.begin(); it != m_counts.end();) {
    if (it->second <= cut) {
      it = m_counts.erase(it);
    } else {
      it->second -= cut;
      ++it;
    }
  }
}

std::vector<HeavyHitters::Entry> HeavyHitters::top(std::size_t n) const {
  std::vector<Entry> sorted;
  for (const auto& [bytes, count] : m_counts) {
    sorted.push_back({bytes, count, m_undercount});
  }
  std::sort(sorted.begin(), sorted.end(), [](const Entry& a, const Entry& b) {
    return a.count != b.count ? a.count > b.count : a.bytes < b.bytes;
  });
  sorted.resize(std::min(n, sorted.size()));
  return sorted;
}

std::string describe_canonical(std::string_view bytes) {
  const auto number = [&](std::size_t at, std::size_t width) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < width; ++i) {
      value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
    }
    return value;
  };
  Key key;
  std::size_t at = 0;
  while (at < bytes.size()) {
    if (static_cast<std::uint8_t>(bytes[at]) == Key::k_integer_tag && at + 9 <= bytes.size()) {
      key.add_integer(static_cast<std::int64_t>(number(at + 1, 8)));
      at += 9;
    } else if (at + 5 <= bytes.size()) {
      const auto length = static_cast<std::size_t>(number(at + 1, 4));
      key.add_string(bytes.substr(at + 5, length));
      at += 5 + length;
    } else {
      break;
    }
  }
  return key.to_display();
}

} // namespace grant::shard
