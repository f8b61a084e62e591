#include <grant/health/probe.hpp>

#include <grant/db/connection.hpp>
#include <grant/health/lsn.hpp>
#include <grant/twophase/recovery.hpp>
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

void take_facts(const db::ServerFacts& facts, Probe& out) {
  out.server_version = facts.server_version;
  out.in_recovery = facts.in_recovery;
  if (facts.connections_used && facts.connections_max) {
    out.connections = Connections{*facts.connections_used, *facts.connections_max};
  }
  if (facts.wal_position) {
    out.wal_lsn = parse_lsn(*facts.wal_position);
  }
  if (facts.wal_insert_position) {
    out.wal_insert_lsn = parse_lsn(*facts.wal_insert_position);
  }
  out.replay_age_seconds = facts.replay_age_seconds;
  out.reported_lag_seconds = facts.reported_lag_seconds;
  out.gtid_position = facts.gtid_position;
  if (facts.in_recovery) {
    out.role_mismatch = (out.endpoint.role == registry::Role::writing) == *facts.in_recovery;
  }
  out.integrity_ok = facts.integrity_ok;
  if (facts.integrity_ok == false) {
    out.error = ProbeError{ErrorKind::other, facts.integrity_error};
  }
  out.writable = facts.writable;
}

// What the server says about itself, from its engine (what it told before a failure too), and
// grant's in-doubt transactions.
void look_at_server(db::Connection& connection, Probe& out) {
  db::ServerFacts facts;
  try {
    connection.engine().server_facts(connection, out.endpoint.url, facts);
  } catch (...) {
    take_facts(facts, out);
    throw;
  }
  take_facts(facts, out);
  if (out.endpoint.role == registry::Role::writing && connection.engine().traits().prepared_transactions) {
    // Only the database's own prepared transactions: a replica mirrors its writer's.
    out.prepared_in_doubt = twophase::count_in_doubt(connection, out.endpoint.database);
  }
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
  if (fresh && connection.engine().traits().server_timeouts) {
    connection.set_statement_timeout(timeout);
  }
  look_at_server(connection, out);
  out.query_ms = ms_since(start);
  out.reachable = true;
}

void record_failure(Probe& out, const std::exception& error) {
  const auto* db_error = dynamic_cast<const db::DbError*>(&error);
  out.error = ProbeError{classify_error(error.what(), db_error ? db_error->sqlstate() : std::string_view()),
                         one_line(util::redact_secrets(error.what()))};
  out.reachable = false; // set only once a look succeeded, so already false here
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
  const bool keep = session != nullptr && db::traits_for(endpoint.url).keeps_probe_session;
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
