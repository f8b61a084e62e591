#include <grant/shard/resolver.hpp>

#include <grant/shard/strategy.hpp>
#include <grant/util/strings.hpp>

#include <array>
#include <set>

namespace grant::shard {

namespace detail {

namespace {

// The registry: one line per `sharding.resolver.type`.
const std::array k_strategies = {
    &modulo_strategy, &hash_strategy, &range_strategy, &lookup_strategy, &consistent_hash_strategy,
};

const Strategy* find_strategy(std::string_view type) {
  for (const auto& strategy : k_strategies) {
    if (strategy().type == type) {
      return &strategy();
    }
  }
  return nullptr;
}

void check_shards(const config::Database& db, const BuildContext& context) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < db.shards.size(); ++i) {
    const auto& shard = db.shards[i];
    const auto path = shard.key_path.empty() ? index_path(db.key_path + ".shards", i) : shard.key_path;
    if (shard.name.empty()) {
      context.add("shard " + std::to_string(i) + " has no name", path + ".name");
    } else if (!names.insert(shard.name).second) {
      context.add("duplicate shard name " + util::in_quotes(shard.name), path + ".name",
                  "every shard of a database needs its own name");
    }
    if (shard.weight <= 0) {
      context.add("shard " + util::in_quotes(shard.name) + " has weight " + std::to_string(shard.weight) +
                      "; a weight must be at least 1",
                  path + ".weight");
    }
  }
}

void check_key_columns(const config::Sharding& sharding, const Strategy& strategy, const BuildContext& context) {
  const auto key_path = sharding.key_path + ".key";
  std::set<std::string> columns;
  for (std::size_t i = 0; i < sharding.key.size(); ++i) {
    if (sharding.key[i].empty()) {
      context.add("shard key column " + std::to_string(i + 1) + " has an empty name", index_path(key_path, i));
    } else if (!columns.insert(sharding.key[i]).second) {
      context.add("shard key column " + util::in_quotes(sharding.key[i]) + " is listed twice", index_path(key_path, i));
    }
  }
  if (sharding.key.empty()) {
    context.add("sharding.key names no column", key_path);
  } else if ((strategy.one_column || strategy.one_integer_column) && sharding.key.size() > 1) {
    context.add("the " + std::string(strategy.type) + " resolver needs one " +
                    (strategy.one_integer_column ? "integer " : "") + "key column; sharding.key names " +
                    std::to_string(sharding.key.size()) + " (" + util::join(sharding.key, ", ") + ")",
                key_path, "use the hash or consistent_hash resolver for a composite key");
  }
}

} // namespace

std::unique_ptr<Resolver> build(const config::Database& db, const config::Config* config, const LookupLoader& loader,
                                std::vector<LintIssue>& issues) {
  const auto& sharding = *db.sharding;
  const auto& settings = sharding.resolver;
  const BuildContext context{db, settings, config, loader, issues};
  const auto issues_before = issues.size();
  check_shards(db, context);

  const auto* strategy = find_strategy(settings.type);
  if (strategy == nullptr) {
    const auto types = resolver_types();
    const auto suggestion = util::closest_match(settings.type, types);
    context.add("unknown resolver type " + util::in_quotes(settings.type), settings.key_path + ".type",
                suggestion.empty() ? "one of " + util::join(types, ", ")
                                   : "did you mean " + util::in_quotes(suggestion) + "?");
    return nullptr;
  }
  check_key_columns(sharding, *strategy, context);
  context.allow_keys(settings.params, settings.key_path, strategy->params,
                     "the " + std::string(strategy->type) + " resolver");
  if (!strategy->uses_key_range) {
    for (std::size_t i = 0; i < db.shards.size(); ++i) {
      if (db.shards[i].key_range) {
        context.add("shard " + util::in_quotes(db.shards[i].name) +
                        " has a key_range, which only the hash "
                        "resolver uses, not " +
                        std::string(strategy->type),
                    index_path(db.key_path + ".shards", i) + ".key_range", "remove key_range from the shards");
      }
    }
  }
  auto resolver = strategy->build(context);
  if (issues.size() != issues_before) {
    return nullptr;
  }
  return resolver;
}

} // namespace detail

Resolver::Resolver(const config::Database& db)
    : m_type(db.sharding->resolver.type), m_database(db.name), m_key_path(db.sharding->key_path + ".key"),
      m_key_columns(db.sharding->key) {
  for (const auto& shard : db.shards) {
    m_shard_names.push_back(shard.name);
  }
}

void Resolver::throw_wrong_arity(const Key& key) const {
  const auto columns = m_key_columns.size();
  throw KeyError(KeyProblem::wrong_arity,
                 key.empty() ? "empty shard key"
                             : "key " + key.to_display() + " has " + std::to_string(key.size()) +
                                   (key.size() == 1 ? " part" : " parts") + " but " + m_key_path + " names " +
                                   std::to_string(columns) + (columns == 1 ? " column" : " columns") + " (" +
                                   util::join(m_key_columns, ", ") + ")",
                 "database " + util::in_quotes(m_database), "give one value per shard key column, in order");
}

void Resolver::throw_not_integer(const Key& key) const {
  throw KeyError(KeyProblem::not_integer,
                 "key " + key.to_display() + " is not an integer; the " + m_type + " resolver of database " +
                     util::in_quotes(m_database) + " needs one",
                 "database " + util::in_quotes(m_database),
                 "an integer key is a canonical decimal int64: 42, -7 (not +7, 007 or 1e3)");
}

void Resolver::throw_no_shard(const Key& key, const std::string& hint) const {
  throw KeyError(KeyProblem::no_shard,
                 "no shard owns key " + key.to_display() + " (database " + util::in_quotes(m_database) + ", " + m_type +
                     " resolver)",
                 "database " + util::in_quotes(m_database), hint);
}

std::unique_ptr<Resolver> make_resolver(const config::Database& db, LookupLoader loader) {
  if (!db.is_sharded()) {
    throw ConfigError("database " + util::in_quotes(db.name) + " is not sharded", db.key_path,
                      "shard keys resolve only for databases with \"shards\"");
  }
  if (!db.sharding) {
    throw ConfigError("database " + util::in_quotes(db.name) +
                          " has shards but no sharding config, so keys "
                          "cannot be resolved",
                      db.key_path + ".sharding",
                      "add \"sharding\": {\"key\": \"...\", \"resolver\": {\"type\": \"hash\"}}");
  }
  std::vector<LintIssue> issues;
  auto resolver = detail::build(db, nullptr, loader, issues);
  if (!issues.empty()) {
    throw ConfigError(issues.front().message, issues.front().key_path, issues.front().hint);
  }
  return resolver;
}

std::vector<std::string> resolver_types() {
  std::vector<std::string> types;
  for (const auto& strategy : detail::k_strategies) {
    types.emplace_back(strategy().type);
  }
  return types;
}

} // namespace grant::shard
