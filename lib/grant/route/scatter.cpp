// scatter_gather: the merging side. The shards' threads and their batches are in gather.hpp.
#include <grant/route/scatter.hpp>

#include <grant/db/cancel.hpp>
#include <grant/route/gather.hpp>

namespace grant::route {

using detail::Gather;

namespace {

// Hands rows to the sink, applying the plan's OFFSET and LIMIT; false once the limit is reached.
class Emitter {
public:
  Emitter(MergedSink& sink, const MergePlan& plan) : m_sink(sink), m_plan(plan) {}

  bool emit(const std::string& shard, const RowBatch& batch, std::size_t row) {
    if (m_skipped < m_plan.offset) {
      ++m_skipped;
      return true;
    }
    if (m_plan.limit && m_rows >= *m_plan.limit) {
      return false;
    }
    m_sink.row(shard, m_view.view(batch, row));
    ++m_rows;
    return !m_plan.limit || m_rows < *m_plan.limit;
  }

  void describe(Gather& gather) {
    if (!m_described) {
      if (auto columns = gather.columns()) {
        m_sink.columns(*columns);
        m_columns = std::move(*columns);
        m_described = true;
      }
    }
  }

  const std::vector<db::Column>& columns() const { return m_columns; }
  long long rows() const { return m_rows; }

private:
  MergedSink& m_sink;
  const MergePlan& m_plan;
  BatchRowView m_view;
  std::vector<db::Column> m_columns;
  bool m_described = false;
  long long m_skipped = 0;
  long long m_rows = 0;
};

// Each shard's batches in turn as they come; false when the limit stopped it early.
bool merge_unordered(Gather& gather, Emitter& emitter) {
  std::size_t lane = 0;
  while (auto batch = gather.any_batch(lane)) {
    emitter.describe(gather);
    const auto& shard = gather.lane(lane).target->shard;
    for (std::size_t row = 0; row < batch->rows(); ++row) {
      if (!emitter.emit(shard, *batch, row)) {
        return false;
      }
    }
    gather.recycle(std::move(batch));
  }
  return true;
}

// A k-way merge of streams that are each in the plan's order: the smallest head goes next.
bool merge_ordered(Gather& gather, Emitter& emitter, const MergePlan& plan) {
  struct Head {
    std::unique_ptr<RowBatch> batch;
    std::size_t row = 0;
  };
  std::vector<Head> heads(gather.lane_count());
  for (std::size_t i = 0; i < heads.size(); ++i) {
    heads[i].batch = gather.next_batch(i);
  }
  if (gather.failed()) {
    return true; // the caller reports the failure; the columns may never have come
  }
  emitter.describe(gather);
  std::vector<std::size_t> keys;
  for (const auto& key : plan.order) {
    keys.push_back(resolve_sort_key(key, emitter.columns()));
  }
  const auto& columns = emitter.columns();
  const auto type = [&](const RowBatch& batch, std::size_t row, std::size_t column) {
    return batch.typed() ? batch.type(row, column) : columns[column].type;
  };
  const auto before = [&](const Head& a, const Head& b) {
    for (std::size_t k = 0; k < keys.size(); ++k) {
      const std::size_t c = keys[k];
      const bool a_null = a.batch->is_null(a.row, c);
      const bool b_null = b.batch->is_null(b.row, c);
      int order = 0;
      if (a_null || b_null) {
        order = a_null == b_null ? 0 : (a_null == plan.order[k].nulls_come_first() ? -1 : 1);
      } else {
        order = compare_values(a.batch->field(a.row, c), type(*a.batch, a.row, c), b.batch->field(b.row, c),
                               type(*b.batch, b.row, c));
        order = plan.order[k].descending ? -order : order;
      }
      if (order != 0) {
        return order < 0;
      }
    }
    return false;
  };
  while (true) {
    std::size_t best = heads.size();
    for (std::size_t i = 0; i < heads.size(); ++i) {
      if (heads[i].batch && (best == heads.size() || before(heads[i], heads[best]))) {
        best = i;
      }
    }
    if (best == heads.size()) {
      return true;
    }
    auto& head = heads[best];
    if (!emitter.emit(gather.lane(best).target->shard, *head.batch, head.row)) {
      return false;
    }
    if (++head.row == head.batch->rows()) {
      gather.recycle(std::move(head.batch));
      head.batch = gather.next_batch(best);
      head.row = 0;
    }
  }
}

} // namespace

ScatterResult scatter_gather(const std::vector<ShardTarget>& targets, const MergePlan& plan, MergedSink& sink,
                             const ScatterOptions& options) {
  ScatterResult result;
  if (targets.empty()) {
    return result;
  }
  Gather gather(targets, plan, options);
  Emitter emitter(sink, plan);
  bool complete = true;
  gather.start();
  try {
    complete = plan.order.empty() ? merge_unordered(gather, emitter) : merge_ordered(gather, emitter, plan);
    emitter.describe(gather);
  } catch (...) {
    gather.finish(true);
    throw;
  }
  result.failures = gather.failures();
  gather.finish(!complete || (!options.partial && !result.failures.empty()));
  result.rows = emitter.rows();
  result.affected = gather.affected();
  if (!options.partial && !result.failures.empty()) {
    const auto& failure = result.failures.front();
    db::DbError::Details details;
    details.target = failure.label;
    details.statement = plan.shard_sql;
    const std::string next = db::cancel::requested() != 0 ? "re-run it" : "fix the shard and re-run";
    throw ScatterError("shard " + failure.shard + " failed: " + failure.message, details,
                       result.rows > 0
                           ? "the " + std::to_string(result.rows) + " rows already delivered are incomplete; " + next
                           : next,
                       failure);
  }
  return result;
}

} // namespace grant::route
