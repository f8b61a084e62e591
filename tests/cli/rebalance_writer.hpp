// The rebalance tests' writer: an application still on the old config, writing while grant
// rebalances (rebalance_rig.hpp includes this; the bodies are in rebalance_writer.cpp).
#pragma once

#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace rb {

class Rig;

/// An application still on the old config: inserts, updates and deletes orders and items of
/// random users, each in its own transaction on the shard the old config picks, at most
/// `ops_per_sec` a second, and records what committed in the model. Without `new_children`,
/// items are only written for orders that existed when the writer started (a new order gets
/// none): the copy then never meets an item whose order exists only in the captured changes.
class Writer {
public:
  Writer(Rig& rig, unsigned seed, std::int64_t max_user, bool new_children = true, int ops_per_sec = 400);
  ~Writer() { stop(); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void stop();
  int ops() const { return m_ops; }
  /// From now on, no items for orders created after the writer started.
  void stop_new_children() { m_new_children = false; }
  /// From now on, only users whose shard is the same under both configs: writes that an
  /// application on either config makes alike, as applications do during cleanup.
  void only_staying_users() { m_staying = true; }
  /// Writes the fence refused (SQLSTATE GR001).
  int fenced() const { return m_fenced; }
  /// Transactions aborted as deadlock victims (SQLSTATE 40P01); an application retries them.
  int deadlocks() const { return m_deadlocks; }
  /// Waits (polling) until at least `n` writes committed, up to `timeout`.
  bool wait_ops(int n, std::chrono::seconds timeout = std::chrono::seconds(30)) const;
  std::vector<std::string> errors() const;
  /// The longest a write (one transaction, committed or refused) took: how long grant blocked it.
  double longest_ms() const { return m_longest_ms; }

private:
  void run();
  pqxx::connection& connection(int shard);
  static std::vector<std::int64_t> users_of(Rig& rig);
  void step();

  Rig& m_rig;
  std::mt19937 m_rng;
  std::int64_t m_max_user;
  std::atomic<bool> m_new_children;
  std::atomic<bool> m_staying{false};
  std::int64_t m_first_new_id;
  std::chrono::microseconds m_period;
  std::vector<std::int64_t> m_users; ///< users the writer may pick again
  std::map<int, std::unique_ptr<pqxx::connection>> m_connections;
  std::atomic<bool> m_stop{false};
  std::atomic<bool> m_failed{false};
  std::atomic<int> m_ops{0};
  std::atomic<int> m_fenced{0};
  std::atomic<int> m_deadlocks{0};
  std::atomic<double> m_longest_ms{0};
  mutable std::mutex m_errors_mutex;
  std::vector<std::string> m_errors;
  std::thread m_thread; // last: starts once the rest is built
};

} // namespace rb
