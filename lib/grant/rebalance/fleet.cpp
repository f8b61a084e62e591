#include <grant/rebalance/fleet.hpp>

#include <grant/db/engine.hpp>
#include <grant/error.hpp>
#include <grant/lookup/table_loader.hpp>
#include <grant/migrate/tracking.hpp>
#include <grant/util/sha256.hpp>
#include <grant/util/strings.hpp>
#include <grant/util/text.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace grant::rebalance {

registry::PooledConnection Node::checkout() const {
  return registry->checkout(endpoint);
}

namespace {

const config::Database& sharded(const config::Config& config, const std::string& name, const char* which) {
  const auto* database = config.find(name);
  if (database == nullptr) {
    throw ConfigError("database " + util::in_quotes(name) + " is not in the " + which + " config " +
                          config.path.string(),
                      config.path.string(), "the target config holds the same database with its new shards");
  }
  if (!database->is_sharded() || !database->sharding) {
    throw ConfigError("database " + util::in_quotes(name) + " is not sharded in the " + which + " config",
                      database->key_path,
                      "rebalance moves rows between the \"shards\" of a database with \"sharding\"");
  }
  for (const auto& shard : database->shards) {
    if (const auto& traits = db::traits_for(shard.url); !traits.rebalance) {
      throw ConfigError("shard " + shard.name + " of " + name + " is " + std::string(traits.display_name) +
                            ": rebalance needs PostgreSQL shards",
                        shard.key_path,
                        "rebalance relies on PL/pgSQL triggers and two-phase commit; move " +
                            std::string(traits.display_name) + " rows by hand (docs/commands/rebalance.md)");
    }
  }
  return *database;
}

std::string digest_of(const config::Database& target) {
  std::string text = "key=" + util::join(target.sharding->key, ",") + ";resolver=" + target.sharding->resolver.type +
                     util::json_text(target.sharding->resolver.params) + ";";
  for (const auto& shard : target.shards) {
    text += shard.name + "/" + std::to_string(shard.weight) + "/" + shard.key_range.value_or("") + ";";
  }
  return util::sha256_hex(text).substr(0, 16);
}

} // namespace

Fleet::Fleet(const config::Config& source, const config::Config& target, const std::string& database)
    : m_source(&sharded(source, database, "current")), m_target(&sharded(target, database, "target")) {
  if (m_source->sharding->key != m_target->sharding->key) {
    throw ConfigError("the target changes the shard key of " + database + " from (" +
                          util::join(m_source->sharding->key, ", ") + ") to (" +
                          util::join(m_target->sharding->key, ", ") + ")",
                      m_target->sharding->key_path,
                      "rebalance moves rows between shards under the same key; changing the key is a new database");
  }
  if (m_source->sharding->tables != m_target->sharding->tables) {
    throw ConfigError("the target lists other sharded tables than the current config (" +
                          util::join(m_target->sharding->tables, ", ") + " instead of " +
                          util::join(m_source->sharding->tables, ", ") + ")",
                      m_target->sharding->key_path + ".tables",
                      "change sharding.tables in its own step, not in a rebalance");
  }
  m_source_registry = std::make_unique<registry::Registry>(source);
  m_target_registry = std::make_unique<registry::Registry>(target);
  m_old = shard::make_resolver(*m_source, lookup::table_loader(*m_source_registry));
  m_new = shard::make_resolver(*m_target, lookup::table_loader(*m_target_registry));
  const auto old_writers = registry::writers_of(*m_source);
  const auto new_writers = registry::writers_of(*m_target);
  for (std::size_t i = 0; i < m_source->shards.size(); ++i) {
    Node node;
    node.name = m_source->shards[i].name;
    node.old_index = i;
    node.endpoint = old_writers[i];
    node.registry = m_source_registry.get();
    m_nodes.push_back(std::move(node));
  }
  for (std::size_t j = 0; j < m_target->shards.size(); ++j) {
    auto index = find(m_target->shards[j].name);
    if (index == k_none) {
      Node node;
      node.name = m_target->shards[j].name;
      m_nodes.push_back(std::move(node));
      index = m_nodes.size() - 1;
    }
    // A shard in both configs is reached as the target names it: that is where it lives on.
    m_nodes[index].new_index = j;
    m_nodes[index].endpoint = new_writers[j];
    m_nodes[index].registry = m_target_registry.get();
  }
  m_old_to_node.resize(m_source->shards.size());
  m_new_to_node.resize(m_target->shards.size());
  for (std::size_t n = 0; n < m_nodes.size(); ++n) {
    m_nodes[n].label = database + "/" + m_nodes[n].name;
    if (m_nodes[n].is_source()) {
      m_old_to_node[m_nodes[n].old_index] = n;
    }
    if (m_nodes[n].is_target()) {
      m_new_to_node[m_nodes[n].new_index] = n;
    }
  }
  m_digest = digest_of(*m_target);
  m_source_digest = digest_of(*m_source);
}

shard::LookupLoader Fleet::target_loader() const {
  return lookup::table_loader(*m_target_registry);
}

std::size_t Fleet::find(const std::string& name) const {
  for (std::size_t n = 0; n < m_nodes.size(); ++n) {
    if (m_nodes[n].name == name) {
      return n;
    }
  }
  return k_none;
}

std::vector<std::size_t> Fleet::sources() const {
  std::vector<std::size_t> out;
  for (std::size_t n = 0; n < m_nodes.size(); ++n) {
    if (m_nodes[n].is_source()) {
      out.push_back(n);
    }
  }
  return out;
}

std::vector<std::size_t> Fleet::targets() const {
  std::vector<std::size_t> out;
  for (std::size_t n = 0; n < m_nodes.size(); ++n) {
    if (m_nodes[n].is_target()) {
      out.push_back(n);
    }
  }
  return out;
}

Owners Fleet::owners(shard::Key& scratch, const std::vector<std::string_view>& parts) const {
  Owners out;
  for (const auto part : parts) {
    if (part.data() == nullptr) {
      return out; // a NULL key part: no shard owns the row
    }
  }
  try {
    scratch.assign_text(parts);
  } catch (const shard::KeyError&) {
    return out;
  }
  try {
    out.old_node = m_old_to_node[m_old->resolve(scratch)];
  } catch (const shard::KeyError&) {
  }
  try {
    out.new_node = m_new_to_node[m_new->resolve(scratch)];
  } catch (const shard::KeyError&) {
  }
  return out;
}

void Fleet::prepare() {
  if (m_prepared) {
    return;
  }
  for (auto& node : m_nodes) {
    auto session = node.checkout();
    node.schema = session->query("SELECT quote_ident(current_schema())").scalar().value_or("public");
  }
  check_versions();
  load_tables();
  m_prepared = true;
}

void Fleet::check_versions() {
  std::map<std::string, std::set<std::string>> versions;
  for (const auto& node : m_nodes) {
    auto session = node.checkout();
    migrate::Tracker tracker(*session, m_source->migrations_table);
    auto& mine = versions[node.name];
    for (const auto& row : tracker.applied()) {
      mine.insert(row.version);
    }
  }
  const auto& reference = versions[m_nodes.front().name];
  for (const auto& node : m_nodes) {
    const auto& mine = versions[node.name];
    if (mine == reference) {
      continue;
    }
    std::vector<std::string> missing;
    std::vector<std::string> extra;
    std::set_difference(reference.begin(), reference.end(), mine.begin(), mine.end(), std::back_inserter(missing));
    std::set_difference(mine.begin(), mine.end(), reference.begin(), reference.end(), std::back_inserter(extra));
    throw ConfigError("shard " + node.name + " is at another migration version than " + m_nodes.front().name +
                          (missing.empty() ? "" : " (missing " + util::join(missing, ", ") + ")") +
                          (extra.empty() ? "" : " (extra " + util::join(extra, ", ") + ")"),
                      node.label,
                      "new shards must have the schema first: grant migrate --config <target> --database " +
                          m_source->name + ", then grant status to compare");
  }
}

void Fleet::load_tables() {
  auto session = m_nodes[m_coordinator].checkout();
  for (const auto& table : m_source->sharding->tables) {
    m_tables.emplace_back(*session, table, m_source->sharding->key);
  }
  if (m_tables.empty()) {
    throw ConfigError("sharding.tables of " + m_source->name + " lists no table: nothing to rebalance",
                      m_source->sharding->key_path + ".tables", "list the tables that hold the shard key");
  }
  // Every other shard must have the tables too (the versions agree, but a hand-made table may not).
  for (const auto& node : m_nodes) {
    auto other = node.checkout();
    for (const auto& table : m_source->sharding->tables) {
      TableSql theirs(*other, table, m_source->sharding->key);
      (void)theirs;
    }
  }
}

} // namespace grant::rebalance
