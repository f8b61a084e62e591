// Fleet rules: what only a sharded database can get wrong. They read sharding.key and
// sharding.tables of the config, so they apply to the tables the config says are sharded.

#include <grant/lint/scope.hpp>

#include <grant/util/strings.hpp>

#include <algorithm>

namespace grant::lint {

namespace {

// Calls whose value differs from server to server: in data statements they leave shards different.
const std::set<std::string_view> k_server_dependent{"random",           "gen_random_uuid",  "uuid_generate_v1",
                                                    "uuid_generate_v4", "clock_timestamp",  "current_database",
                                                    "inet_server_addr", "inet_server_port", "pg_backend_pid",
                                                    "txid_current",     "random_normal",    "current_setting"};

bool is_key(const config::Sharding& sharding, const std::string& column) {
  return std::find(sharding.key.begin(), sharding.key.end(), column) != sharding.key.end();
}

std::string key_list(const config::Sharding& sharding) {
  std::string out;
  for (const auto& column : sharding.key) {
    out += (out.empty() ? "" : ", ") + column;
  }
  return out;
}

void unique_without_key(const std::string& table, const config::Sharding& sharding,
                        const std::vector<std::string>& columns, std::string_view what, std::vector<Hit>& hits) {
  if (columns.empty()) {
    return;
  }
  for (const auto& key : sharding.key) {
    if (std::find(columns.begin(), columns.end(), key) == columns.end()) {
      std::string listed;
      for (const auto& column : columns) {
        listed += (listed.empty() ? "" : ", ") + column;
      }
      hits.push_back({"unique-without-shard-key", table, LockMode::none,
                      std::string(what) + " (" + listed + ") on sharded table " + table +
                          " leaves out the shard key (" + key_list(sharding) +
                          "): each shard enforces it alone, so two shards can hold the same value",
                      "include the shard key in the key (" + key_list(sharding) + ", " + listed +
                          "), or make the values unique by construction (UUIDs, ids that carry the shard)"});
      return;
    }
  }
}

void serial_on_sharded(const std::string& table, const Json& column, const Scope& scope, std::vector<Hit>& hits) {
  if (scope.settings().id_scheme || !makes_ids(column)) {
    return;
  }
  hits.push_back({"sharded-serial", table, LockMode::none,
                  "column " + text_of(column, "colname") + " of sharded table " + table +
                      " takes its values from a sequence each shard keeps alone: every shard hands out 1, 2, 3 and on",
                  "use UUIDs or ids that carry the shard, or step each shard's sequence apart and say so in the "
                  "config (lint.id_scheme)"});
}

// Columns a table-level or column-level PRIMARY KEY / UNIQUE covers.
void fleet_keys(const std::string& table, const config::Sharding& sharding, const Json& constraint,
                const std::string& column, std::vector<Hit>& hits) {
  const auto kind = text_of(constraint, "contype");
  if (kind != "CONSTR_PRIMARY" && kind != "CONSTR_UNIQUE") {
    return;
  }
  const auto keys = column.empty() ? string_list(items(constraint, "keys")) : std::vector<std::string>{column};
  unique_without_key(table, sharding, keys, kind == "CONSTR_PRIMARY" ? "PRIMARY KEY" : "UNIQUE", hits);
}

void fleet_create(const Json& body, const Scope& scope, std::vector<Hit>& hits) {
  const auto table = relation_name(child(body, "relation"));
  const auto* sharding = scope.sharding_of(table);
  if (sharding == nullptr) {
    return;
  }
  for (const auto& element : items(body, "tableElts")) {
    if (element.contains("ColumnDef")) {
      const auto& column = element["ColumnDef"];
      serial_on_sharded(table, column, scope, hits);
      for (const auto& item : items(column, "constraints")) {
        fleet_keys(table, *sharding, child(item, "Constraint"), text_of(column, "colname"), hits);
      }
    } else if (element.contains("Constraint")) {
      fleet_keys(table, *sharding, element["Constraint"], {}, hits);
    }
  }
}

void fleet_alter(const Json& body, const Scope& scope, std::vector<Hit>& hits) {
  const auto table = relation_name(child(body, "relation"));
  const auto* sharding = scope.sharding_of(table);
  if (sharding == nullptr) {
    return;
  }
  for (const auto& item : items(body, "cmds")) {
    const auto& command = child(item, "AlterTableCmd");
    const auto subtype = text_of(command, "subtype");
    const auto column = text_of(command, "name");
    const auto& def = child(command, "def");
    if ((subtype == "AT_AlterColumnType" || subtype == "AT_DropColumn") && is_key(*sharding, column)) {
      hits.push_back({"shard-key-change", table, LockMode::access_exclusive,
                      std::string(subtype == "AT_DropColumn" ? "dropping" : "changing the type of") +
                          " shard-key column " + table + "." + column +
                          ": the resolver places rows by its value, so rows stay where the old value put them",
                      "keep the shard-key column as it is; to change the key, move the data with grant rebalance "
                      "to a config with the new key"});
    } else if (subtype == "AT_AddColumn") {
      const auto& added = child(def, "ColumnDef");
      serial_on_sharded(table, added, scope, hits);
      for (const auto& constraint : items(added, "constraints")) {
        fleet_keys(table, *sharding, child(constraint, "Constraint"), text_of(added, "colname"), hits);
      }
    } else if (subtype == "AT_AddConstraint") {
      fleet_keys(table, *sharding, child(def, "Constraint"), {}, hits);
    }
  }
}

void fleet_index(const Json& body, const Scope& scope, std::vector<Hit>& hits) {
  const auto table = relation_name(child(body, "relation"));
  const auto* sharding = scope.sharding_of(table);
  if (sharding == nullptr || !flag_of(body, "unique")) {
    return;
  }
  std::vector<std::string> columns;
  for (const auto& item : items(body, "indexParams")) {
    const auto name = text_of(child(item, "IndexElem"), "name");
    if (name.empty()) {
      return; // an expression index: which columns it covers is not a list of names
    }
    columns.push_back(name);
  }
  unique_without_key(table, *sharding, columns, "UNIQUE INDEX", hits);
}

void fleet_rename(const Json& body, const Scope& scope, std::vector<Hit>& hits) {
  const auto table = relation_name(child(body, "relation"));
  const auto* sharding = scope.sharding_of(table);
  if (sharding != nullptr && text_of(body, "renameType") == "OBJECT_COLUMN" &&
      is_key(*sharding, text_of(body, "subname"))) {
    hits.push_back({"shard-key-change", table, LockMode::access_exclusive,
                    "renaming shard-key column " + table + "." + text_of(body, "subname") +
                        ": sharding.key still names the old column, so routing and shard-check lose the key",
                    "keep the name, or rename it in the config (sharding.key) in the same deploy"});
  }
}

void fleet_divergence(const Statement& statement, std::vector<Hit>& hits) {
  const auto& type = statement.type;
  const bool data = type == "InsertStmt" || type == "UpdateStmt" || type == "DeleteStmt" || type == "SelectStmt";
  bool differs = data && calls_any(statement.body(), k_server_dependent);
  if (type == "DoStmt") {
    const auto code = util::to_lower(statement.text);
    for (const auto name : k_server_dependent) {
      differs = differs || code.find(std::string(name) + "(") != std::string::npos;
    }
  }
  if (differs) {
    hits.push_back({"differs-per-shard",
                    {},
                    LockMode::none,
                    "this statement's effect depends on the server it runs on (random values, the database's name "
                    "or address): the shards end up with different data",
                    "compute the values once (in the migration's text, or from the shard key) so every shard runs "
                    "the same change"});
  }
}

} // namespace

void check_fleet(const Statement& statement, const Scope& scope, std::vector<Hit>& hits) {
  if (!scope.is_sharded()) {
    return;
  }
  const auto& body = statement.body();
  if (statement.type == "CreateStmt") {
    fleet_create(body, scope, hits);
  } else if (statement.type == "AlterTableStmt") {
    fleet_alter(body, scope, hits);
  } else if (statement.type == "IndexStmt") {
    fleet_index(body, scope, hits);
  } else if (statement.type == "RenameStmt") {
    fleet_rename(body, scope, hits);
  }
  fleet_divergence(statement, hits);
}

} // namespace grant::lint
