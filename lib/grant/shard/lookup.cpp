#include <grant/shard/key_table.hpp>
#include <grant/shard/strategy.hpp>
#include <grant/util/strings.hpp>

#include <mutex>
#include <unordered_map>

namespace grant::shard::detail {

namespace {

// Keyed by canonical bytes, so "42" in the config, 42 from COPY and 42 on the command line meet.
// The static map first, then the table (read once, on the first key the map does not hold),
// then the default. A miss without a default is an error, never a broadcast.
class LookupResolver final : public Resolver {
public:
  LookupResolver(const config::Database& db, KeyTable map, bool has_table, std::size_t default_shard,
                 LookupLoader loader)
      : Resolver(db), m_map(std::move(map)), m_has_table(has_table), m_default(default_shard),
        m_settings(db.sharding->resolver), m_loader(std::move(loader)) {
    for (std::size_t i = 0; i < db.shards.size(); ++i) {
      m_shard_index.emplace(db.shards[i].name, i);
    }
  }

private:
  std::size_t resolve_key(const Key& key) const override {
    if (const auto found = m_map.find(key.bytes()); found != KeyTable::k_missing) {
      return found;
    }
    if (m_has_table) {
      std::call_once(m_loaded, [this] { load_table(); });
      if (const auto found = m_table.find(key.bytes()); found != KeyTable::k_missing) {
        return found;
      }
    }
    if (m_default != k_no_shard) {
      return m_default;
    }
    throw_no_shard(key, std::string("add it to ") + (m_has_table ? "the lookup table" : "resolver.map") +
                            ", or set resolver.default");
  }

  void load_table() const {
    const auto& table = m_settings.params.at("table");
    const auto where = m_settings.key_path + ".table";
    // check_table made sure both are strings. (Not json::value(): inlined beside the other
    // resolvers in a unity build, GCC 12 reports a null dereference inside nlohmann's code.)
    const auto name =
        table.at("database").get_ref<const std::string&>() + "." + table.at("name").get_ref<const std::string&>();
    if (!m_loader) {
      throw Error(ErrorKind::usage, "the lookup table " + name + " cannot be read here: no database access", where,
                  "use a command that connects to databases");
    }
    KeyTable rows;
    for (const auto& [text, shard] : m_loader(m_settings)) {
      if (text.empty()) {
        throw ConfigError("lookup table " + name + " has a row with an empty key", where);
      }
      const auto index = m_shard_index.find(shard);
      if (index == m_shard_index.end()) {
        throw ConfigError("lookup table " + name + " maps key " + util::in_quotes(text) + " to unknown shard " +
                              util::in_quotes(shard),
                          where, "the shards of " + database() + " are " + util::join(shard_names(), ", "));
      }
      const auto key = Key::from_text({text});
      const auto owner = rows.insert(key.bytes(), index->second);
      if (owner != index->second) {
        throw ConfigError("lookup table " + name + " maps key " + key.to_display() + " to both " +
                              util::in_quotes(shard_names()[owner]) + " and " + util::in_quotes(shard),
                          where, "a key belongs to one shard: remove one of the rows");
      }
    }
    m_table = std::move(rows);
  }

  KeyTable m_map;
  bool m_has_table;
  std::size_t m_default;
  config::ResolverSettings m_settings;
  LookupLoader m_loader;
  std::unordered_map<std::string, std::size_t> m_shard_index;
  mutable std::once_flag m_loaded;
  mutable KeyTable m_table;
};

bool read_map(const BuildContext& context, const Json& map, KeyTable& out) {
  const auto path = context.path("map");
  if (!map.is_object()) {
    context.add(path + " must be an object of key: shard, like {\"acme\": \"s0\"}", path);
    return false;
  }
  bool ok = true;
  for (const auto& [text, shard] : map.items()) {
    const auto entry_path = member_path(path, text);
    if (text.empty()) {
      context.add("empty key in " + path, entry_path, "a shard key is a non-empty integer or string");
      ok = false;
    } else if (const auto index = context.shard_ref(shard, entry_path)) {
      out.insert(Key::from_text({text}).bytes(), *index);
    } else {
      ok = false;
    }
  }
  return ok;
}

bool check_table(const BuildContext& context, const Json& table) {
  const auto path = context.path("table");
  if (!table.is_object()) {
    context.add(path + " must be an object with database, name, key_column and shard_column", path);
    return false;
  }
  const std::vector<std::string> fields = {"database", "name", "key_column", "shard_column"};
  const auto issues_before = context.issues.size();
  context.allow_keys(table, path, fields, "a lookup table");
  for (const auto& field : fields) {
    if (!table.contains(field)) {
      context.add(path + " needs " + util::in_quotes(field), member_path(path, field));
    } else {
      context.text(table[field], member_path(path, field));
    }
  }
  if (context.config != nullptr && table.contains("database") && table["database"].is_string()) {
    const auto name = table["database"].get<std::string>();
    const auto* db = context.config->find(name);
    const auto db_path = member_path(path, "database");
    if (db == nullptr) {
      const auto suggestion = util::closest_match(name, context.config->database_names());
      context.add("lookup table database " + util::in_quotes(name) + " is not configured", db_path,
                  suggestion.empty() ? "one of " + util::join(context.config->database_names(), ", ")
                                     : "did you mean " + util::in_quotes(suggestion) + "?");
    } else if (db->is_sharded()) {
      context.add("lookup table database " + util::in_quotes(name) + " is sharded", db_path,
                  "keep the lookup table in an unsharded database");
    }
  }
  return context.issues.size() == issues_before;
}

std::unique_ptr<Resolver> build_lookup(const BuildContext& context) {
  const auto* map = context.param("map");
  const auto* table = context.param("table");
  if (map == nullptr && table == nullptr) {
    context.add("the lookup resolver needs \"map\" and/or \"table\"", context.settings.key_path,
                "\"map\": {\"acme\": \"s0\"} or \"table\": {\"database\": ..., \"name\": ..., \"key_column\": ..., "
                "\"shard_column\": ...}");
    return nullptr;
  }
  KeyTable entries;
  bool ok = true;
  if (map != nullptr) {
    ok = read_map(context, *map, entries) && ok;
  }
  if (table != nullptr) {
    ok = check_table(context, *table) && ok;
  }
  auto default_shard = k_no_shard;
  if (const auto* value = context.param("default")) {
    const auto index = context.shard_ref(*value, context.path("default"));
    ok = index.has_value() && ok;
    default_shard = index.value_or(k_no_shard);
  }
  if (!ok) {
    return nullptr;
  }
  return std::make_unique<LookupResolver>(context.db, std::move(entries), table != nullptr, default_shard,
                                          context.loader);
}

} // namespace

const Strategy& lookup_strategy() {
  static const Strategy strategy{"lookup", {"map", "table", "default"}, false, true, false, &build_lookup};
  return strategy;
}

} // namespace grant::shard::detail
