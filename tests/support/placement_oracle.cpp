#include "support/placement_oracle.hpp"

#include <xxhash.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace grant::test::oracle {

bool is_integer(const std::string& part) {
  if (part.empty() || part == "-0" || part[0] == '+') {
    return false;
  }
  const std::size_t digits = part[0] == '-' ? 1 : 0;
  if (part.size() == digits || (part[digits] == '0' && part.size() > digits + 1)) {
    return false;
  }
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), value);
  return error == std::errc() && end == part.data() + part.size();
}

namespace {

void append_big_endian(std::string& out, std::uint64_t value, int bytes) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

} // namespace

std::string canonical_bytes(const KeyParts& parts) {
  std::string out;
  for (const auto& part : parts) {
    if (is_integer(part)) {
      out.push_back('\x01');
      append_big_endian(out, static_cast<std::uint64_t>(std::stoll(part)), 8);
    } else {
      out.push_back('\x02');
      append_big_endian(out, part.size(), 4);
      out += part;
    }
  }
  return out;
}

std::uint64_t keyspace_id(const KeyParts& parts) {
  const auto bytes = canonical_bytes(parts);
  return XXH64(bytes.data(), bytes.size(), 0);
}

int modulo_owner(std::int64_t key, int shards) {
  return static_cast<int>(((key % shards) + shards) % shards);
}

int hash_owner(const KeyParts& parts, const std::vector<std::uint64_t>& starts) {
  if (starts.empty() || starts[0] != 0) {
    throw std::invalid_argument("hash_owner: the first range must start at 0");
  }
  const auto after = std::upper_bound(starts.begin(), starts.end(), keyspace_id(parts));
  return static_cast<int>(after - starts.begin()) - 1;
}

Ring::Ring(const std::vector<std::pair<std::string, int>>& shards, int virtual_nodes) {
  for (std::size_t s = 0; s < shards.size(); ++s) {
    for (int v = 0; v < virtual_nodes * shards[s].second; ++v) {
      // The name is always a string part, even when it reads like an integer.
      std::string point{'\x02'};
      append_big_endian(point, shards[s].first.size(), 4);
      point += shards[s].first;
      point += canonical_bytes({std::to_string(v)});
      m_points.emplace(XXH64(point.data(), point.size(), 0), static_cast<int>(s));
    }
  }
}

int Ring::owner(const KeyParts& parts) const {
  const auto at = m_points.lower_bound(keyspace_id(parts));
  return at == m_points.end() ? m_points.begin()->second : at->second;
}

} // namespace grant::test::oracle
