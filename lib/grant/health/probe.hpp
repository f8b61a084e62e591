#pragma once

#include <grant/health/error_kind.hpp>
#include <grant/registry/endpoint.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

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
  /// Replica: now() - pg_last_xact_replay_timestamp() in seconds (empty when nothing was replayed).
  std::optional<double> replay_age_seconds;
  /// SQLite: PRAGMA quick_check said "ok"; the file (and its folder, for the journal) is writable.
  std::optional<bool> integrity_ok;
  std::optional<bool> writable;

  double latency_ms() const { return connect_ms + query_ms; }
};

/// Looks at one endpoint: connects (libpq connect_timeout), bounds its statements by `timeout`
/// (statement_timeout), and never creates a missing SQLite file. Failures are returned, not
/// thrown. Blocks as long as the driver does; see probe_within for the hard bound.
Probe probe(const registry::Endpoint& endpoint, std::chrono::milliseconds timeout);

/// probe() with a hard bound: the answer arrives within `timeout` whatever the endpoint does
/// (a server that accepts TCP and never answers included). A probe still blocked at the
/// deadline is reported as a timeout and left to finish on its own thread, which owns
/// everything it touches.
Probe probe_within(const registry::Endpoint& endpoint, std::chrono::milliseconds timeout);

} // namespace grant::health
