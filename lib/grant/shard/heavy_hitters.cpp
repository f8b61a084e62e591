#include <grant/shard/heavy_hitters.hpp>

#include <grant/shard/key.hpp>

#include <algorithm>
#include <bit>
#include <unordered_map>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace grant::shard {

namespace {

// Not the keyspace id: any good hash does here, and XXH3 inlined is several times faster than
// XXH64 through the shared library on short keys.
std::uint64_t slot_hash(std::string_view bytes) noexcept {
  return XXH3_64bits(bytes.data(), bytes.size());
}

std::size_t table_size(std::size_t capacity) {
  return std::bit_ceil(std::max<std::size_t>(2 * capacity, 2));
}

} // namespace

HeavyHitters::HeavyHitters(std::size_t capacity)
    : m_capacity(std::max<std::size_t>(capacity, 1)), m_slots(table_size(m_capacity)), m_spare(m_slots.size()) {}

void HeavyHitters::add(std::string_view bytes) {
  const auto hash = slot_hash(bytes);
  const auto mask = m_slots.size() - 1;
  auto i = static_cast<std::size_t>(hash) & mask;
  for (; m_slots[i].count != 0; i = (i + 1) & mask) {
    if (m_slots[i].hash == hash && m_slots[i].bytes == bytes) {
      ++m_slots[i].count;
      return;
    }
  }
  if (m_size < m_capacity) {
    auto& slot = m_slots[i];
    slot.hash = hash;
    slot.count = 1;
    slot.bytes.assign(bytes);
    ++m_size;
    return;
  }
  // Full: this row and one row of every kept key cancel out.
  ++m_undercount;
  decrement_all();
}

void HeavyHitters::insert(std::vector<Slot>& slots, std::uint64_t hash, std::uint64_t count, std::string& bytes) {
  const auto mask = slots.size() - 1;
  auto i = static_cast<std::size_t>(hash) & mask;
  while (slots[i].count != 0) {
    i = (i + 1) & mask;
  }
  slots[i].hash = hash;
  slots[i].count = count;
  slots[i].bytes.swap(bytes);
}

// Deleting from a linear-probing table breaks probe chains, so the survivors move to a fresh one.
void HeavyHitters::decrement_all() {
  m_size = 0;
  for (auto& slot : m_slots) {
    if (slot.count > 1) {
      insert(m_spare, slot.hash, slot.count - 1, slot.bytes);
      ++m_size;
    }
    slot.count = 0;
  }
  m_slots.swap(m_spare);
}

void HeavyHitters::merge(const HeavyHitters& other) {
  std::unordered_map<std::string, std::uint64_t> counts;
  for (const HeavyHitters* sketch : {static_cast<const HeavyHitters*>(this), &other}) {
    for (const auto& slot : sketch->m_slots) {
      if (slot.count != 0) {
        counts[slot.bytes] += slot.count;
      }
    }
  }
  m_undercount += other.m_undercount;
  // Over capacity: subtract the (capacity+1)-th largest count from all, dropping what falls to 0.
  std::uint64_t cut = 0;
  if (counts.size() > m_capacity) {
    std::vector<std::uint64_t> sorted;
    for (const auto& [bytes, count] : counts) {
      sorted.push_back(count);
    }
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<long>(m_capacity), sorted.end(), std::greater<>());
    cut = sorted[m_capacity];
    m_undercount += cut;
  }
  for (auto& slot : m_slots) {
    slot.count = 0;
  }
  m_size = 0;
  for (auto& [bytes, count] : counts) {
    if (count > cut) {
      std::string moved = bytes;
      insert(m_slots, slot_hash(moved), count - cut, moved);
      ++m_size;
    }
  }
}

std::vector<HeavyHitters::Entry> HeavyHitters::top(std::size_t n) const {
  std::vector<Entry> sorted;
  for (const auto& slot : m_slots) {
    if (slot.count != 0) {
      sorted.push_back({slot.bytes, slot.count, m_undercount});
    }
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const Entry& a, const Entry& b) { return a.count != b.count ? a.count > b.count : a.bytes < b.bytes; });
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
