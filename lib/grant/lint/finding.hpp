#pragma once
// What `grant lint` reports: findings, the lock a statement takes, and (with --connect) what each
// target says about the table.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grant::lint {

enum class Severity { info, warning, error };

/// "info", "warning", "error".
std::string_view severity_name(Severity severity);
/// The severity named `name`; nullopt for anything else (including "none").
std::optional<Severity> parse_severity(std::string_view name);

/// PostgreSQL's table-level lock modes, weakest first ("Explicit Locking" in its documentation).
enum class LockMode {
  none,
  access_share,
  row_share,
  row_exclusive,
  share_update_exclusive,
  share,
  share_row_exclusive,
  exclusive,
  access_exclusive,
};

/// "ACCESS EXCLUSIVE", "SHARE", ... as PostgreSQL's documentation writes them; "" for none.
std::string_view lock_name(LockMode mode);
/// The mode as pg_locks.mode spells it ("AccessExclusiveLock"); nullopt for any other text.
std::optional<LockMode> lock_from_pg_locks(std::string_view mode);
/// True when a session holding `held` makes a request for `wanted` wait (the conflict table).
bool locks_conflict(LockMode held, LockMode wanted);

/// A session on a target that holds a lock the statement would wait for.
struct Blocker {
  int pid = 0;
  std::string application_name;
  std::string state; ///< pg_stat_activity.state: "idle in transaction", "active", ...
  double age_s = 0;  ///< how long its transaction (or, outside one, its session) has been open
  std::string lock;  ///< the mode it holds, as pg_locks spells it
};

/// What one target says about a finding's table (`grant lint --connect`).
struct TargetFacts {
  std::string target;    ///< e.g. orders/s3
  bool reachable = true; ///< false: see error; nothing else is known
  std::string error;
  bool exists = false;
  std::optional<long long> table_bytes;   ///< with its indexes and TOAST
  std::optional<long long> rows_estimate; ///< from the planner's statistics; unknown before ANALYZE
  bool has_rows = false;                  ///< the statistics count live rows
  std::vector<Blocker> blockers;
};

struct Finding {
  std::string rule;
  Severity severity = Severity::warning;
  std::string database;
  std::string migration; ///< VERSION_name
  std::filesystem::path file;
  int line = 0;
  int column = 0;
  std::string message;
  std::string statement; ///< the statement's text, as written
  std::string fix;       ///< what to run instead
  std::string table;     ///< the table (or index) it is about, schema-qualified when written so; may be empty
  LockMode lock = LockMode::none;
  bool silenced = false;            ///< a marker silenced it (kept for --json's summary, never printed as a finding)
  std::vector<TargetFacts> targets; ///< --connect: one per target of the database
};

} // namespace grant::lint
