#include <grant/shard/key.hpp>

#include <grant/util/strings.hpp>

#include <xxhash.h>

#include <charconv>
#include <limits>

namespace grant::shard {

namespace {

void put_big_endian(std::string& out, std::uint64_t value, int bytes) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xFF));
  }
}

std::uint64_t get_big_endian(std::string_view in, std::size_t at, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) {
    value = (value << 8) | static_cast<unsigned char>(in[at + static_cast<std::size_t>(i)]);
  }
  return value;
}

ErrorKind kind_of(KeyProblem problem) {
  return problem == KeyProblem::no_shard ? ErrorKind::check : ErrorKind::usage;
}

} // namespace

KeyError::KeyError(KeyProblem problem, std::string what, std::string where, std::string hint)
    : Error(kind_of(problem), std::move(what), std::move(where), std::move(hint)), m_problem(problem) {}

bool parse_canonical_integer(std::string_view text, std::int64_t& value) noexcept {
  if (text.empty()) {
    return false;
  }
  const std::size_t digits_at = text[0] == '-' ? 1 : 0;
  const std::size_t digits = text.size() - digits_at;
  // "-0" and "007" would give a second spelling of a number, so they stay strings.
  if (digits == 0 || (text[digits_at] == '0' && (digits > 1 || digits_at == 1))) {
    return false;
  }
  const char* first = text.data();
  const char* last = text.data() + text.size();
  const auto [end, error] = std::from_chars(first, last, value);
  return error == std::errc() && end == last;
}

std::uint64_t keyspace_id(std::string_view canonical_bytes) noexcept {
  return XXH64(canonical_bytes.data(), canonical_bytes.size(), 0);
}

std::string keyspace_id_hex(std::uint64_t id) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = k_digits[id & 0xF];
    id >>= 4;
  }
  return out;
}

Key Key::from_text(std::span<const std::string_view> parts) {
  Key key;
  key.assign_text(parts);
  return key;
}

Key Key::from_text(std::initializer_list<std::string_view> parts) {
  return from_text(std::span<const std::string_view>(parts.begin(), parts.size()));
}

Key Key::from_integer(std::int64_t value) {
  Key key;
  key.add_integer(value);
  return key;
}

Key Key::from_string(std::string_view value) {
  Key key;
  key.add_string(value);
  return key;
}

void Key::assign_text(std::span<const std::string_view> parts) {
  clear();
  if (parts.empty()) {
    throw KeyError(KeyProblem::empty_part, "empty shard key", {}, "give one value per sharding.key column");
  }
  for (const auto part : parts) {
    add_text(part);
  }
}

void Key::clear() noexcept {
  m_bytes.clear();
  m_parts = 0;
}

Key& Key::add_text(std::string_view part) {
  if (part.empty()) {
    throw KeyError(KeyProblem::empty_part,
                   m_parts == 0 ? "empty shard key" : "empty shard key part " + std::to_string(m_parts + 1), {},
                   "a shard key part must be a non-empty integer or string");
  }
  if (const auto nul = part.find('\0'); nul != std::string_view::npos) {
    throw KeyError(KeyProblem::nul_byte,
                   "shard key part " + std::to_string(m_parts + 1) + " holds a NUL byte at character " +
                       std::to_string(nul + 1),
                   {}, "a key is text without NUL bytes; check the input is the list of keys and not a binary file");
  }
  std::int64_t value = 0;
  return parse_canonical_integer(part, value) ? add_integer(value) : add_string(part);
}

Key& Key::add_integer(std::int64_t value) {
  m_bytes.push_back(static_cast<char>(k_integer_tag));
  put_big_endian(m_bytes, static_cast<std::uint64_t>(value), 8);
  ++m_parts;
  return *this;
}

Key& Key::add_string(std::string_view value) {
  if (value.size() > std::numeric_limits<std::uint32_t>::max()) {
    throw KeyError(KeyProblem::too_long,
                   "shard key part of " + std::to_string(value.size()) + " bytes is longer than 4 GiB");
  }
  m_bytes.push_back(static_cast<char>(k_string_tag));
  put_big_endian(m_bytes, value.size(), 4);
  m_bytes.append(value);
  ++m_parts;
  return *this;
}

std::optional<std::int64_t> Key::integer() const noexcept {
  if (m_parts != 1 || m_bytes.size() != 9 || static_cast<std::uint8_t>(m_bytes[0]) != k_integer_tag) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(get_big_endian(m_bytes, 1, 8));
}

std::uint64_t Key::keyspace_id() const noexcept {
  return shard::keyspace_id(m_bytes);
}

std::string Key::to_display() const {
  std::vector<std::string> parts;
  std::size_t at = 0;
  while (at < m_bytes.size()) {
    if (static_cast<std::uint8_t>(m_bytes[at]) == k_integer_tag) {
      parts.push_back(std::to_string(static_cast<std::int64_t>(get_big_endian(m_bytes, at + 1, 8))));
      at += 9;
    } else {
      const auto length = get_big_endian(m_bytes, at + 1, 4);
      parts.push_back(util::in_quotes(std::string_view(m_bytes).substr(at + 5, length)));
      at += 5 + length;
    }
  }
  if (parts.size() == 1) {
    return parts[0];
  }
  std::string out = "(";
  out += util::join(parts, ", ");
  out += ")";
  return out;
}

} // namespace grant::shard
