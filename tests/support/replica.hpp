#pragma once

#include <string>

namespace grant::test {

/// Pauses WAL replay on a streaming replica for its lifetime, and always resumes it: other tests
/// share the replica. Returns once replay has really stopped: a pause is only a request until
/// the startup process reaches its next record, so it writes one on the writer (any database of
/// that server) and waits for "paused".
class ReplayPause {
public:
  /// The shared test replica and writer of tests/servers.sh.
  ReplayPause();
  ReplayPause(std::string replica_url, std::string writer_url);
  ~ReplayPause();
  ReplayPause(const ReplayPause&) = delete;
  ReplayPause& operator=(const ReplayPause&) = delete;

private:
  void run(const std::string& sql) const;

  std::string m_replica_url;
  std::string m_writer_url;
};

} // namespace grant::test
