#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace grant::shard {

/// The heaviest keys of a stream in bounded memory (Misra-Gries): any key seen more than
/// rows/(capacity+1) times is kept. Each count is a lower bound; count + undercount an upper
/// bound. Amortised O(1) per row and, once warm, no allocation: a scan of all-distinct keys
/// churns the whole sketch every capacity+1 rows. Keys are canonical key bytes.
class HeavyHitters {
public:
  struct Entry {
    std::string bytes;
    std::uint64_t count = 0;      ///< at least this many rows
    std::uint64_t undercount = 0; ///< at most this many more
  };

  explicit HeavyHitters(std::size_t capacity);

  void add(std::string_view bytes);
  /// Adds another sketch (shards scanned separately, reported together).
  void merge(const HeavyHitters& other);
  /// The `n` entries with the highest counts, highest first.
  std::vector<Entry> top(std::size_t n) const;

private:
  // Open addressing with linear probing, at most half full; count 0 marks a free slot. A slot's
  // string keeps its buffer when the slot is reused.
  struct Slot {
    std::uint64_t hash = 0;
    std::uint64_t count = 0;
    std::string bytes;
  };
  void insert(std::vector<Slot>& slots, std::uint64_t hash, std::uint64_t count, std::string& bytes);
  void decrement_all();

  std::size_t m_capacity;
  std::size_t m_size = 0;
  std::uint64_t m_undercount = 0;
  std::vector<Slot> m_slots;
  std::vector<Slot> m_spare; ///< the table decrement_all() rebuilds into
};

/// A canonical key's bytes as the user would write it: 42, 'acme', ('acme', 42).
std::string describe_canonical(std::string_view bytes);

} // namespace grant::shard
