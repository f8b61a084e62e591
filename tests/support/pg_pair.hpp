#pragma once

#include "support/support.hpp"

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace grant::test {

/// A tiny PostgreSQL 15 writer with a streaming replica of its own, in a temporary folder, for
/// tests that stop servers or fill their connection slots: the shared servers of tests/servers.sh
/// must never be stopped, other tests run against them. Both listen on 127.0.0.1 only, with
/// max_connections = 12 and the superuser `grant` (scram-sha-256, a password of its own).
/// Binaries come from $GRANT_TEST_PG_BIN, else /usr/lib/postgresql/15/bin; run as root, they run
/// as the `postgres` OS user. Setup takes about 2 s; the destructor stops both and removes
/// everything.
class PgPair {
public:
  PgPair();
  ~PgPair();
  PgPair(const PgPair&) = delete;
  PgPair& operator=(const PgPair&) = delete;

  static constexpr int k_max_connections = 12;

  std::string writer_url() const;
  std::string replica_url() const;
  /// The password in both URLs, for assertions that it is never printed.
  static std::string password();

  /// Stops a server at once (pg_ctl -m immediate; the writer with -m fast, so that everything it
  /// wrote reaches the replica first). Nothing happens when it is already stopped.
  void stop_writer();
  void stop_replica();
  /// Starts a stopped server on its port and waits until it accepts connections.
  void start_writer();
  void start_replica();
  /// Promotes the replica to a writer of its own (pg_ctl promote) and waits until it leaves
  /// recovery. The pair cannot stream again afterwards: a test that promotes owns its pair.
  void promote_replica();
  /// Both running and the replica streaming from the writer, starting what is stopped;
  /// fails the test after 30 s.
  void ensure_running();

  bool writer_running() const { return m_writer_running; }
  bool replica_running() const { return m_replica_running; }

private:
  struct Server {
    std::string name;
    int port = 0;
    bool* running = nullptr;
  };

  /// Runs a PostgreSQL program (as the postgres OS user when root) in the pair's folder, its
  /// output appended to logs; throws with the log's tail when it fails.
  void setup();
  void stop_all() noexcept;
  void pg(const std::string& program, const std::vector<std::string>& args) const;
  void start(Server& server);
  void stop(Server& server, const std::string& mode);
  void start_on_free_port(Server& server);
  void write_port(const Server& server) const;
  bool streaming() const;
  std::string url(int port) const;

  TempDir m_dir;
  std::string m_bin;
  bool m_writer_running = false;
  bool m_replica_running = false;
  Server m_writer{"writer", 0, &m_writer_running};
  Server m_replica{"replica", 0, &m_replica_running};
};

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(15000));

} // namespace grant::test
