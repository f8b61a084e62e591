#include <grant/migrate/lock.hpp>

#include <grant/db/cancel.hpp>
#include <grant/db/sqlstate.hpp>
#include <grant/util/strings.hpp>

#include <xxhash.h>

#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace grant::migrate {

namespace {

class AdvisoryLock final : public MigrationLock {
public:
  AdvisoryLock(db::Connection& connection, std::string key) : m_connection(connection), m_key(std::move(key)) {}
  ~AdvisoryLock() override {
    const db::cancel::Shield cleanup; // released even after Ctrl-C
    try {
      if (m_connection.is_usable()) {
        m_connection.query("SELECT pg_advisory_unlock($1)", {m_key});
      }
    } catch (...) {
      // The session ending releases the lock anyway.
    }
  }

private:
  db::Connection& m_connection;
  std::string m_key;
};

class FileLock final : public MigrationLock {
public:
  explicit FileLock(int fd) : m_fd(fd) {}
  ~FileLock() override {
    flock(m_fd, LOCK_UN);
    close(m_fd);
  }

private:
  int m_fd;
};

std::unique_ptr<MigrationLock> acquire_advisory(db::Connection& connection, const std::string& table,
                                                std::chrono::milliseconds timeout, const MigrationLock::OnWait& on_wait) {
  const auto database = connection.query("SELECT current_database()", {}).scalar().value_or("");
  const std::string name = "grant:migrate:" + database + ":" + table;
  const auto key = static_cast<long long>(XXH64(name.data(), name.size(), 0));
  const std::string key_text = std::to_string(key);
  if (connection.query("SELECT pg_try_advisory_lock($1)", {key_text}).scalar() == db::Value{"t"}) {
    return std::make_unique<AdvisoryLock>(connection, key_text);
  }
  const auto unsigned_key = static_cast<unsigned long long>(key);
  const auto holders = connection.query(
      "SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local'), "
      "to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS') FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
      "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid "
      "AND l.objsubid = 1",
      {std::to_string(unsigned_key >> 32), std::to_string(unsigned_key & 0xffffffffULL)});
  std::string holder = "another session";
  if (!holders.empty()) {
    const auto& row = holders.rows.front();
    holder = "pid " + row[0].value_or("?") + " (" + row[1].value_or("") + " from " + row[2].value_or("?") +
             ", connected " + row[3].value_or("?") + ")";
  }
  if (on_wait) {
    on_wait(holder);
  }
  connection.execute("SET lock_timeout = " + std::to_string(timeout.count()));
  // The wait for the lock is as long as the caller allows (forever without a timeout).
  const auto reply = connection.reply_timeout();
  const db::ReplyTimeoutScope waiting(connection, timeout.count() > 0 && reply.count() > 0 ? timeout + reply
                                                                                          : std::chrono::milliseconds(0));
  try {
    connection.query("SELECT pg_advisory_lock($1)", {key_text});
  } catch (const db::DbError& error) {
    if (error.sqlstate() == db::sqlstate::k_lock_not_available) {
      throw db::DbError("timed out after " + std::to_string(timeout.count()) + " ms waiting for the migration lock of " +
                            connection.target() + ", held by " + holder,
                        error.details(), "wait for the other run to finish, or raise --lock-timeout");
    }
    throw;
  }
  connection.execute("RESET lock_timeout"); // back to what the URL or role set, not "no limit"
  return std::make_unique<AdvisoryLock>(connection, key_text);
}

std::unique_ptr<MigrationLock> acquire_file(db::Connection& connection, const std::filesystem::path& database,
                                            std::chrono::milliseconds timeout, const MigrationLock::OnWait& on_wait) {
  const auto path = database.string() + ".grant-lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw db::DbError("cannot open lock file " + util::in_quotes(path), {connection.target(), {}, {}, 0, false, 0},
                      "check that the database folder is writable");
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buffer[256] = {};
    const auto n = pread(fd, buffer, sizeof buffer - 1, 0);
    const std::string holder = n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "another process";
    if (on_wait) {
      on_wait(holder);
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (timeout.count() > 0 && std::chrono::steady_clock::now() > deadline) {
        close(fd);
        throw db::DbError("timed out after " + std::to_string(timeout.count()) + " ms waiting for the migration lock " +
                              path + ", held by " + holder,
                          {connection.target(), {}, {}, 0, false, 0},
                          "wait for the other run to finish, or raise --lock-timeout");
      }
      // flock has no timed wait; a short poll keeps the timeout honest.
      try {
        db::cancel::sleep_for(std::chrono::milliseconds(20), connection.target());
      } catch (...) {
        close(fd);
        throw;
      }
    }
  }
  char host[128] = {};
  gethostname(host, sizeof host - 1);
  const std::string me = "pid " + std::to_string(getpid()) + " on " + host;
  if (ftruncate(fd, 0) == 0) {
    [[maybe_unused]] const auto written = pwrite(fd, me.data(), me.size(), 0);
  }
  return std::make_unique<FileLock>(fd);
}

} // namespace

std::unique_ptr<MigrationLock> MigrationLock::acquire(db::Connection& connection, const util::DatabaseUrl& url,
                                                      const std::string& table, std::chrono::milliseconds timeout,
                                                      const OnWait& on_wait) {
  if (connection.dialect() == db::Dialect::postgres) {
    return acquire_advisory(connection, table, timeout, on_wait);
  }
  if (url.sqlite_path == ":memory:") {
    return std::unique_ptr<MigrationLock>(new FileLock(open("/dev/null", O_RDONLY | O_CLOEXEC)));
  }
  return acquire_file(connection, url.sqlite_path, timeout, on_wait);
}

} // namespace grant::migrate
