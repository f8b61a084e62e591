#include <grant/migrate/lock.hpp>

namespace grant::migrate {

namespace {

// The engine's lock, held for as long as the run holds this.
class EngineLock final : public MigrationLock {
public:
  explicit EngineLock(std::unique_ptr<db::Lock> lock) : m_lock(std::move(lock)) {}

private:
  std::unique_ptr<db::Lock> m_lock;
};

} // namespace

std::unique_ptr<MigrationLock> MigrationLock::acquire(db::Connection& connection, const util::DatabaseUrl& url,
                                                      const std::string& table, std::chrono::milliseconds timeout,
                                                      const OnWait& on_wait) {
  return std::make_unique<EngineLock>(connection.engine().migration_lock(connection, url, table, timeout, on_wait));
}

} // namespace grant::migrate
