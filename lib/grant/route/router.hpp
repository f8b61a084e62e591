#pragma once

#include <grant/config/config.hpp>
#include <grant/registry/registry.hpp>
#include <grant/route/balancer.hpp>
#include <grant/route/read_your_writes.hpp>
#include <grant/route/session.hpp>
#include <grant/shard/resolver.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

namespace grant::route {

struct RouterOptions {
  /// The balancers' health source; empty: breakers alone decide (Balancer without a monitor).
  std::shared_ptr<HealthSource> health;
  /// The options every balancer is created with (strategy, lag threshold, breaker, on_fallback).
  BalancerOptions balancer;
  /// Reads a `lookup` resolver's table; default: shard::table_loader over the router's registry.
  shard::LookupLoader lookup_loader;
  /// Default: each database's `routing.read_your_writes` and `routing.read_your_writes_ms`.
  std::optional<config::ReadYourWrites> read_your_writes;
  std::optional<std::chrono::milliseconds> read_your_writes_window;
};

/// Counters since construction (relaxed atomics: for tests, logs and metrics).
struct RouterStats {
  std::uint64_t writes_noted = 0;   ///< writing scopes, across_shards participants and note_write calls
  std::uint64_t kept_on_writer = 0; ///< reads read-your-writes sent to the writer
  std::uint64_t replay_checks =
      0; ///< replay position queries on a replica (pg_last_wal_replay_lsn(), @@gtid_slave_pos)
};

/// Options of one cross-shard transaction.
struct CrossShardOptions {
  std::string label = "app"; ///< goes into the prepared transactions' ids (letters, digits, _ and -)
  int jobs = 0;              ///< participants worked on at once; 0: all
  /// The participating shard whose server keeps the decision log; empty: the first of them in
  /// config order (as for migrate --atomic).
  std::string coordinator;
};

/// Rails' `connected_to` for C++: scopes that run a function on a connection to the right
/// endpoint of a database (or shard) for a role. Writing scopes go to the writer; reading scopes
/// go through a Balancer (one per database/shard, created lazily) and run with writes prevented
/// (PreventWrites), so a read that falls back to the writer cannot write there either. After a
/// write, reads of that database/shard stay on the writer until a replica has replayed it (lsn
/// mode) or for a time window (window mode): see RecentWrites and docs/routing.md. Thread-safe:
/// any number of threads may run scopes at once, each on its own pooled connection.
class Router {
public:
  explicit Router(registry::Registry& registry, RouterOptions options = {});
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  /// Runs `fn(Session&)` on a connection to `database` (its shard `shard`, required for a sharded
  /// database, empty otherwise) for `role`, and returns what fn returns. Throws ConfigError for
  /// unknown names, DbError when no connection can be had, and whatever fn throws.
  template <class F>
  auto with_connection(const std::string& database, registry::Role role, const std::string& shard, F&& fn)
      -> std::invoke_result_t<F&, Session&> {
    using Result = std::invoke_result_t<F&, Session&>;
    if constexpr (std::is_void_v<Result>) {
      run(database, role, shard, [&](Session& session) { fn(session); });
    } else {
      std::optional<Result> result;
      run(database, role, shard, [&](Session& session) { result.emplace(fn(session)); });
      return std::move(*result);
    }
  }
  /// with_connection on the shard that owns `key` (the database's resolver, built once).
  template <class F>
  auto with_key(const std::string& database, const shard::Key& key, registry::Role role, F&& fn)
      -> std::invoke_result_t<F&, Session&> {
    return with_connection(database, role, shard_for(database, key), std::forward<F>(fn));
  }

  /// Rails' `while_preventing_writes`: every scope this thread opens inside `fn`, writing ones
  /// too, runs with writes prevented. Nests.
  void while_preventing_writes(const std::function<void()>& fn);
  /// True inside while_preventing_writes on this thread.
  static bool preventing_writes();

  /// Writes to several shards of `database` (`shards`, empty: all) all or none, by two-phase
  /// commit (twophase::DistributedTransaction): `work(shard, connection)` runs on every shard in
  /// parallel inside a transaction that must not be committed or rolled back by `work`; one of
  /// them coordinates (its server keeps the decision log; CrossShardOptions::coordinator). Before the decision is
  /// recorded any failure rolls every shard back and is rethrown; after it, a shard that cannot
  /// commit stays prepared and twophase::InDoubtError says which (`grant recover` finishes them).
  void across_shards(const std::string& database, const std::vector<std::string>& shards,
                     const std::function<void(const std::string& shard, db::Connection& connection)>& work,
                     const CrossShardOptions& options = {});

  /// Records a write made outside the router, so that reads of `database`/`shard` see it. Call it
  /// after the write committed. With a connection to that writer, outside any db::Transaction
  /// (lsn mode), its log position is read from it (one query: the WAL insert position, or
  /// MariaDB's @@gtid_binlog_pos); without one, or where it cannot be read, the window applies.
  void note_write(const std::string& database, const std::string& shard = {}, db::Connection* writer = nullptr);

  /// The shard owning `key` in `database`.
  const std::string& shard_for(const std::string& database, const shard::Key& key);
  /// The balancer of `database`/`shard`, created on first use.
  Balancer& balancer(const std::string& database, const std::string& shard = {});
  registry::Registry& registry() { return m_registry; }
  RouterStats stats() const;
  /// Databases/shards whose reads are held on the writer (or checked) for a recent write.
  std::size_t pending_writes() const { return m_writes.size(); }

private:
  void run(const std::string& database, registry::Role role, const std::string& shard,
           const std::function<void(Session&)>& fn);
  void run_writing(Balancer& balancer, const std::function<void(Session&)>& fn);
  void run_reading(Balancer& balancer, const std::function<void(Session&)>& fn);
  /// True when replica `index` of `balancer` has replayed `wanted` (the monitor's view, else one
  /// query on `connection`).
  bool replayed(Balancer& balancer, std::size_t index, const Position& wanted, db::Connection& connection);
  void noted(Balancer& balancer, db::Connection* writer);
  config::ReadYourWrites mode(const std::string& database) const;
  std::chrono::milliseconds window(const std::string& database) const;
  void ensure_coordinator(db::Connection& connection, const registry::Endpoint& endpoint);

  registry::Registry& m_registry;
  RouterOptions m_options;
  mutable std::mutex m_mutex;
  std::map<std::string, std::unique_ptr<Balancer>> m_balancers;
  std::map<std::string, std::unique_ptr<shard::Resolver>> m_resolvers;
  std::set<std::string> m_prepared_checked;   ///< endpoints known to take prepared transactions
  std::set<std::string> m_coordinators_ready; ///< endpoints whose decision log exists
  RecentWrites m_writes;
  std::atomic<std::uint64_t> m_writes_noted{0};
  std::atomic<std::uint64_t> m_kept_on_writer{0};
  std::atomic<std::uint64_t> m_replay_checks{0};
};

} // namespace grant::route
