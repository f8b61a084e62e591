#pragma once

#include <grant/health/error_kind.hpp>
#include <grant/registry/endpoint.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace grant::db {
class Connection;
}

namespace grant::health {

/// Client sessions against the server's limit.
struct Connections {
  long long used = 0;
  long long max = 0;
};

/// What one look at one endpoint found. Fields the endpoint could not tell stay empty.
struct Probe {
  registry::Endpoint endpoint;
  bool reachable = false;
  std::optional<ProbeError> error; ///< set when the probe failed (then reachable may still be true)
  double connect_ms = 0;           ///< opening the session
  double query_ms = 0;             ///< the probe's statements once connected
  std::string server_version;      ///< "PostgreSQL 16.4", "SQLite 3.45.1"
  std::optional<bool> in_recovery; ///< what the server says (pg_is_in_recovery())
  bool role_mismatch = false;      ///< a configured writer in recovery, or a replica that is not
  std::optional<Connections> connections;
  std::optional<std::size_t> prepared_in_doubt; ///< grant's prepared transactions (`grant:` gids)
  /// Writer: pg_current_wal_lsn(); replica: pg_last_wal_replay_lsn() (empty when it replayed nothing).
  std::optional<std::uint64_t> wal_lsn;
  /// Writer: pg_current_wal_insert_lsn(), past commits not yet written out (synchronous_commit = off).
  std::optional<std::uint64_t> wal_insert_lsn;
  /// Replica: now() - pg_last_xact_replay_timestamp() in seconds (empty when nothing was replayed).
  std::optional<double> replay_age_seconds;
  std::optional<double> reported_lag_seconds; ///< MySQL: Seconds_Behind_Master (db::ServerFacts)
  std::optional<std::string> gtid_position;   ///< MariaDB: the writer's or the replica's (db::ServerFacts)
  /// SQLite: PRAGMA quick_check said "ok"; the file (and its folder, for the journal) is writable.
  std::optional<bool> integrity_ok;
  std::optional<bool> writable;
  /// The probe ran on a session kept from an earlier one (see ProbeSession): connect_ms is 0.
  bool session_reused = false;

  double latency_ms() const { return connect_ms + query_ms; }
};

/// A PostgreSQL session kept between probes of one endpoint (the health monitor keeps one per
/// endpoint), so that a check every second is one query rather than a new login. A probe takes
/// the session out while it runs and gives it back only when it answered, so a probe abandoned
/// on a hung server never shares it: the next one connects anew.
class ProbeSession {
public:
  ProbeSession();
  ~ProbeSession();
  ProbeSession(const ProbeSession&) = delete;
  ProbeSession& operator=(const ProbeSession&) = delete;

  std::unique_ptr<db::Connection> take();
  void give_back(std::unique_ptr<db::Connection> connection);

private:
  std::mutex m_mutex;
  std::unique_ptr<db::Connection> m_connection;
};

/// Looks at one endpoint: connects (libpq connect_timeout), bounds its statements by `timeout`
/// (statement_timeout), and never creates a missing SQLite file. With a `session`, first through
/// the session kept there (a broken one is replaced within the same probe), and a session that
/// answered is kept for the next probe. Failures are returned, not thrown. Blocks as long as the
/// driver does; see probe_within for the hard bound.
Probe probe(const registry::Endpoint& endpoint, std::chrono::milliseconds timeout, ProbeSession* session = nullptr);

/// probe() with a hard bound: the answer arrives within `timeout` whatever the endpoint does
/// (a server that accepts TCP and never answers included). A probe still blocked at the
/// deadline is reported as a timeout and left to finish on its own thread, which owns
/// everything it touches.
Probe probe_within(const registry::Endpoint& endpoint, std::chrono::milliseconds timeout,
                   std::shared_ptr<ProbeSession> session = nullptr);

} // namespace grant::health
