#pragma once

#include <grant/migrate/limits.hpp>
#include <grant/migrate/tracking.hpp>
#include <grant/migrate/types.hpp>

namespace grant::migrate {

/// Applies one migration: the up section and its tracking row commit together; with
/// transaction=false the statements run one by one and the row is written after they succeed.
/// Throws grant::Error (exit 3) naming target, file:line, statement and the server's message.
Step apply_up(db::Connection& connection, Tracker& tracker, const Target& target, const Migration& migration,
              const RunOptions& options, const EventSink& events);

/// Reverts one migration: down section and row removal in one transaction.
Step apply_down(db::Connection& connection, Tracker& tracker, const Target& target, const Migration& migration,
                const RunOptions& options, const EventSink& events);

/// What bounds a section's statements: marker options over the database's `migrate` defaults.
using SessionLimits = Limits;

class BlockerWatch;

/// Runs a section's statements one at a time (in whatever transaction the caller holds) under
/// `limits`, translating a failure into an error naming the statement, its file:line and, for a
/// lock timeout, the blocking session `watch` saw.
/// `between`, when set, runs between two statements of a section outside a transaction;
/// `reached`, when set, holds the index of the statement running, then the count once all ran.
void run_section(db::Connection& connection, const Target& target, const Migration& migration, const Section& section,
                 const SessionLimits& limits = {}, BlockerWatch* watch = nullptr,
                 const std::function<void()>& between = {}, std::size_t* reached = nullptr);

/// After a section's statements, before grant's own bookkeeping: resets the session (SET ROLE,
/// search_path, timeouts), inside the section's transaction when there is one.
void end_section(db::Connection& connection);
/// Refuses pending migrations older than the newest applied unless allowed.
void check_out_of_order(const Plan& plan, const MigrateOptions& options, const Target& target);

void record_failure(TargetResult& result, const Error& error);

} // namespace grant::migrate
