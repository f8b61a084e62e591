#pragma once

#include <grant/db/connection.hpp>

#include <string>
#include <vector>

namespace grant::twophase {

enum class Decision { none, commit, abort };

std::string to_string(Decision decision);

/// The decisions table on a coordinator's server (grant_atomic_decisions). A row is written
/// before the first COMMIT PREPARED; `abort` rows are written only by recovery, to fence off a
/// commit decision that might still be in flight, so a recorded row is final either way.
class DecisionLog {
public:
  static constexpr const char* k_table = "grant_atomic_decisions";

  /// Resolves the table's schema (the session's current schema) once, now: what a migration
  /// later does to search_path cannot move grant's bookkeeping.
  explicit DecisionLog(db::Connection& connection);
  /// The same table through another session to the same server (after a reconnect).
  DecisionLog on(db::Connection& other) const { return DecisionLog(other, m_table); }

  /// Creates the table when missing.
  void ensure();
  /// True when the table exists (read-only callers).
  bool exists();
  /// Records a commit decision; throws DbError (the caller decides what a lost reply means).
  /// `finished`: decisions of earlier transactions whose participants all committed, deleted in
  /// the same statement (one round trip instead of one each).
  void record_commit(const std::string& key, const std::vector<std::string>& finished = {});
  /// What is recorded for `key`, without writing.
  Decision read(const std::string& key);
  /// Records `wanted` unless a decision exists, and returns the decision that now stands. After
  /// this returns, no other decision for `key` can ever be recorded.
  Decision settle(const std::string& key, Decision wanted);
  /// Deletes the row once every participant has finished.
  void forget(const std::string& key);
  /// forget() for several keys at once; nothing for none.
  void forget(const std::vector<std::string>& keys);

  const std::string& table() const { return m_table; }
  db::Connection& connection() const { return *m_connection; }

private:
  DecisionLog(db::Connection& connection, std::string table) : m_connection(&connection), m_table(std::move(table)) {}
  db::Connection* m_connection;
  std::string m_table; ///< schema-qualified, quoted
};

} // namespace grant::twophase
