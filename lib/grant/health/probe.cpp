#include <grant/health/probe.hpp>

#include <grant/db/connection.hpp>
#include <grant/migrate/atomic.hpp>
#include <grant/migrate/runner.hpp>
#include <grant/health/lsn.hpp>
#include <grant/util/strings.hpp>
#include <grant/util/url.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include <unistd.h>

namespace grant::health {

namespace {

using Clock = std::chrono::steady_clock;

// libpq's messages run over several lines ("...failed: Connection refused\n\tIs the server
// running..."): one line reads better in a table and a log.
std::string one_line(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const bool space = c == '\n' || c == '\t' || c == '\r' || c == ' ';
    if (!space) {
      out += c;
    } else if (!out.empty() && out.back() != ' ') {
      out += ' ';
    }
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return out;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// One round trip for everything the server can say about itself. The WAL position is the
// writer's current one, or what a server in recovery has replayed.
constexpr std::string_view k_facts_sql =
    "SELECT current_setting('server_version'), pg_is_in_recovery(), "
    "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'), "
    "current_setting('max_connections'), "
    "(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text, "
    "extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8";

void probe_postgres(db::Connection& connection, Probe& out) {
  const auto facts = connection.query(k_facts_sql);
  const auto& row = facts.rows.at(0);
  out.server_version = "PostgreSQL " + row.at(0).value_or("?");
  out.in_recovery = row.at(1).value_or("f") == "t";
  out.connections = Connections{std::stoll(row.at(2).value_or("0")), std::stoll(row.at(3).value_or("0"))};
  if (row.at(4)) {
    out.wal_lsn = parse_lsn(*row.at(4));
  }
  if (row.at(5)) {
    out.replay_age_seconds = std::stod(*row.at(5));
  }
  const bool writer = out.endpoint.role == registry::Role::writing;
  out.role_mismatch = writer == *out.in_recovery;
  if (writer) {
    // Only the database's own prepared transactions: a replica mirrors its writer's.
    config::Database database;
    database.name = out.endpoint.database;
    out.prepared_in_doubt = migrate::count_in_doubt(connection, migrate::Target{&database, out.endpoint});
  }
}

bool writable(const std::filesystem::path& file) {
  const auto folder = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  return ::access(file.c_str(), W_OK) == 0 && ::access(folder.c_str(), W_OK) == 0;
}

void probe_sqlite(db::Connection& connection, Probe& out) {
  out.server_version = connection.server_version();
  out.in_recovery = false;
  out.role_mismatch = out.endpoint.role != registry::Role::writing;
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
    out.error = ProbeError{ErrorKind::other, "PRAGMA quick_check: " + problems};
  }
  out.writable = writable(out.endpoint.url.sqlite_path);
}

} // namespace

ProbeSession::ProbeSession() = default;
ProbeSession::~ProbeSession() = default;

std::unique_ptr<db::Connection> ProbeSession::take() {
  const std::lock_guard lock(m_mutex);
  return std::move(m_connection);
}

void ProbeSession::give_back(std::unique_ptr<db::Connection> connection) {
  const std::lock_guard lock(m_mutex);
  m_connection = std::move(connection);
}

namespace {

// One look through `connection` (connected already): fills the facts and query_ms.
void look(db::Connection& connection, Probe& out, std::chrono::milliseconds timeout, bool fresh) {
  const auto start = Clock::now();
  if (out.endpoint.url.scheme == util::UrlScheme::postgres) {
    if (fresh) {
      connection.set_statement_timeout(timeout);
    }
    probe_postgres(connection, out);
  } else {
    probe_sqlite(connection, out);
  }
  out.query_ms = ms_since(start);
  out.reachable = true;
}

void record_failure(Probe& out, const std::exception& error) {
  const auto* db_error = dynamic_cast<const db::DbError*>(&error);
  out.error = ProbeError{classify_error(error.what(), db_error ? db_error->sqlstate() : std::string_view()),
                         one_line(util::redact_secrets(error.what()))};
  if (out.endpoint.url.scheme == util::UrlScheme::postgres) {
    out.reachable = false;
  }
}

} // namespace

Probe probe(const registry::Endpoint& endpoint, std::chrono::milliseconds timeout, ProbeSession* session) {
  Probe out;
  out.endpoint = endpoint;
  if (endpoint.url.sqlite_file_missing()) {
    // Opening would create it: a health check writes nothing.
    out.error = ProbeError{ErrorKind::other, "no such file: " + endpoint.url.sqlite_path.string()};
    return out;
  }
  // A kept session first (PostgreSQL only: a SQLite handle would hide a deleted file); should it
  // have broken (a restart, a dropped connection), the probe starts over on a new one.
  const bool keep = session != nullptr && endpoint.url.scheme == util::UrlScheme::postgres;
  if (auto kept = keep ? session->take() : nullptr) {
    try {
      look(*kept, out, timeout, false);
      out.session_reused = true;
      session->give_back(std::move(kept));
      return out;
    } catch (const std::exception&) {
      out = Probe{};
      out.endpoint = endpoint;
    }
  }
  const auto start = Clock::now();
  try {
    db::ConnectOptions options;
    options.target = endpoint.label();
    options.connect_timeout_ms = static_cast<int>(timeout.count());
    options.application_name = "grant health";
    auto connection = db::connect(endpoint.url, options);
    out.connect_ms = ms_since(start);
    look(*connection, out, timeout, true);
    if (keep) {
      session->give_back(std::move(connection));
    }
  } catch (const std::exception& error) {
    record_failure(out, error);
  }
  return out;
}

Probe probe_within(const registry::Endpoint& endpoint, std::chrono::milliseconds timeout,
                   std::shared_ptr<ProbeSession> session) {
  struct Shared {
    std::mutex mutex;
    std::condition_variable done_cv;
    std::optional<Probe> result;
  };
  const auto deadline = Clock::now() + timeout;
  auto shared = std::make_shared<Shared>();
  // The worker owns copies of everything: it may outlive this call against a hung server.
  std::thread worker([shared, endpoint, timeout, session = std::move(session)] {
    auto result = probe(endpoint, timeout, session.get());
    const std::lock_guard lock(shared->mutex);
    shared->result = std::move(result);
    shared->done_cv.notify_all();
  });
  std::unique_lock lock(shared->mutex);
  if (shared->done_cv.wait_until(lock, deadline, [&] { return shared->result.has_value(); })) {
    lock.unlock();
    worker.join(); // finishing: joined, so no thread outlives an answered probe
    return std::move(*shared->result);
  }
  lock.unlock();
  worker.detach();
  Probe out;
  out.endpoint = endpoint;
  out.error = ProbeError{ErrorKind::timeout, endpoint.label() + " (" + endpoint.url.redacted() +
                                                  "): no answer within " + std::to_string(timeout.count()) + " ms"};
  out.connect_ms = static_cast<double>(timeout.count());
  return out;
}

} // namespace grant::health
