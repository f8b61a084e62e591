// What SQLite does its own way: sqlite_master, flock() beside the file, PRAGMA quick_check.
#include <grant/db/engine.hpp>

#include <grant/db/cancel.hpp>
#include <grant/db/connection.hpp>
#include <grant/util/strings.hpp>

#include <filesystem>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace grant::db {

namespace {

class FileLock final : public Lock {
public:
  explicit FileLock(int fd) : m_fd(fd) {}
  ~FileLock() override {
    flock(m_fd, LOCK_UN);
    close(m_fd);
  }

private:
  int m_fd;
};

std::unique_ptr<Lock> acquire_file(Connection& connection, const std::filesystem::path& database,
                                   std::chrono::milliseconds timeout, const OnLockWait& on_wait) {
  const auto path = database.string() + ".grant-lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw DbError("cannot open lock file " + util::in_quotes(path), {connection.target(), {}, {}, 0, false, 0},
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
        throw DbError("timed out after " + std::to_string(timeout.count()) + " ms waiting for the migration lock " +
                          path + ", held by " + holder,
                      {connection.target(), {}, {}, 0, false, 0},
                      "wait for the other run to finish, or raise --lock-timeout");
      }
      // flock has no timed wait; a short poll keeps the timeout honest.
      try {
        cancel::sleep_for(std::chrono::milliseconds(20), connection.target());
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

bool writable(const std::filesystem::path& file) {
  const auto folder = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  return ::access(file.c_str(), W_OK) == 0 && ::access(folder.c_str(), W_OK) == 0;
}

class SqliteEngine final : public Engine {
public:
  std::optional<long long> database_bytes(Connection& /*connection*/, const util::DatabaseUrl& url) const override {
    std::error_code error;
    const auto bytes = std::filesystem::file_size(url.sqlite_path, error);
    return error ? std::nullopt : std::optional<long long>(static_cast<long long>(bytes));
  }

  const EngineTraits& traits() const override { return sqlite_traits(); }
  Dialect dialect() const override { return Dialect::sqlite; }

  std::unique_ptr<Connection> connect(const util::DatabaseUrl& url, const ConnectOptions& options) const override {
    return connect_sqlite(url, options);
  }

  std::string now_expression() const override { return "strftime('%Y-%m-%dT%H:%M:%fZ','now')"; }
  std::string timestamp_type() const override { return "text"; }

  bool table_exists(Connection& connection, const std::string& /*quoted*/, const std::string& name) const override {
    return !connection.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1", {name}).empty();
  }

  std::vector<std::pair<std::string, std::string>> table_columns(Connection& connection,
                                                                 const std::string& table) const override {
    const auto rows = connection.query("SELECT name, lower(type) FROM pragma_table_info($1) ORDER BY cid", {table});
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& row : rows.rows) {
      out.emplace_back(row[0].value_or(""), row[1].value_or(""));
    }
    return out;
  }

  std::unique_ptr<Lock> migration_lock(Connection& connection, const util::DatabaseUrl& url,
                                       const std::string& /*table*/, std::chrono::milliseconds timeout,
                                       const OnLockWait& on_wait) const override {
    if (url.sqlite_path == ":memory:") {
      return std::make_unique<FileLock>(open("/dev/null", O_RDONLY | O_CLOEXEC));
    }
    return acquire_file(connection, url.sqlite_path, timeout, on_wait);
  }

  void server_facts(Connection& connection, const util::DatabaseUrl& url, ServerFacts& out) const override {
    out.server_version = connection.server_version();
    out.in_recovery = false;
    const auto check = connection.query("PRAGMA quick_check");
    std::string problems;
    for (const auto& row : check.rows) {
      const auto line = row.at(0).value_or("");
      if (line != "ok") {
        problems += (problems.empty() ? "" : "; ") + line;
      }
    }
    out.integrity_ok = problems.empty();
    if (!problems.empty()) {
      out.integrity_error = "PRAGMA quick_check: " + problems;
    }
    out.writable = writable(url.sqlite_path);
  }
};

} // namespace

const EngineTraits& sqlite_traits() {
  static const EngineTraits k_traits{.name = "sqlite", .display_name = "SQLite"};
  return k_traits;
}

const Engine& sqlite_engine() {
  static const SqliteEngine k_engine;
  return k_engine;
}

} // namespace grant::db
