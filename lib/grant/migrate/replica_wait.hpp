#pragma once

#include <grant/db/connection.hpp>
#include <grant/migrate/types.hpp>

#include <chrono>

namespace grant::migrate {

/// Waits until every replica of the target (the writer's, or its shard's) has replayed past the
/// writer's WAL position as of now, so that a deploy step that follows never reads the old schema
/// from a replica. Replicas are polled in parallel; each gets a ReplicaCatchUp, ok or not, within
/// `bound`. No replicas or a SQLite target: nothing to wait for.
std::vector<ReplicaCatchUp> wait_for_replicas(const Target& target, db::Connection& writer,
                                              std::chrono::milliseconds bound, const EventSink& events);

} // namespace grant::migrate
