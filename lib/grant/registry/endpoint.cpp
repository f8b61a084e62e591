#include <grant/registry/endpoint.hpp>

#include <grant/error.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>

namespace grant::registry {

std::string_view role_name(Role role) {
  return role == Role::writing ? "writing" : "reading";
}

std::string Endpoint::label() const {
  std::string out = database;
  if (!shard.empty()) {
    out += "/" + shard;
  }
  if (!replica.empty()) {
    out += "/" + replica;
  }
  return out;
}

namespace {

Endpoint make(const config::Database& db, const std::string& shard, const util::DatabaseUrl& url) {
  Endpoint endpoint;
  endpoint.database = db.name;
  endpoint.shard = shard;
  endpoint.url = url;
  return endpoint;
}

void add_replicas(std::vector<Endpoint>& out, const config::Database& db, const std::string& shard,
                  const std::vector<config::Replica>& replicas) {
  for (const auto& replica : replicas) {
    auto endpoint = make(db, shard, replica.url);
    endpoint.replica = replica.name;
    endpoint.role = Role::reading;
    endpoint.weight = replica.weight;
    out.push_back(std::move(endpoint));
  }
}

} // namespace

std::vector<Endpoint> endpoints_of(const config::Database& database) {
  std::vector<Endpoint> out = writers_of(database);
  if (database.is_sharded()) {
    for (const auto& shard : database.shards) {
      add_replicas(out, database, shard.name, shard.replicas);
    }
  } else {
    add_replicas(out, database, {}, database.replicas);
  }
  return out;
}

std::vector<Endpoint> writers_of(const config::Database& database, const std::vector<std::string>& shard_names) {
  std::vector<Endpoint> out;
  if (!database.is_sharded()) {
    if (!shard_names.empty()) {
      throw ConfigError("database " + util::in_quotes(database.name) + " is not sharded, so --shard does not apply",
                        "--shard", "drop --shard for this database");
    }
    out.push_back(make(database, {}, *database.url));
    return out;
  }
  std::vector<std::string> known;
  for (const auto& shard : database.shards) {
    known.push_back(shard.name);
  }
  for (const auto& name : shard_names) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      const auto suggestion = util::closest_match(name, known);
      throw ConfigError("database " + util::in_quotes(database.name) + " has no shard " + util::in_quotes(name),
                        "--shard " + name,
                        suggestion.empty() ? "its shards are: " + util::join(known, ", ")
                                           : "did you mean " + util::in_quotes(suggestion) + "?");
    }
  }
  for (const auto& shard : database.shards) {
    if (shard_names.empty() || std::find(shard_names.begin(), shard_names.end(), shard.name) != shard_names.end()) {
      auto endpoint = make(database, shard.name, shard.url);
      endpoint.weight = shard.weight;
      out.push_back(std::move(endpoint));
    }
  }
  return out;
}

} // namespace grant::registry
