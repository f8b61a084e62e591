#include <grant/lint/scope.hpp>

#include <grant/util/strings.hpp>

namespace grant::lint {

namespace {

std::string bare(std::string name) {
  return name.rfind("public.", 0) == 0 ? name.substr(7) : name;
}

// `SET lock_timeout = X`: true when X is a limit (anything but 0).
bool sets_a_limit(const Json& set) {
  const auto args = items(set, "args");
  if (args.empty() || !args[0].contains("A_Const")) {
    return false;
  }
  const auto& value = args[0]["A_Const"];
  if (value.contains("ival")) {
    return value["ival"].value("ival", 0) != 0;
  }
  if (value.contains("sval")) {
    // "5s", "500ms", "10": a limit; "0", "0ms": none.
    return text_of(value["sval"], "sval").find_first_of("123456789") != std::string::npos;
  }
  return false;
}

} // namespace

void Scope::end_transaction() {
  strong_locks.clear();
  reported_many = false;
  m_not_valid_here.clear();
}

std::string Scope::table_of_index(const std::string& index) const {
  const auto found = m_index_tables.find(index);
  return found == m_index_tables.end() ? std::string{} : found->second;
}

const config::Sharding* Scope::sharding_of(const std::string& table) const {
  if (!m_database.sharding) {
    return nullptr;
  }
  for (const auto& listed : m_database.sharding->tables) {
    if (bare(util::to_lower(listed)) == table || bare(listed) == table) {
      return &*m_database.sharding;
    }
  }
  return nullptr;
}

void Scope::learn(const Statement& statement) {
  const auto& body = statement.body();
  if (statement.type == "CreateStmt") {
    m_new_tables.insert(relation_name(child(body, "relation")));
  } else if (statement.type == "CreateTableAsStmt") {
    m_new_tables.insert(relation_name(child(child(body, "into"), "rel")));
  } else if (statement.type == "IndexStmt") {
    const auto index = text_of(body, "idxname");
    if (!index.empty()) {
      const auto table = relation_name(child(body, "relation"));
      m_new_indexes.insert(index);
      m_index_tables[index] = table;
    }
  } else if (statement.type == "RenameStmt" && text_of(body, "renameType") == "OBJECT_TABLE") {
    const auto old_name = relation_name(child(body, "relation"));
    if (is_new(old_name)) {
      m_new_tables.insert(text_of(body, "newname"));
    }
  } else if (statement.type == "VariableSetStmt" && text_of(body, "name") == "lock_timeout") {
    const auto kind = text_of(body, "kind");
    // RESET and SET ... TO DEFAULT go back to the session's default (no limit unless the server
    // sets one), not to the marker's SET LOCAL.
    lock_timeout = kind == "VAR_SET_VALUE" && sets_a_limit(body);
  } else if (statement.type == "TransactionStmt") {
    const auto kind = text_of(body, "kind");
    if (kind == "TRANS_STMT_BEGIN" || kind == "TRANS_STMT_START") {
      transactional = true;
    } else if (kind == "TRANS_STMT_COMMIT" || kind == "TRANS_STMT_ROLLBACK") {
      transactional = false;
      end_transaction();
    }
  } else if (statement.type == "AlterTableStmt") {
    const auto table = relation_name(child(body, "relation"));
    for (const auto& item : items(body, "cmds")) {
      const auto& command = child(item, "AlterTableCmd");
      const auto subtype = text_of(command, "subtype");
      if (subtype == "AT_AddConstraint") {
        const auto& constraint = child(child(command, "def"), "Constraint");
        if (flag_of(constraint, "skip_validation") && transactional) {
          m_not_valid_here.insert(table + "." + text_of(constraint, "conname"));
        }
        const auto& test = child(child(constraint, "raw_expr"), "NullTest");
        if (text_of(constraint, "contype") != "CONSTR_CHECK" || text_of(test, "nulltesttype") != "IS_NOT_NULL") {
          continue;
        }
        const auto fields = string_list(items(child(child(test, "arg"), "ColumnRef"), "fields"));
        if (fields.empty()) {
          continue;
        }
        if (flag_of(constraint, "skip_validation")) {
          m_unvalidated_checks[table + "." + text_of(constraint, "conname")] = fields.back();
        } else {
          m_not_null.insert(table + "." + fields.back());
        }
      } else if (subtype == "AT_ValidateConstraint") {
        const auto found = m_unvalidated_checks.find(table + "." + text_of(command, "name"));
        if (found != m_unvalidated_checks.end() && !added_in_this_transaction(table, text_of(command, "name"))) {
          m_not_null.insert(table + "." + found->second);
        }
      }
    }
  }
}

std::string index_table(const Json& drop_object, const Scope& scope) {
  const auto name = dotted_name(items(child(drop_object, "List"), "items"));
  const auto table = scope.table_of_index(name);
  return table.empty() ? name : table;
}

bool makes_ids(const Json& column_def) {
  const auto type = string_list(items(child(column_def, "typeName"), "names"));
  if (!type.empty()) {
    const auto& name = type.back();
    if (name == "serial" || name == "bigserial" || name == "smallserial" || name == "serial4" || name == "serial8" ||
        name == "serial2") {
      return true;
    }
  }
  for (const auto& item : items(column_def, "constraints")) {
    const auto& constraint = child(item, "Constraint");
    const auto kind = text_of(constraint, "contype");
    if (kind == "CONSTR_IDENTITY" ||
        (kind == "CONSTR_DEFAULT" && calls_any(child(constraint, "raw_expr"), {"nextval"}))) {
      return true;
    }
  }
  return false;
}

} // namespace grant::lint
