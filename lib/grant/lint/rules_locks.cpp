// Locks and rewrites: statements that block reads or writes of a table that already exists, for
// as long as they run. The lock each statement takes is PostgreSQL's documented one ("Explicit
// Locking", and each command's reference page).

#include <grant/lint/scope.hpp>

#include <algorithm>

namespace grant::lint {

namespace {

// Functions whose value differs row by row: as an ADD COLUMN default they force a rewrite.
const std::set<std::string_view> k_volatile{"random",           "gen_random_uuid", "uuid_generate_v1",
                                            "uuid_generate_v4", "clock_timestamp", "timeofday",
                                            "nextval",          "txid_current",    "random_normal"};

bool concurrently_option(const Json& body) {
  for (const auto& item : items(body, "params")) {
    if (text_of(child(item, "DefElem"), "defname") == "concurrently") {
      return true;
    }
  }
  return flag_of(body, "concurrent");
}

bool vacuum_full(const Json& body) {
  for (const auto& item : items(body, "options")) {
    if (text_of(child(item, "DefElem"), "defname") == "full") {
      return true;
    }
  }
  return false;
}

std::vector<std::string> relations_of(const Json& list, const char* wrapper = "RangeVar") {
  std::vector<std::string> out;
  for (const auto& item : list) {
    if (item.contains(wrapper)) {
      const auto& node = item[wrapper];
      out.push_back(relation_name(node.contains("relation") ? node["relation"] : node));
    }
  }
  return out;
}

std::string in_transaction_fix(std::string_view what) {
  return "move the " + std::string(what) +
         " to a migration of its own whose marker reads -- grant:up transaction=false (PostgreSQL runs it "
         "outside a transaction block only)";
}

void locks_index(const Statement& statement, const Scope& scope, std::vector<Hit>& hits) {
  const auto& body = statement.body();
  const auto table = relation_name(child(body, "relation"));
  if (flag_of(body, "concurrent")) {
    if (scope.transactional) {
      hits.push_back({"concurrently-in-transaction", table, LockMode::share_update_exclusive,
                      "CREATE INDEX CONCURRENTLY cannot run inside a transaction block, and this section runs in one",
                      in_transaction_fix("CREATE INDEX CONCURRENTLY")});
    }
    return;
  }
  if (!scope.is_new(table)) {
    hits.push_back({"index-without-concurrently", table, LockMode::share,
                    "CREATE INDEX on " + table +
                        " takes a SHARE lock: inserts, updates and deletes wait until the "
                        "index is built",
                    "CREATE INDEX CONCURRENTLY, in a section marked transaction=false"});
  }
}

void locks_drop(const Statement& statement, const Scope& scope, std::vector<Hit>& hits) {
  const auto& body = statement.body();
  if (text_of(body, "removeType") != "OBJECT_INDEX") {
    return;
  }
  for (const auto& object : items(body, "objects")) {
    const auto index = dotted_name(items(child(object, "List"), "items"));
    const auto table = index_table(object, scope);
    if (flag_of(body, "concurrent")) {
      if (scope.transactional) {
        hits.push_back({"concurrently-in-transaction", table, LockMode::share_update_exclusive,
                        "DROP INDEX CONCURRENTLY cannot run inside a transaction block, and this section runs in one",
                        in_transaction_fix("DROP INDEX CONCURRENTLY")});
      }
    } else if (!scope.index_is_new(index) && !scope.is_new(table)) {
      hits.push_back({"drop-index-without-concurrently", table, LockMode::access_exclusive,
                      "DROP INDEX " + index + " takes ACCESS EXCLUSIVE on its table: every read and write of it waits",
                      "DROP INDEX CONCURRENTLY, in a section marked transaction=false"});
    }
  }
}

void locks_reindex(const Statement& statement, const Scope& scope, std::vector<Hit>& hits) {
  const auto& body = statement.body();
  auto name = relation_name(child(body, "relation"));
  if (name.empty()) {
    name = text_of(body, "name");
  }
  if (concurrently_option(body)) {
    if (scope.transactional) {
      hits.push_back({"concurrently-in-transaction", name, LockMode::share_update_exclusive,
                      "REINDEX CONCURRENTLY cannot run inside a transaction block, and this section runs in one",
                      in_transaction_fix("REINDEX CONCURRENTLY")});
    }
    return;
  }
  if (!scope.is_new(name) && !scope.index_is_new(name)) {
    hits.push_back({"reindex-without-concurrently", name, LockMode::share,
                    child(body, "relation").empty()
                        ? "REINDEX " + text_of(body, "kind").substr(std::string("REINDEX_OBJECT_").size()) + " " +
                              name + " blocks writes to each table (and reads that use its indexes) while it rebuilds"
                        : "REINDEX of " + name +
                              " blocks writes to the table (and locks out reads that use the index) while it rebuilds",
                    "REINDEX ... CONCURRENTLY, in a section marked transaction=false"});
  }
}

void locks_add_column(const std::string& table, const Json& column, std::vector<Hit>& hits) {
  const auto name = text_of(column, "colname");
  bool rewrites = makes_ids(column);
  for (const auto& item : items(column, "constraints")) {
    const auto& constraint = child(item, "Constraint");
    const auto kind = text_of(constraint, "contype");
    if ((kind == "CONSTR_DEFAULT" && calls_any(child(constraint, "raw_expr"), k_volatile)) ||
        kind == "CONSTR_GENERATED") {
      rewrites = true; // a stored generated column is computed for every row: a rewrite too
    }
    if (kind == "CONSTR_PRIMARY" || kind == "CONSTR_UNIQUE") {
      hits.push_back({"unique-without-using-index", table, LockMode::access_exclusive,
                      "ADD COLUMN " + name + (kind == "CONSTR_PRIMARY" ? " PRIMARY KEY" : " UNIQUE") +
                          " builds its index while holding ACCESS EXCLUSIVE on " + table,
                      "add the column plain, CREATE UNIQUE INDEX CONCURRENTLY on it (transaction=false), then "
                      "ADD CONSTRAINT ... UNIQUE USING INDEX"});
    }
  }
  if (rewrites) {
    hits.push_back({"volatile-default", table, LockMode::access_exclusive,
                    "ADD COLUMN " + name +
                        " with a volatile default (or a serial, identity or stored generated column) rewrites " +
                        table + " under ACCESS EXCLUSIVE: reads and writes wait for the whole rewrite",
                    "add the column without a default (or with a constant one), set the default for new rows with "
                    "ALTER COLUMN ... SET DEFAULT, and fill old rows in batches"});
  }
}

void locks_constraint(const std::string& table, const Json& constraint, std::vector<Hit>& hits) {
  const auto kind = text_of(constraint, "contype");
  const auto name = text_of(constraint, "conname");
  const auto called = name.empty() ? std::string{} : " " + name;
  if ((kind == "CONSTR_CHECK" || kind == "CONSTR_FOREIGN") && !flag_of(constraint, "skip_validation")) {
    const bool foreign = kind == "CONSTR_FOREIGN";
    hits.push_back({"constraint-without-not-valid", table,
                    foreign ? LockMode::share_row_exclusive : LockMode::access_exclusive,
                    std::string(foreign ? "FOREIGN KEY" : "CHECK") + called + " checks every row of " + table +
                        " while it holds " + (foreign ? "SHARE ROW EXCLUSIVE (writes wait)" : "ACCESS EXCLUSIVE"),
                    "ADD CONSTRAINT ... NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT in a later migration "
                    "(it takes only SHARE UPDATE EXCLUSIVE)"});
  }
  if ((kind == "CONSTR_PRIMARY" || kind == "CONSTR_UNIQUE" || kind == "CONSTR_EXCLUSION") &&
      text_of(constraint, "indexname").empty()) {
    hits.push_back({"unique-without-using-index", table, LockMode::access_exclusive,
                    std::string(kind == "CONSTR_PRIMARY" ? "ADD PRIMARY KEY" : "ADD UNIQUE") + called +
                        " builds its index while holding ACCESS EXCLUSIVE on " + table,
                    "CREATE UNIQUE INDEX CONCURRENTLY first (transaction=false), then ADD CONSTRAINT ... "
                    "PRIMARY KEY USING INDEX / UNIQUE USING INDEX"});
  }
}

void locks_alter(const Statement& statement, const Scope& scope, std::vector<Hit>& hits) {
  const auto& body = statement.body();
  const auto table = relation_name(child(body, "relation"));
  if (scope.is_new(table) || text_of(body, "objtype") == "OBJECT_INDEX") {
    return;
  }
  for (const auto& item : items(body, "cmds")) {
    const auto& command = child(item, "AlterTableCmd");
    const auto subtype = text_of(command, "subtype");
    const auto& def = child(command, "def");
    if (subtype == "AT_AddColumn") {
      locks_add_column(table, child(def, "ColumnDef"), hits);
    } else if (subtype == "AT_AlterColumnType") {
      hits.push_back({"column-type-change", table, LockMode::access_exclusive,
                      "ALTER COLUMN " + text_of(command, "name") + " TYPE rewrites " + table +
                          " and rebuilds its indexes under ACCESS EXCLUSIVE (unless the old type converts without "
                          "a rewrite, e.g. varchar(n) to text)",
                      "add a column of the new type, write both from the application, backfill in batches, then "
                      "switch reads and drop the old column"});
    } else if (subtype == "AT_SetNotNull" && !scope.proven_not_null(table, text_of(command, "name"))) {
      const auto column = text_of(command, "name");
      hits.push_back(
          {"set-not-null", table, LockMode::access_exclusive,
           "SET NOT NULL on " + table + "." + column + " scans the whole table while holding ACCESS EXCLUSIVE",
           "ADD CONSTRAINT " + column + "_not_null CHECK (" + column +
               " IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT it; then SET NOT NULL (PostgreSQL 12+ "
               "skips the scan) and drop the CHECK"});
    } else if (subtype == "AT_AddConstraint") {
      locks_constraint(table, child(def, "Constraint"), hits);
    } else if (subtype == "AT_ValidateConstraint" && scope.added_in_this_transaction(table, text_of(command, "name"))) {
      hits.push_back({"constraint-without-not-valid", table, LockMode::access_exclusive,
                      "VALIDATE CONSTRAINT " + text_of(command, "name") +
                          " in the transaction that added it NOT VALID scans " + table +
                          " under the lock the ADD took, so NOT VALID saves nothing",
                      "validate it in a later migration (its own transaction takes only SHARE UPDATE EXCLUSIVE)"});
    }
  }
}

// Statements PostgreSQL runs only outside a transaction block (besides the CONCURRENTLY forms).
void locks_outside_transaction(const Statement& statement, const Scope& scope, std::vector<Hit>& hits) {
  const auto& body = statement.body();
  std::string what;
  if (statement.type == "VacuumStmt" && flag_of(body, "is_vacuumcmd")) {
    what = "VACUUM";
  } else if (statement.type == "ReindexStmt") {
    const auto kind = text_of(body, "kind");
    if (kind == "REINDEX_OBJECT_SCHEMA" || kind == "REINDEX_OBJECT_DATABASE" || kind == "REINDEX_OBJECT_SYSTEM") {
      what = "REINDEX " + kind.substr(std::string("REINDEX_OBJECT_").size());
    }
  }
  if (!what.empty() && scope.transactional) {
    hits.push_back({"concurrently-in-transaction",
                    {},
                    LockMode::none,
                    what + " cannot run inside a transaction block, and this section runs in one",
                    in_transaction_fix(what)});
  }
}

void locks_blocking(const Statement& statement, const Scope& scope, std::vector<Hit>& hits) {
  const auto& body = statement.body();
  std::vector<std::string> tables;
  std::string command;
  if (statement.type == "VacuumStmt" && vacuum_full(body)) {
    tables = relations_of(items(body, "rels"), "VacuumRelation");
    command = "VACUUM FULL";
  } else if (statement.type == "ClusterStmt") {
    tables = {relation_name(child(body, "relation"))};
    command = "CLUSTER";
  } else if (statement.type == "LockStmt" && body.value("mode", 0) >= static_cast<int>(LockMode::share)) {
    tables = relations_of(items(body, "relations"));
    command = "LOCK TABLE";
  } else if (statement.type == "TruncateStmt") {
    tables = relations_of(items(body, "relations"));
    command = "TRUNCATE";
  }
  const auto mode = statement.type == "LockStmt" ? static_cast<LockMode>(std::clamp(body.value("mode", 8), 1, 8))
                                                 : LockMode::access_exclusive;
  for (const auto& table : tables) {
    if (!table.empty() && !scope.is_new(table)) {
      hits.push_back({"blocking-command", table, mode,
                      command + " holds " + std::string(lock_name(mode)) + " on " + table + " for as long as it runs",
                      command == "VACUUM FULL" || command == "CLUSTER"
                          ? "plain VACUUM, or rebuild online with a tool such as pg_repack"
                      : command == "TRUNCATE" ? "DELETE in batches, or TRUNCATE in a maintenance window"
                                              : "take no explicit lock; let each statement lock what it needs"});
    }
  }
}

LockMode alter_lock(const Json& body) {
  LockMode strongest = LockMode::none;
  for (const auto& item : items(body, "cmds")) {
    const auto& command = child(item, "AlterTableCmd");
    const auto subtype = text_of(command, "subtype");
    const auto& constraint = child(child(command, "def"), "Constraint");
    LockMode mode = LockMode::access_exclusive;
    if (subtype == "AT_ValidateConstraint" || subtype == "AT_SetStatistics" || subtype == "AT_ClusterOn" ||
        subtype == "AT_DropCluster" || subtype == "AT_SetOptions" || subtype == "AT_ResetOptions" ||
        subtype == "AT_SetRelOptions" || subtype == "AT_ResetRelOptions" || subtype == "AT_AttachPartition") {
      mode = LockMode::share_update_exclusive;
    } else if ((subtype == "AT_AddConstraint" && text_of(constraint, "contype") == "CONSTR_FOREIGN") ||
               subtype.rfind("AT_EnableTrig", 0) == 0 || subtype.rfind("AT_DisableTrig", 0) == 0 ||
               subtype.rfind("AT_EnableAlwaysTrig", 0) == 0 || subtype.rfind("AT_EnableReplicaTrig", 0) == 0) {
      mode = LockMode::share_row_exclusive;
    }
    strongest = std::max(strongest, mode);
  }
  return strongest;
}

} // namespace

void check_locks(const Statement& statement, const Scope& scope, std::vector<Hit>& hits) {
  if (statement.type == "IndexStmt") {
    locks_index(statement, scope, hits);
  } else if (statement.type == "DropStmt") {
    locks_drop(statement, scope, hits);
  } else if (statement.type == "ReindexStmt") {
    locks_reindex(statement, scope, hits);
  } else if (statement.type == "AlterTableStmt") {
    locks_alter(statement, scope, hits);
  } else {
    locks_blocking(statement, scope, hits);
  }
  locks_outside_transaction(statement, scope, hits);
}

std::vector<TableLock> table_locks(const Statement& statement, const Scope& scope) {
  const auto& body = statement.body();
  const auto& type = statement.type;
  std::vector<TableLock> out;
  const auto add = [&out](std::string table, LockMode mode) {
    if (!table.empty() && mode != LockMode::none) {
      out.push_back({std::move(table), mode});
    }
  };
  if (type == "IndexStmt") {
    add(relation_name(child(body, "relation")),
        flag_of(body, "concurrent") ? LockMode::share_update_exclusive : LockMode::share);
  } else if (type == "DropStmt") {
    const auto kind = text_of(body, "removeType");
    for (const auto& object : items(body, "objects")) {
      if (kind == "OBJECT_INDEX") {
        add(index_table(object, scope),
            flag_of(body, "concurrent") ? LockMode::share_update_exclusive : LockMode::access_exclusive);
      } else if (kind == "OBJECT_TABLE" || kind == "OBJECT_MATVIEW") {
        add(dotted_name(items(child(object, "List"), "items")), LockMode::access_exclusive);
      }
    }
  } else if (type == "ReindexStmt") {
    add(relation_name(child(body, "relation")),
        concurrently_option(body) ? LockMode::share_update_exclusive : LockMode::share);
  } else if (type == "AlterTableStmt" && text_of(body, "objtype") != "OBJECT_INDEX") {
    add(relation_name(child(body, "relation")), alter_lock(body));
  } else if (type == "RenameStmt" && text_of(body, "renameType") != "OBJECT_INDEX") {
    add(relation_name(child(body, "relation")), LockMode::access_exclusive);
  } else if (type == "VacuumStmt" && vacuum_full(body)) {
    for (auto& table : relations_of(items(body, "rels"), "VacuumRelation")) {
      add(std::move(table), LockMode::access_exclusive);
    }
  } else if (type == "ClusterStmt") {
    add(relation_name(child(body, "relation")), LockMode::access_exclusive);
  } else if (type == "LockStmt") {
    const auto mode = static_cast<LockMode>(std::clamp(body.value("mode", 8), 1, 8));
    for (auto& table : relations_of(items(body, "relations"))) {
      add(std::move(table), mode);
    }
  } else if (type == "TruncateStmt") {
    for (auto& table : relations_of(items(body, "relations"))) {
      add(std::move(table), LockMode::access_exclusive);
    }
  }
  return out;
}

} // namespace grant::lint
