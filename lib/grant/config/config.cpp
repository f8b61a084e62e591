#include <grant/config/config.hpp>

namespace grant::config {

const Database* Config::find(std::string_view database_name) const {
  for (const auto& db : databases) {
    if (db.name == database_name) {
      return &db;
    }
  }
  return nullptr;
}

std::vector<std::string> Config::database_names() const {
  std::vector<std::string> names;
  for (const auto& db : databases) {
    names.push_back(db.name);
  }
  return names;
}

const Shard* Database::find_shard(std::string_view shard_name) const {
  for (const auto& shard : shards) {
    if (shard.name == shard_name) {
      return &shard;
    }
  }
  return nullptr;
}

} // namespace grant::config
