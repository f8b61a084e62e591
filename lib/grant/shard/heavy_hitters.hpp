#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace grant::shard {

/// The heaviest keys of a stream in bounded memory (Misra-Gries): any key seen more than
/// rows/(capacity+1) times is kept. Each count is a lower bound; count + undercount an upper
/// bound. Amortised O(1) per row. Keys are canonical key bytes.
class HeavyHitters {
public:
  struct Entry {
    std::string bytes;
    std::uint64_t count = 0;      ///< at least this many rows
    std::uint64_t undercount = 0; ///< at most this many more
  };

  explicit HeavyHitters(std::size_t capacity) : m_capacity(capacity) {}

  void add(std::string_view bytes);
  /// Adds another sketch (shards scanned separately, reported together).
  void merge(const HeavyHitters& other);
  /// The `n` entries with the highest counts, highest first.
  std::vector<Entry> top(std::size_t n) const;

private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view bytes) const noexcept;
  };
  void shrink_to_capacity();

  std::size_t m_capacity;
  std::uint64_t m_undercount = 0;
  std::unordered_map<std::string, std::uint64_t, Hash, std::equal_to<>> m_counts;
};

/// A canonical key's bytes as the user would write it: 42, 'acme', ('acme', 42).
std::string describe_canonical(std::string_view bytes);

} // namespace grant::shard
