#pragma once

// Where a shard key belongs, computed from the documentation alone (docs/hash-vectors.md and
// docs/sharding.md), never from grant's resolvers: the oracle that tests of shard-check and
// rebalance plant rows with. If grant's resolvers and this file disagree, one of them is wrong,
// and the documented vectors (checked here by tests/unit/placement_oracle_test.cpp) say which.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace grant::test::oracle {

using KeyParts = std::vector<std::string>;

/// The typing rule: a canonical decimal int64 is an integer, anything else a string.
bool is_integer(const std::string& part);
/// The canonical bytes of a key (0x01 + 8 bytes big-endian, or 0x02 + 4-byte length + bytes).
std::string canonical_bytes(const KeyParts& parts);
/// XXH64 of the canonical bytes, seed 0.
std::uint64_t keyspace_id(const KeyParts& parts);

/// `modulo`: the non-negative remainder of the integer key by the shard count.
int modulo_owner(std::int64_t key, int shards);
/// `hash` with key ranges given by their start: shard i owns [starts[i], starts[i+1]); the last
/// runs to the end of the keyspace. starts[0] must be 0.
int hash_owner(const KeyParts& parts, const std::vector<std::uint64_t>& starts);
/// `consistent_hash`: shard (name, weight) gets virtual_nodes * weight points, each the keyspace
/// id of (name, index); a key belongs to the first point at or after its id, wrapping around.
class Ring {
public:
  Ring(const std::vector<std::pair<std::string, int>>& shards, int virtual_nodes);
  int owner(const KeyParts& parts) const;

private:
  std::map<std::uint64_t, int> m_points;
};

} // namespace grant::test::oracle
