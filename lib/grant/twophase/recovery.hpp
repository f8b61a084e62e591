#pragma once

#include <grant/db/connection.hpp>
#include <grant/twophase/decision_log.hpp>
#include <grant/twophase/gid.hpp>

#include <string>
#include <vector>

namespace grant::twophase {

/// A prepared transaction waiting on a server.
struct Prepared {
  std::string gid;
  std::string prepared_at;
};

/// grant's prepared transactions for config database `database` waiting on the session's
/// server database (0 where the engine has no prepared transactions).
std::size_t count_in_doubt(db::Connection& connection, const std::string& database);

/// grant's prepared transactions in the session's current database, oldest first.
std::vector<Prepared> list_prepared(db::Connection& connection);

enum class Mode {
  by_decision, ///< commit where a commit decision is recorded, roll back only where none can be
  commit,      ///< --commit: record commit where nothing is recorded, then commit
  abort,       ///< --abort: record abort where nothing is recorded, then roll back
};

struct Resolution {
  Decision decision = Decision::none; ///< what the coordinator holds (after settling, unless dry run)
  std::string action;                 ///< "commit", "rollback", or "refuse"
  std::string reason;                 ///< why refused
};

/// Decides the fate of `gid`: reads the coordinator's decision log (settling it first unless
/// `dry_run`, so that no commit decision can appear after a rollback) and, unless `dry_run`,
/// commits or rolls back on `participant`. A forced outcome against the recorded decision would
/// split the fleet and is refused unless `force`.
Resolution resolve(db::Connection& participant, const Gid& gid, DecisionLog& log, Mode mode, bool force, bool dry_run);

} // namespace grant::twophase
