#include <grant/registry/pool.hpp>

#include <thread>
#include <vector>

namespace grant::registry {

PooledConnection::PooledConnection(PooledConnection&& other) noexcept
    : m_pool(other.m_pool), m_connection(std::move(other.m_connection)) {
  other.m_pool = nullptr;
}

PooledConnection& PooledConnection::operator=(PooledConnection&& other) noexcept {
  if (this != &other) {
    release();
    m_pool = other.m_pool;
    m_connection = std::move(other.m_connection);
    other.m_pool = nullptr;
  }
  return *this;
}

PooledConnection::~PooledConnection() {
  release();
}

void PooledConnection::release() noexcept {
  if (m_pool != nullptr && m_connection) {
    m_pool->checkin(std::move(m_connection));
  }
  m_pool = nullptr;
}

void PooledConnection::discard() {
  if (m_pool != nullptr && m_connection) {
    m_connection.reset();
    m_pool->checkin(nullptr);
  }
  m_pool = nullptr;
}

Pool::Pool(std::string target, Factory factory, PoolOptions options)
    : m_target(std::move(target)), m_factory(std::move(factory)), m_options(options) {
  if (m_options.max_size == 0) {
    m_options.max_size = 1;
  }
}

Pool::~Pool() = default;

PooledConnection Pool::checkout() {
  std::unique_lock lock(m_mutex);
  ++m_stats.checkouts;
  const auto deadline = std::chrono::steady_clock::now() + m_options.checkout_timeout;
  bool waited = false;
  // An idle session that died meanwhile (a server restart, a proxy that cut it) is closed and
  // its slot reused: the caller gets a new connection, not a first statement that fails.
  std::vector<std::unique_ptr<db::Connection>> dead;
  const auto drop_dead_idle = [&] {
    while (!m_idle.empty() && !m_idle.back()->check_idle()) {
      dead.push_back(std::move(m_idle.back()));
      m_idle.pop_back();
      --m_open;
      ++m_stats.discarded;
    }
  };
  drop_dead_idle();
  while (m_idle.empty() && m_open >= m_options.max_size) {
    if (!waited) {
      waited = true;
      ++m_stats.waits;
    }
    if (m_available.wait_until(lock, deadline) == std::cv_status::timeout && m_idle.empty() &&
        m_open >= m_options.max_size) {
      ++m_stats.timeouts;
      throw db::DbError(
          "no connection to " + m_target + " became free within " + std::to_string(m_options.checkout_timeout.count()) +
              " ms (pool size " + std::to_string(m_options.max_size) + ", all in use)",
          {m_target, {}, {}, 0, false, 0}, "raise pool.size or pool.checkout_timeout_ms, or run fewer jobs at once");
    }
    drop_dead_idle();
  }
  if (!m_idle.empty()) {
    auto connection = std::move(m_idle.back());
    m_idle.pop_back();
    ++m_stats.in_use;
    m_in_use.store(m_stats.in_use, std::memory_order_relaxed);
    lock.unlock();
    dead.clear();
    return PooledConnection(this, std::move(connection));
  }
  // Reserve the slot, then connect without holding the lock.
  ++m_open;
  lock.unlock();
  dead.clear(); // closing may talk to the server
  std::unique_ptr<db::Connection> connection;
  try {
    connection = connect_with_retry();
  } catch (...) {
    lock.lock();
    --m_open;
    lock.unlock();
    m_available.notify_one();
    throw;
  }
  lock.lock();
  ++m_stats.created;
  ++m_stats.in_use;
  m_in_use.store(m_stats.in_use, std::memory_order_relaxed);
  return PooledConnection(this, std::move(connection));
}

std::unique_ptr<db::Connection> Pool::connect_with_retry() {
  for (int attempt = 0;; ++attempt) {
    try {
      return m_factory();
    } catch (const db::DbError&) {
      {
        std::lock_guard guard(m_mutex);
        ++m_stats.connect_failures;
      }
      if (attempt >= m_options.retry_attempts) {
        throw;
      }
      std::this_thread::sleep_for(m_options.retry_delay);
    }
  }
}

void Pool::checkin(std::unique_ptr<db::Connection> connection) noexcept {
  // A connection still inside a transaction, known broken, or whose failed COMMIT could not be
  // rolled back would leak state to the next owner.
  const bool reusable =
      connection && connection->is_usable() && !connection->is_abandoned() && connection->transaction_depth() == 0;
  std::unique_ptr<db::Connection> to_close;
  {
    std::lock_guard guard(m_mutex);
    --m_stats.in_use;
    m_in_use.store(m_stats.in_use, std::memory_order_relaxed);
    if (reusable && m_idle.size() < m_options.max_idle) {
      m_idle.push_back(std::move(connection));
    } else {
      if (!reusable) {
        ++m_stats.discarded;
      }
      --m_open;
      to_close = std::move(connection);
    }
  }
  m_available.notify_one();
  // Closing may talk to the server: do it outside the lock.
  to_close.reset();
}

PoolStats Pool::stats() const {
  std::lock_guard guard(m_mutex);
  PoolStats out = m_stats;
  out.idle = m_idle.size();
  return out;
}

} // namespace grant::registry
