#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace grant::shard {

/// Canonical key bytes -> shard index, for lookup maps of millions of keys. Open addressing
/// on the keyspace id with the bytes in one arena: a find touches two cache lines, not a node
/// chain, and compares the bytes so a hash collision never misroutes a key.
class KeyTable {
public:
  static constexpr std::size_t k_missing = static_cast<std::size_t>(-1);

  /// Adds `bytes` -> `shard` unless present; returns the shard it maps to now.
  std::size_t insert(std::string_view bytes, std::size_t shard);
  /// The shard for `bytes`, or k_missing.
  std::size_t find(std::string_view bytes) const noexcept;
  std::size_t size() const noexcept { return m_size; }

private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
    std::uint32_t shard = k_empty;
  };
  static constexpr std::uint32_t k_empty = 0xFFFFFFFF;

  void grow();
  std::size_t probe(std::uint64_t hash, std::string_view bytes) const noexcept;

  std::vector<Slot> m_slots; ///< a power of two, at most half full
  std::string m_arena;
  std::size_t m_size = 0;
};

} // namespace grant::shard
