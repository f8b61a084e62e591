#include <grant/config/reader.hpp>

#include <grant/util/strings.hpp>

#include <set>

namespace grant::config::detail {

std::vector<Shard> Reader::shards(const Json& value, const std::string& key_path) const {
  if (!value.is_array()) {
    fail(key_path + " must be an array of shards", key_path);
  }
  if (value.empty()) {
    fail(key_path + " is empty: a sharded database needs at least one shard", key_path,
         "add shards, or use \"url\" for an unsharded database");
  }
  std::vector<Shard> out;
  std::set<std::string> names;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string path = key_path + "[" + std::to_string(i) + "]";
    const auto& item = require_object(value[i], path);
    allow_keys(item, path, {"name", "url", "weight", "key_range", "replicas"});
    Shard shard;
    shard.key_path = path;
    shard.name = item.contains("name") ? name(item["name"], path + ".name") : "s" + std::to_string(i);
    if (!names.insert(shard.name).second) {
      fail("duplicate shard name " + util::in_quotes(shard.name), path + ".name",
           "every shard of a database needs its own name");
    }
    if (!item.contains("url")) {
      fail("shard " + util::in_quotes(shard.name) + " has no url", path + ".url");
    }
    shard.url = url(item["url"], path + ".url");
    if (item.contains("weight")) {
      // Weights <= 0 are rejected here; the resolver lint names them too.
      shard.weight = integer(item["weight"], path + ".weight", 1, 1000000);
    }
    if (item.contains("key_range")) {
      shard.key_range = string(item["key_range"], path + ".key_range");
    }
    if (item.contains("replicas")) {
      shard.replicas = replicas(item["replicas"], path + ".replicas");
    }
    out.push_back(std::move(shard));
  }
  return out;
}

Sharding Reader::sharding(const Json& value, const std::string& key_path) const {
  require_object(value, key_path);
  allow_keys(value, key_path, {"key", "tables", "resolver"});
  Sharding out;
  out.key_path = key_path;
  if (!value.contains("key")) {
    fail(key_path + ".key is missing: name the shard key column(s)", key_path + ".key");
  }
  out.key = string_list(value["key"], key_path + ".key", true);
  if (out.key.empty()) {
    fail(key_path + ".key is empty", key_path + ".key");
  }
  if (value.contains("tables")) {
    out.tables = string_list(value["tables"], key_path + ".tables", false);
  }
  if (!value.contains("resolver")) {
    fail(key_path + ".resolver is missing", key_path + ".resolver",
         "add {\"type\": \"hash\"} or another resolver type");
  }
  const std::string resolver_path = key_path + ".resolver";
  const auto& resolver = require_object(value["resolver"], resolver_path);
  if (!resolver.contains("type")) {
    fail(resolver_path + ".type is missing", resolver_path + ".type",
         "one of modulo, hash, range, lookup, consistent_hash");
  }
  out.resolver.key_path = resolver_path;
  out.resolver.type = string(resolver["type"], resolver_path + ".type");
  for (const auto& [key, param] : resolver.items()) {
    if (key != "type") {
      out.resolver.params[key] = interpolated(param, resolver_path + "." + key);
    }
  }
  return out;
}

} // namespace grant::config::detail
