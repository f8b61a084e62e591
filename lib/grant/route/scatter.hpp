#pragma once

#include <grant/db/error.hpp>
#include <grant/registry/pool.hpp>
#include <grant/route/merge_plan.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace grant::route {

/// One shard a scattered query runs on: its name and where its connection comes from (the
/// writer's pool, or a balancer's pick of a replica).
struct ShardTarget {
  std::string shard;
  std::string label; ///< for errors: "orders/s1"
  std::function<registry::PooledConnection()> checkout;
};

/// Receives the merged result: the columns once (the first shard's; the others must match),
/// then every row with the shard it came from, on the calling thread.
class MergedSink {
public:
  virtual ~MergedSink() = default;
  virtual void columns(const std::vector<db::Column>& columns) = 0;
  virtual void row(const std::string& shard, const db::RowView& row) = 0;
};

struct ScatterOptions {
  std::size_t jobs = 8;                 ///< shards read at once (an ORDER BY merge reads all at once)
  std::chrono::milliseconds timeout{0}; ///< a shard silent this long fails (and the server cancels); 0: none
  bool read_only = false;               ///< each shard's statement inside a read-only transaction
  bool partial = false;                 ///< false: the first failing shard stops the rest (all-or-error)
  std::size_t batch_rows = 2000;        ///< rows per batch handed from a shard's thread to the merge
  std::size_t fetch_rows = 10000;       ///< rows per round trip to a shard (its cursor's FETCH)
  std::size_t queued_batches = 4;       ///< batches each shard may have waiting: bounds memory
};

struct ShardFailure {
  std::string shard;
  std::string label;
  std::string message;
  bool timed_out = false;
};

struct ScatterResult {
  long long rows = 0;                 ///< rows handed to the sink
  long long affected = 0;             ///< the shards' changed rows, summed (an UPDATE on every shard)
  std::vector<ShardFailure> failures; ///< with `partial`: the shards whose rows are missing or cut short
};

/// Thrown when a shard fails and `partial` is off: names the shard (target) and says that the
/// rows already delivered are incomplete.
class ScatterError : public db::DbError {
public:
  ScatterError(std::string what, db::DbError::Details details, std::string hint, ShardFailure failure)
      : db::DbError(std::move(what), std::move(details), std::move(hint)), m_failure(std::move(failure)) {}
  const ShardFailure& failure() const { return m_failure; }

private:
  ShardFailure m_failure;
};

/// Runs `plan.shard_sql` on every target in parallel (at most `jobs` at once) and streams the
/// rows into `sink` as they arrive, each shard's rows in the order it sent them; with
/// `plan.order` the streams are merged in that order (each shard's must already be), and
/// `plan.offset` / `plan.limit` apply to the merged stream. Memory stays bounded by
/// jobs x queued_batches x batch_rows whatever the result's size. A shard that fails or stays
/// silent past `timeout` throws ScatterError (after stopping the others) unless `partial`, in
/// which case its failure is in the result and the other shards' rows are complete.
ScatterResult scatter_gather(const std::vector<ShardTarget>& targets, const MergePlan& plan, MergedSink& sink,
                             const ScatterOptions& options = {});

} // namespace grant::route
