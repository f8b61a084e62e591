#include <grant/config/reader.hpp>

#include <grant/util/strings.hpp>

#include <set>

namespace grant::config::detail {

std::vector<Replica> Reader::replicas(const Json& value, const std::string& key_path) const {
  if (!value.is_array()) {
    fail(key_path + " must be an array", key_path);
  }
  std::vector<Replica> out;
  std::set<std::string> names;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string path = key_path + "[" + std::to_string(i) + "]";
    const auto& item = require_object(value[i], path);
    allow_keys(item, path, {"name", "url", "weight"});
    Replica replica;
    replica.key_path = path;
    replica.name = item.contains("name") ? name(item["name"], path + ".name") : "r" + std::to_string(i + 1);
    if (!item.contains("url")) {
      fail("replica " + path + " has no url", path + ".url");
    }
    replica.url = url(item["url"], path + ".url");
    if (item.contains("weight")) {
      replica.weight = integer(item["weight"], path + ".weight", 1, 1000000);
    }
    if (!names.insert(replica.name).second) {
      fail("duplicate replica name " + util::in_quotes(replica.name), path + ".name");
    }
    out.push_back(std::move(replica));
  }
  return out;
}

} // namespace grant::config::detail
