#include <grant/shard/key_table.hpp>

#include <grant/error.hpp>
#include <grant/shard/key.hpp>

#include <cstring>
#include <limits>

namespace grant::shard {

std::size_t KeyTable::probe(std::uint64_t hash, std::string_view bytes) const noexcept {
  const std::size_t mask = m_slots.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    const auto& slot = m_slots[i];
    if (slot.shard == k_empty || (slot.hash == hash && slot.length == bytes.size() &&
                                  std::memcmp(m_arena.data() + slot.offset, bytes.data(), bytes.size()) == 0)) {
      return i;
    }
  }
}

std::size_t KeyTable::find(std::string_view bytes) const noexcept {
  if (m_size == 0) {
    return k_missing;
  }
  const auto& slot = m_slots[probe(keyspace_id(bytes), bytes)];
  return slot.shard == k_empty ? k_missing : slot.shard;
}

std::size_t KeyTable::insert(std::string_view bytes, std::size_t shard) {
  if ((m_size + 1) * 2 > m_slots.size()) {
    grow();
  }
  const auto hash = keyspace_id(bytes);
  auto& slot = m_slots[probe(hash, bytes)];
  if (slot.shard != k_empty) {
    return slot.shard;
  }
  if (m_arena.size() + bytes.size() > std::numeric_limits<std::uint32_t>::max() || shard >= k_empty) {
    throw Error(ErrorKind::usage, "lookup map too large: over 4 GiB of keys");
  }
  slot = Slot{hash, static_cast<std::uint32_t>(m_arena.size()), static_cast<std::uint32_t>(bytes.size()),
              static_cast<std::uint32_t>(shard)};
  m_arena.append(bytes);
  ++m_size;
  return shard;
}

void KeyTable::grow() {
  std::vector<Slot> old(std::max<std::size_t>(16, m_slots.size() * 2));
  old.swap(m_slots);
  const std::size_t mask = m_slots.size() - 1;
  for (const auto& slot : old) {
    if (slot.shard == k_empty) {
      continue;
    }
    std::size_t i = slot.hash & mask;
    while (m_slots[i].shard != k_empty) {
      i = (i + 1) & mask;
    }
    m_slots[i] = slot;
  }
}

} // namespace grant::shard
