// The shards' side of scatter_gather: one thread per shard being read streams its rows into
// batches that the merging thread takes. Everything the threads share is under one mutex: a
// batch holds thousands of rows, so the lock is taken once per batch, not per row.
#pragma once

#include <grant/db/cancel.hpp>
#include <grant/route/row_batch.hpp>
#include <grant/route/scatter.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace grant::route::detail {

using Clock = std::chrono::steady_clock;

/// Thrown inside a shard's thread when the merge wants no more rows.
struct Stopped {};

struct Lane {
  const ShardTarget* target = nullptr;
  std::deque<std::unique_ptr<RowBatch>> ready;
  bool done = false;
  db::Connection* connection = nullptr; ///< while it streams: what interrupt() breaks
  bool waiting_on_server = false;       ///< false while it waits for room in `ready`
  Clock::time_point waiting_since{};
  bool timed_out = false;
};

class Gather {
public:
  Gather(const std::vector<ShardTarget>& targets, const MergePlan& plan, const ScatterOptions& options)
      : m_plan(plan), m_options(options), m_lanes(targets.size()) {
    for (std::size_t i = 0; i < targets.size(); ++i) {
      m_lanes[i].target = &targets[i];
    }
  }

  void start() {
    const std::size_t threads = m_plan.order.empty() ? std::clamp<std::size_t>(m_options.jobs, 1, m_lanes.size())
                                                     : m_lanes.size(); // a merge needs every stream's head
    for (std::size_t t = 0; t < threads; ++t) {
      m_threads.emplace_back([this] {
        for (std::size_t i = m_next.fetch_add(1); i < m_lanes.size(); i = m_next.fetch_add(1)) {
          read_shard(m_lanes[i]);
        }
      });
    }
  }

  /// Stops the shards' threads (breaking the sessions of those still reading) and waits for them.
  void finish(bool break_sessions) noexcept {
    {
      std::lock_guard lock(m_mutex);
      m_stop = true;
      if (break_sessions) {
        for (auto& lane : m_lanes) {
          if (lane.connection == nullptr) {
            continue;
          }
          // After Ctrl-C the server must stop the statement too: a broken socket alone leaves
          // it running there.
          if (db::cancel::requested() != 0) {
            lane.connection->cancel();
          } else {
            lane.connection->interrupt();
          }
        }
      }
    }
    m_to_shards.notify_all();
    for (auto& thread : m_threads) {
      thread.join();
    }
    m_threads.clear();
  }

  /// The next batch of lane `i`, or nullptr once it has no more (done, failed, or stopping).
  std::unique_ptr<RowBatch> next_batch(std::size_t i) {
    std::unique_lock lock(m_mutex);
    auto& lane = m_lanes[i];
    while (lane.ready.empty() && !lane.done && !failed_whole()) {
      wait(lock);
    }
    return take(lane);
  }

  /// A batch of any lane, round robin, with its lane's index; nullptr when every lane is done.
  std::unique_ptr<RowBatch> any_batch(std::size_t& lane_index) {
    std::unique_lock lock(m_mutex);
    while (!failed_whole()) {
      bool all_done = true;
      for (std::size_t k = 0; k < m_lanes.size(); ++k) {
        const std::size_t i = (m_turn + k) % m_lanes.size();
        if (!m_lanes[i].ready.empty()) {
          m_turn = i + 1;
          lane_index = i;
          return take(m_lanes[i]);
        }
        all_done = all_done && m_lanes[i].done;
      }
      if (all_done) {
        return nullptr;
      }
      wait(lock);
    }
    return nullptr;
  }

  void recycle(std::unique_ptr<RowBatch> batch) {
    if (batch) {
      batch->clear();
      std::lock_guard lock(m_mutex);
      m_free.push_back(std::move(batch));
    }
  }

  /// The columns, once the first shard described them (std::nullopt until then).
  std::optional<std::vector<db::Column>> columns() {
    std::lock_guard lock(m_mutex);
    return m_columns;
  }

  /// True once a shard failed and `partial` is off: the whole result has failed.
  bool failed() {
    std::lock_guard lock(m_mutex);
    return failed_whole();
  }

  const Lane& lane(std::size_t i) const { return m_lanes[i]; }
  long long affected() const { return m_affected.load(); }
  std::size_t lane_count() const { return m_lanes.size(); }

  /// Every failure so far, in the order they happened.
  std::vector<ShardFailure> failures() {
    std::lock_guard lock(m_mutex);
    return m_failures;
  }

private:
  class ShardSink final : public db::ResultSink {
  public:
    ShardSink(Gather& gather, Lane& lane) : m_gather(gather), m_lane(lane) {}
    void columns(const std::vector<db::Column>& columns) override { m_gather.describe(m_lane, columns); }
    void finished(long long affected) override { m_gather.m_affected += affected; }
    void row(const db::RowView& row) override {
      if (!m_batch) {
        m_batch = m_gather.fresh_batch();
      }
      m_batch->add(row);
      if (m_batch->rows() >= m_gather.m_options.batch_rows) {
        m_gather.push(m_lane, std::move(m_batch));
      }
    }
    void flush() {
      if (m_batch && m_batch->rows() > 0) {
        m_gather.push(m_lane, std::move(m_batch));
      }
    }

  private:
    Gather& m_gather;
    Lane& m_lane;
    std::unique_ptr<RowBatch> m_batch;
  };

  // Clears the lane's connection before the pooled connection it points into goes away.
  struct Attach {
    Attach(Gather& owner, Lane& reader, db::Connection* connection) : m_owner(owner), m_reader(reader) {
      std::lock_guard lock(m_owner.m_mutex);
      m_reader.connection = connection;
    }
    ~Attach() {
      std::lock_guard lock(m_owner.m_mutex);
      m_reader.connection = nullptr;
    }
    Attach(const Attach&) = delete;
    Attach& operator=(const Attach&) = delete;
    Gather& m_owner;
    Lane& m_reader;
  };

  // The shard's server gives up after the timeout too; the pooled session gets its bound back
  // (none) however the read ends.
  struct ServerTimeout {
    ServerTimeout(db::Connection& connection, std::chrono::milliseconds timeout)
        : m_connection(connection), m_armed(timeout.count() > 0) {
      if (m_armed) {
        m_connection.set_statement_timeout(timeout);
      }
    }
    ~ServerTimeout() {
      if (m_armed && m_connection.is_usable() && m_connection.transaction_depth() == 0) {
        try {
          m_connection.set_statement_timeout(std::chrono::milliseconds{0});
        } catch (const std::exception&) { // a broken session: the pool discards it anyway
        }
      }
    }
    ServerTimeout(const ServerTimeout&) = delete;
    ServerTimeout& operator=(const ServerTimeout&) = delete;
    db::Connection& m_connection;
    bool m_armed;
  };

  void read_shard(Lane& lane) {
    {
      std::lock_guard lock(m_mutex);
      if (m_stop) {
        lane.done = true;
        m_to_merge.notify_all();
        return;
      }
      lane.waiting_on_server = true;
      lane.waiting_since = Clock::now();
    }
    try {
      auto connection = lane.target->checkout();
      const Attach attach(*this, lane, &*connection);
      {
        std::lock_guard lock(m_mutex);
        if (m_stop || lane.timed_out) {
          throw Stopped{};
        }
      }
      const ServerTimeout bound(*connection, m_options.timeout);
      ShardSink sink(*this, lane);
      connection->stream_result(m_plan.shard_sql, sink, {m_options.read_only, m_options.fetch_rows});
      sink.flush();
      end(lane, std::nullopt);
    } catch (const Stopped&) {
      end(lane, std::nullopt);
    } catch (const std::exception& error) {
      end(lane, std::string(error.what()));
    }
  }

  void end(Lane& lane, std::optional<std::string> error) {
    {
      std::lock_guard lock(m_mutex);
      lane.done = true;
      lane.waiting_on_server = false;
      if (lane.timed_out) {
        error = "no answer within " + std::to_string(m_options.timeout.count()) + " ms";
      }
      if (error && (!m_stop || lane.timed_out)) {
        // A shard broken by the stop (another's failure, the limit reached) did not fail itself.
        m_failures.push_back({lane.target->shard, lane.target->label, *error, lane.timed_out});
        if (!m_options.partial) {
          m_stop = true;
        }
      }
    }
    m_to_merge.notify_all();
    m_to_shards.notify_all();
  }

  void describe(Lane& lane, const std::vector<db::Column>& columns) {
    std::lock_guard lock(m_mutex);
    if (!m_columns) {
      m_columns = columns;
      m_columns_from = lane.target->shard;
    } else if (m_columns->size() != columns.size()) {
      throw db::DbError("returned " + std::to_string(columns.size()) + " columns where shard " + m_columns_from +
                            " returned " + std::to_string(m_columns->size()),
                        {lane.target->label, m_plan.shard_sql, {}, 0, false, 0},
                        "the shards' schemas differ: run `grant status` to compare their migrations");
    }
  }

  std::unique_ptr<RowBatch> fresh_batch() {
    std::lock_guard lock(m_mutex);
    if (m_free.empty()) {
      return std::make_unique<RowBatch>();
    }
    auto batch = std::move(m_free.back());
    m_free.pop_back();
    return batch;
  }

  void push(Lane& lane, std::unique_ptr<RowBatch> batch) {
    std::unique_lock lock(m_mutex);
    lane.waiting_on_server = false;
    m_to_shards.wait(lock, [&] { return m_stop || lane.ready.size() < m_options.queued_batches; });
    if (m_stop) {
      throw Stopped{};
    }
    lane.ready.push_back(std::move(batch));
    lane.waiting_on_server = true;
    lane.waiting_since = Clock::now();
    lock.unlock();
    m_to_merge.notify_one();
  }

  std::unique_ptr<RowBatch> take(Lane& lane) {
    if (lane.ready.empty()) {
      return nullptr;
    }
    auto batch = std::move(lane.ready.front());
    lane.ready.pop_front();
    m_to_shards.notify_all();
    return batch;
  }

  bool failed_whole() const { return !m_options.partial && !m_failures.empty(); }

  // Waits for news from the shards, and gives up on those silent past the timeout.
  void wait(std::unique_lock<std::mutex>& lock) {
    const auto timeout = m_options.timeout;
    if (timeout.count() == 0) {
      m_to_merge.wait(lock);
      return;
    }
    m_to_merge.wait_for(lock, std::clamp(timeout / 4, std::chrono::milliseconds{10}, std::chrono::milliseconds{100}));
    const auto now = Clock::now();
    for (auto& lane : m_lanes) {
      if (!lane.done && lane.waiting_on_server && !lane.timed_out && now - lane.waiting_since > timeout) {
        lane.timed_out = true;
        if (lane.connection != nullptr) {
          lane.connection->interrupt(); // a server gone silent never answers the cancel either
        }
      }
    }
  }

  const MergePlan& m_plan;
  const ScatterOptions& m_options;
  std::vector<Lane> m_lanes;
  std::vector<std::thread> m_threads;
  std::atomic<std::size_t> m_next{0};
  std::atomic<long long> m_affected{0};

  std::mutex m_mutex;
  std::condition_variable m_to_merge;  ///< a batch is ready, or a lane ended
  std::condition_variable m_to_shards; ///< room in a lane's queue, or stop
  bool m_stop = false;
  std::size_t m_turn = 0;
  std::optional<std::vector<db::Column>> m_columns;
  std::string m_columns_from;
  std::vector<std::unique_ptr<RowBatch>> m_free;
  std::vector<ShardFailure> m_failures;
};

} // namespace grant::route::detail
