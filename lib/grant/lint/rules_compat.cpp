// Compatibility: changes that break the application still running against the old schema while
// the migration rolls out (drops, renames), or that fail on a table with rows.

#include <grant/lint/scope.hpp>

namespace grant::lint {

namespace {

const std::string k_expand_contract = "expand and contract: stop using it in the application first, deploy, then "
                                      "drop it in a later migration";

void compat_drop(const Json& body, const Scope& scope, std::vector<Hit>& hits) {
  if (text_of(body, "removeType") != "OBJECT_TABLE") {
    return;
  }
  for (const auto& object : items(body, "objects")) {
    const auto table = dotted_name(items(child(object, "List"), "items"));
    if (!scope.is_new(table)) {
      hits.push_back({"drop-table", table, LockMode::access_exclusive,
                      "DROP TABLE " + table +
                          " breaks every query of the running application that uses it, and "
                          "its rows are gone",
                      k_expand_contract});
    }
  }
}

void compat_alter(const Json& body, const Scope& scope, std::vector<Hit>& hits) {
  const auto table = relation_name(child(body, "relation"));
  if (scope.is_new(table) || text_of(body, "objtype") == "OBJECT_INDEX") {
    return;
  }
  for (const auto& item : items(body, "cmds")) {
    const auto& command = child(item, "AlterTableCmd");
    const auto subtype = text_of(command, "subtype");
    if (subtype == "AT_DropColumn") {
      hits.push_back({"drop-column", table, LockMode::access_exclusive,
                      "DROP COLUMN " + text_of(command, "name") +
                          " breaks queries of the running application that "
                          "still name it (SELECT *, INSERTs listing it, ORMs that cached the columns)",
                      k_expand_contract});
    } else if (subtype == "AT_AddColumn") {
      const auto& column = child(child(command, "def"), "ColumnDef");
      bool not_null = false;
      bool has_default = makes_ids(column);
      for (const auto& constraint_item : items(column, "constraints")) {
        const auto kind = text_of(child(constraint_item, "Constraint"), "contype");
        not_null = not_null || kind == "CONSTR_NOTNULL" || kind == "CONSTR_PRIMARY";
        has_default = has_default || kind == "CONSTR_DEFAULT" || kind == "CONSTR_GENERATED";
      }
      if (not_null && !has_default) {
        hits.push_back({"not-null-without-default", table, LockMode::access_exclusive,
                        "ADD COLUMN " + text_of(column, "colname") + " NOT NULL without a default fails on " + table +
                            " if it has any row, and breaks the running application's INSERTs that do not set it",
                        "add it with a DEFAULT (PostgreSQL 11+ stores a constant default without a rewrite), or "
                        "nullable, backfill, and add the NOT NULL later"});
      }
    }
  }
}

void compat_rename(const Json& body, const Scope& scope, std::vector<Hit>& hits) {
  const auto kind = text_of(body, "renameType");
  const auto table = relation_name(child(body, "relation"));
  if ((kind != "OBJECT_TABLE" && kind != "OBJECT_COLUMN") || scope.is_new(table)) {
    return;
  }
  const auto what = kind == "OBJECT_TABLE" ? "table " + table : "column " + table + "." + text_of(body, "subname");
  hits.push_back({"rename", table, LockMode::access_exclusive,
                  "renaming " + what + " to " + text_of(body, "newname") +
                      " breaks the running application's queries that use the old name",
                  "add the new one alongside (a view, or a new column kept in step), move the application, then "
                  "drop the old one"});
}

} // namespace

void check_compatibility(const Statement& statement, const Scope& scope, std::vector<Hit>& hits) {
  const auto& body = statement.body();
  if (statement.type == "DropStmt") {
    compat_drop(body, scope, hits);
  } else if (statement.type == "AlterTableStmt") {
    compat_alter(body, scope, hits);
  } else if (statement.type == "RenameStmt") {
    compat_rename(body, scope, hits);
  }
}

} // namespace grant::lint
