#pragma once
// Internal to lint/ (not installed): what the linter knows while it walks the pending set, and
// the checks of each rule family, which read a statement against it.

#include <grant/config/config.hpp>
#include <grant/lint/finding.hpp>
#include <grant/lint/statement.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace grant::lint {

/// A finding as a check reports it; the linter adds where it is and what silences it.
struct Hit {
  std::string_view rule;
  std::string table;
  LockMode lock = LockMode::none;
  std::string message;
  std::string fix;
};

/// A lock a statement takes on a table (or index).
struct TableLock {
  std::string table;
  LockMode mode = LockMode::none;
};

class Scope {
public:
  explicit Scope(const config::Database& database) : m_database(database) {}

  /// True when the pending set created `table` before this statement: no lock hazard there.
  bool is_new(const std::string& table) const { return m_new_tables.count(table) > 0; }
  bool index_is_new(const std::string& index) const { return m_new_indexes.count(index) > 0; }
  /// The table an index of the pending set was built on, or "".
  std::string table_of_index(const std::string& index) const;
  /// True when a validated CHECK (column IS NOT NULL) on the table proves the column has no NULLs.
  bool proven_not_null(const std::string& table, const std::string& column) const {
    return m_not_null.count(table + "." + column) > 0;
  }
  /// The sharding of `table` when the database is sharded and lists it in sharding.tables.
  const config::Sharding* sharding_of(const std::string& table) const;
  bool is_sharded() const { return m_database.is_sharded(); }
  const config::LintSettings& settings() const { return m_database.lint; }
  const config::Database& database() const { return m_database; }

  /// Learns what `statement` creates, validates or sets, after its checks ran.
  void learn(const Statement& statement);
  /// True when `table`.`constraint` was added NOT VALID earlier in the transaction still open:
  /// validating it now scans under the ACCESS EXCLUSIVE lock the ADD took.
  bool added_in_this_transaction(const std::string& table, const std::string& constraint) const {
    return m_not_valid_here.count(table + "." + constraint) > 0;
  }
  /// A section or an explicit transaction ended: its locks are released.
  void end_transaction();

  // The section being linted.
  bool transactional = true;
  bool lock_timeout = false;            ///< a lock_timeout other than 0 is in force
  bool configured_lock_timeout = false; ///< the one the section starts with (RESET goes back to it)
  std::set<std::string> strong_locks;   ///< existing tables this transaction holds SHARE or stronger on
  bool reported_timeout = false;
  bool reported_many = false;

private:
  const config::Database& m_database;
  std::set<std::string> m_new_tables;
  std::set<std::string> m_new_indexes;
  std::map<std::string, std::string> m_index_tables;
  std::map<std::string, std::string> m_unvalidated_checks; ///< "table.constraint" -> column
  std::set<std::string> m_not_null;                        ///< "table.column"
  std::set<std::string> m_not_valid_here;                  ///< "table.constraint" added NOT VALID in this transaction
};

// The checks, one function per family (rules_<family>.cpp).
void check_locks(const Statement& statement, const Scope& scope, std::vector<Hit>& hits);
void check_compatibility(const Statement& statement, const Scope& scope, std::vector<Hit>& hits);
void check_fleet(const Statement& statement, const Scope& scope, std::vector<Hit>& hits);
/// The table locks `statement` takes (rules_locks.cpp): the section rules and --connect use them.
std::vector<TableLock> table_locks(const Statement& statement, const Scope& scope);

/// The table an index is on, as far as the linter knows (the index's own name otherwise).
std::string index_table(const Json& drop_object, const Scope& scope);
/// True for serial types, identity columns and nextval() defaults in a ColumnDef.
bool makes_ids(const Json& column_def);

} // namespace grant::lint
