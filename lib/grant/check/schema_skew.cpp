// shard-check's schema comparison across the shards of one database.
#include <grant/check/schema_skew.hpp>

#include <grant/util/strings.hpp>

#include <algorithm>
#include <iterator>
#include <set>

namespace grant::check {

namespace {

// The names of `shards`, for messages: "s0, s1, s3".
std::string names_of(const std::vector<const ShardState*>& shards) {
  std::vector<std::string> names;
  for (const auto* shard : shards) {
    names.push_back(shard->name);
  }
  return util::join(names, ", ");
}

// The value most shards hold; on a tie, the smallest.
template <typename Value> const Value& majority(const std::map<Value, std::vector<const ShardState*>>& votes) {
  auto best = votes.begin();
  for (auto it = votes.begin(); it != votes.end(); ++it) {
    if (it->second.size() > best->second.size()) {
      best = it;
    }
  }
  return best->first;
}

} // namespace

void compare_schemas(const config::Database& database, std::vector<ShardState>& shards,
                     const std::vector<std::string>& tables, DatabaseCheck& report) {
  std::vector<const ShardState*> reachable;
  for (auto& shard : shards) {
    if (shard.connection) {
      reachable.push_back(&shard);
    }
  }
  const auto without = [](const std::vector<const ShardState*>& all, const std::vector<const ShardState*>& some) {
    std::vector<const ShardState*> out;
    std::copy_if(all.begin(), all.end(), std::back_inserter(out),
                 [&](const ShardState* s) { return std::find(some.begin(), some.end(), s) == some.end(); });
    return out;
  };
  const auto& migrations_table = database.migrations_table;
  std::map<std::string, std::vector<const ShardState*>> holders; // version -> shards that applied it
  for (const auto* shard : reachable) {
    for (const auto& [version, checksum] : shard->migrations) {
      holders[version].push_back(shard);
    }
  }
  for (const auto& [version, have] : holders) {
    const auto lacking = without(reachable, have);
    if (2 * have.size() >= reachable.size()) {
      for (const auto* shard : lacking) {
        report.schema.push_back({shard->name, "migration_missing", migrations_table,
                                 "version " + version + " is applied on " + names_of(have) + " but not here"});
      }
    } else {
      for (const auto* shard : have) {
        report.schema.push_back({shard->name, "migration_extra", migrations_table,
                                 "version " + version + " is applied here but not on " + names_of(lacking)});
      }
    }
    std::map<std::string, std::vector<const ShardState*>> checksums; // unknown (adopted) checksums abstain
    for (const auto* shard : have) {
      if (const auto& checksum = shard->migrations.at(version)) {
        checksums[*checksum].push_back(shard);
      }
    }
    if (checksums.size() > 1) {
      const auto& reference = majority(checksums);
      for (const auto& [checksum, shards_with] : checksums) {
        if (checksum == reference) {
          continue;
        }
        for (const auto* shard : shards_with) {
          report.schema.push_back({shard->name, "migration_checksum", migrations_table,
                                   "version " + version + " was applied with a different checksum than on " +
                                       names_of(checksums.at(reference))});
        }
      }
    }
  }
  for (const auto& table : tables) {
    std::vector<const ShardState*> with_table;
    for (const auto* shard : reachable) {
      const auto& columns = shard->tables.at(table);
      if (!columns || columns->empty()) {
        report.schema.push_back(
            {shard->name, "missing_table", table, "table " + table + " does not exist on this shard"});
      } else {
        with_table.push_back(shard);
      }
    }
    std::vector<std::string> names; // every column any shard has, in the order first seen
    std::map<std::string, std::map<std::string, std::vector<const ShardState*>>> types; // column -> type -> shards
    for (const auto* shard : with_table) {
      for (const auto& [name, type] : *shard->tables.at(table)) {
        if (!types.contains(name)) {
          names.push_back(name);
        }
        types[name][type].push_back(shard);
      }
    }
    for (const auto& name : names) {
      std::vector<const ShardState*> have;
      for (const auto& [type, shards_with] : types.at(name)) {
        have.insert(have.end(), shards_with.begin(), shards_with.end());
      }
      const auto lacking = without(with_table, have);
      if (2 * have.size() < with_table.size()) {
        for (const auto* shard : have) {
          report.schema.push_back(
              {shard->name, "extra_column", table, "column " + name + " is not on " + names_of(lacking)});
        }
        continue;
      }
      for (const auto* shard : lacking) {
        report.schema.push_back(
            {shard->name, "missing_column", table, "column " + name + " (on " + names_of(have) + ") is missing"});
      }
      const auto& reference = majority(types.at(name));
      for (const auto& [type, shards_with] : types.at(name)) {
        if (type == reference) {
          continue;
        }
        for (const auto* shard : shards_with) {
          report.schema.push_back({shard->name, "column_type", table,
                                   "column " + name + " is " + type + " here, " + reference + " on " +
                                       names_of(types.at(name).at(reference))});
        }
      }
    }
  }
}

} // namespace grant::check
