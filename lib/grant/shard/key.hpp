#pragma once

#include <grant/error.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace grant::shard {

/// Why a key could not be turned into a shard.
enum class KeyProblem {
  empty_part,  ///< a key part is the empty string
  not_integer, ///< the resolver needs one integer column and got something else
  wrong_arity, ///< the key has a different number of parts than sharding.key has columns
  no_shard,    ///< the configuration assigns the key to no shard (a lookup miss)
  too_long,    ///< a string part longer than the encoding allows (4 GiB)
  nul_byte,    ///< a text part holds a NUL byte (no PostgreSQL text or key column can)
};

/// A key that cannot be resolved. A bad key is a usage error (exit 2); a key that the
/// configuration assigns to no shard is a check failure (exit 1). Never a broadcast.
class KeyError : public Error {
public:
  KeyError(KeyProblem problem, std::string what, std::string where = {}, std::string hint = {});
  KeyProblem problem() const noexcept { return m_problem; }

private:
  KeyProblem m_problem;
};

/// A shard key value: one or more parts (a composite key), each an int64 or a string, held in
/// its canonical encoding (docs/hash-vectors.md). Reuse one Key with assign_text() to parse a
/// stream of keys without allocating.
class Key {
public:
  static constexpr std::uint8_t k_integer_tag = 0x01;
  static constexpr std::uint8_t k_string_tag = 0x02;

  Key() = default;

  /// Parses text parts with the typing rule: a canonical decimal int64 ("0", "42", "-7", not
  /// "+7", "007", "-0") is an integer, anything else a string. Throws KeyError on an empty part
  /// and on a NUL byte.
  static Key from_text(std::span<const std::string_view> parts);
  static Key from_text(std::initializer_list<std::string_view> parts);
  static Key from_integer(std::int64_t value);
  /// A string part as-is, even when it looks like an integer.
  static Key from_string(std::string_view value);

  /// Replaces this key's parts, keeping the buffer: the allocation-free path for streams.
  void assign_text(std::span<const std::string_view> parts);
  void clear() noexcept;

  Key& add_text(std::string_view part);
  Key& add_integer(std::int64_t value);
  Key& add_string(std::string_view value);

  /// Number of parts.
  std::size_t size() const noexcept { return m_parts; }
  bool empty() const noexcept { return m_parts == 0; }

  /// The value when the key is exactly one integer part.
  std::optional<std::int64_t> integer() const noexcept;

  /// The canonical bytes; the keyspace id and lookup maps are built on them.
  std::string_view bytes() const noexcept { return m_bytes; }

  /// XXH64 (seed 0) of the canonical bytes.
  std::uint64_t keyspace_id() const noexcept;

  /// For messages: 42, 'acme', or ('acme', 42) for a composite key.
  std::string to_display() const;

  friend bool operator==(const Key& a, const Key& b) noexcept { return a.m_bytes == b.m_bytes; }

private:
  std::string m_bytes;
  std::uint32_t m_parts = 0;
};

/// True when `text` is a canonical decimal int64; sets `value`.
bool parse_canonical_integer(std::string_view text, std::int64_t& value) noexcept;

/// XXH64 (seed 0) of canonical key bytes.
std::uint64_t keyspace_id(std::string_view canonical_bytes) noexcept;

/// 16 lowercase hex digits, big-endian: the Vitess way to print a keyspace id.
std::string keyspace_id_hex(std::uint64_t id);

} // namespace grant::shard
