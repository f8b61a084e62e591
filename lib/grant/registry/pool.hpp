#pragma once

#include <grant/db/connection.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace grant::registry {

struct PoolOptions {
  std::size_t max_size = 5;
  std::size_t max_idle = 5;
  std::chrono::milliseconds checkout_timeout{5000};
  int retry_attempts = 1; ///< extra connect attempts after the first fails
  std::chrono::milliseconds retry_delay{200};
};

struct PoolStats {
  std::size_t in_use = 0;
  std::size_t idle = 0;
  std::uint64_t checkouts = 0;
  std::uint64_t created = 0;
  std::uint64_t waits = 0;     ///< checkouts that had to wait for a connection
  std::uint64_t timeouts = 0;  ///< checkouts that gave up
  std::uint64_t discarded = 0; ///< broken connections dropped instead of reused
  std::uint64_t connect_failures = 0;
};

class Pool;

/// A checked-out connection; goes back to its pool when destroyed.
class PooledConnection {
public:
  PooledConnection() = default;
  PooledConnection(PooledConnection&& other) noexcept;
  PooledConnection& operator=(PooledConnection&& other) noexcept;
  ~PooledConnection();

  db::Connection& operator*() const { return *m_connection; }
  db::Connection* operator->() const { return m_connection.get(); }
  explicit operator bool() const { return static_cast<bool>(m_connection); }
  /// Closes the connection instead of returning it (e.g. after a session-level change).
  void discard();

private:
  friend class Pool;
  PooledConnection(Pool* pool, std::unique_ptr<db::Connection> connection)
      : m_pool(pool), m_connection(std::move(connection)) {}
  void release() noexcept;

  Pool* m_pool = nullptr;
  std::unique_ptr<db::Connection> m_connection;
};

/// A bounded, thread-safe pool of connections to one endpoint. Waiting checkouts sleep on a
/// condition variable; a broken or mid-transaction connection is discarded, never handed out.
class Pool {
public:
  using Factory = std::function<std::unique_ptr<db::Connection>()>;

  Pool(std::string target, Factory factory, PoolOptions options);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  /// A connection, waiting up to the checkout timeout when all are in use. Throws DbError when
  /// the timeout passes or every connect attempt fails.
  PooledConnection checkout();
  PoolStats stats() const;
  /// Connections checked out right now, without taking the pool's lock (least-connections
  /// balancing reads it on every pick); may lag stats() by a moment.
  std::size_t in_use() const noexcept { return m_in_use.load(std::memory_order_relaxed); }
  const std::string& target() const { return m_target; }
  const PoolOptions& options() const { return m_options; }

private:
  friend class PooledConnection;
  void checkin(std::unique_ptr<db::Connection> connection) noexcept;
  std::unique_ptr<db::Connection> connect_with_retry();

  std::string m_target;
  Factory m_factory;
  PoolOptions m_options;
  mutable std::mutex m_mutex;
  std::condition_variable m_available;
  std::deque<std::unique_ptr<db::Connection>> m_idle;
  std::size_t m_open = 0; ///< idle + in use + being created
  PoolStats m_stats;
  std::atomic<std::size_t> m_in_use{0}; ///< mirrors m_stats.in_use
};

} // namespace grant::registry
