#include <grant/route/shard_choice.hpp>

#include <grant/lookup/table_loader.hpp>
#include <grant/shard/resolver.hpp>
#include <grant/util/strings.hpp>

#include <string_view>

namespace grant::route {

namespace {

std::vector<std::string> names_of(const config::Database& database) {
  std::vector<std::string> names;
  for (const auto& shard : database.shards) {
    names.push_back(shard.name);
  }
  return names;
}

} // namespace

std::vector<std::string> select_shards(registry::Registry& registry, const config::Database& database,
                                       const ShardChoice& choice) {
  using Problem = ShardChoiceError::Problem;
  const int chosen = (choice.shard.empty() ? 0 : 1) + (choice.key.empty() ? 0 : 1) + (choice.all ? 1 : 0);
  if (chosen > 1) {
    throw ShardChoiceError(Problem::several, "a shard, a key and all shards exclude each other", database.key_path,
                           "choose one of them");
  }
  if (!database.is_sharded()) {
    if (chosen > 0) {
      throw ShardChoiceError(Problem::not_sharded,
                             "database " + database.name + " is not sharded, so it has no shards to choose",
                             database.key_path);
    }
    return {""};
  }
  if (chosen == 0) {
    throw ShardChoiceError(Problem::none, "database " + database.name + " is sharded: say which shards",
                           database.key_path, "name a shard, a key (the shard that owns it) or all shards");
  }
  if (choice.all) {
    return names_of(database);
  }
  if (!choice.shard.empty()) {
    if (database.find_shard(choice.shard) == nullptr) {
      throw ConfigError("database " + database.name + " has no shard " + util::in_quotes(choice.shard),
                        database.key_path, "shards: " + util::join(names_of(database), ", "));
    }
    return {choice.shard};
  }
  const auto resolver = shard::make_resolver(database, lookup::table_loader(registry));
  const std::vector<std::string_view> parts(choice.key.begin(), choice.key.end());
  return {resolver->resolve_name(shard::Key::from_text(parts))};
}

} // namespace grant::route
