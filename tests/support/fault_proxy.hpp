#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace grant::test {

/// A TCP proxy in front of one PostgreSQL or MySQL server that fails the way networks do. It
/// forwards bytes both ways and reads the protocol the client sends (PostgreSQL: startup, simple
/// Query and Parse messages; MySQL: COM_QUERY packets); when a statement contains a rule's text (case-insensitive), the
/// rule fires:
///  - drop_before: the connection is cut before the server sees the statement;
///  - drop_after:  the server gets the statement (and runs it), the reply never reaches the
///                 client, and the connection is cut (a lost reply);
///  - stall:       nothing more goes either way, the connection stays open and silent until
///                 release() or the proxy's destruction.
/// The alternative, a fault hook inside grant, would ship in the release binary.
class FaultProxy {
public:
  enum class Action { drop_before, drop_after, stall };

  /// Proxies to the host:port of a postgres:// or mysql:// URL.
  explicit FaultProxy(const std::string& upstream_url);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  int port() const { return m_port; }
  /// `url` with its host:port replaced by the proxy's.
  std::string url() const;

  /// Fires `action` on the next `times` statements containing `match` (-1: every one); with
  /// `after`, only once a statement containing that text has gone through (on any connection).
  void add_rule(const std::string& match, Action action, int times = 1, const std::string& after = "");
  void clear_rules();
  /// Closes every stalled connection.
  void release();
  /// How many times rules fired, and connections accepted, so far.
  int fired() const { return m_fired; }
  int connections() const { return m_connections; }

private:
  struct Rule {
    std::string match; ///< lower case
    Action action;
    int times;
    std::string after; ///< lower case
    bool armed;
  };
  struct Link;

  void accept_loop();
  void serve(int client);
  /// The action for a statement, consuming one firing of the rule.
  bool match(const std::string& statement, Action& action);

  std::string m_upstream_url;
  bool m_mysql = false; ///< a mysql:// or mariadb:// URL: the MySQL client protocol
  std::string m_host;
  int m_upstream_port = 0;
  int m_listen = -1;
  int m_port = 0;
  std::atomic<bool> m_stop{false};
  std::atomic<int> m_release_generation{0};
  std::atomic<int> m_fired{0};
  std::atomic<int> m_connections{0};
  std::mutex m_mutex;
  std::vector<Rule> m_rules;
  std::thread m_acceptor;
  std::vector<std::thread> m_links;
};

} // namespace grant::test
