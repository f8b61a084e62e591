#include "support/replica.hpp"

#include "support/support.hpp"

#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <chrono>
#include <thread>

namespace grant::test {

ReplayPause::ReplayPause() : ReplayPause(replica_url(), writer_url()) {}

ReplayPause::ReplayPause(std::string replica_url, std::string writer_url)
    : m_replica_url(std::move(replica_url)), m_writer_url(std::move(writer_url)) {
  run("SELECT pg_wal_replay_pause()");
  pqxx::connection writer(m_writer_url);
  pqxx::connection replica(m_replica_url);
  for (int i = 0; i < 250; ++i) {
    {
      pqxx::nontransaction write(writer);
      write.exec("SELECT txid_current()"); // a WAL record for the replica to stop at
    }
    pqxx::nontransaction read(replica);
    if (read.exec1("SELECT pg_get_wal_replay_pause_state()")[0].as<std::string>() == "paused") {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  run("SELECT pg_wal_replay_resume()");
  FAIL("replay did not pause on " << m_replica_url.substr(m_replica_url.find('@') + 1));
}

ReplayPause::~ReplayPause() {
  // A fresh session each time: one kept from the constructor might have broken since.
  for (int attempt = 0; attempt < 3; ++attempt) {
    try {
      run("SELECT pg_wal_replay_resume()");
      return;
    } catch (...) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

void ReplayPause::run(const std::string& sql) const {
  pqxx::connection connection(m_replica_url);
  pqxx::nontransaction work(connection);
  work.exec(sql);
}

} // namespace grant::test
