#include "support/pg_session.hpp"

#include <pqxx/pqxx>

#include <poll.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace grant::test {

namespace {

constexpr std::size_t k_kept_per_thread = 8;

// An idle session has nothing to read: anything readable (the server's "terminating connection"
// before it closes, or the close itself) means it is gone or going.
bool still_open(const pqxx::connection& connection) {
  if (!connection.is_open()) {
    return false;
  }
  pollfd fd{connection.sock(), POLLIN | POLLRDHUP, 0};
  return ::poll(&fd, 1, 0) == 0;
}

} // namespace

std::shared_ptr<pqxx::connection> pg_session(const std::string& url) {
  // Most recently used last.
  thread_local std::vector<std::pair<std::string, std::shared_ptr<pqxx::connection>>> kept;
  const auto found = std::find_if(kept.begin(), kept.end(), [&](const auto& entry) { return entry.first == url; });
  if (found != kept.end()) {
    auto session = found->second;
    kept.erase(found);
    if (still_open(*session)) {
      kept.emplace_back(url, session);
      return session;
    }
  }
  auto session = std::make_shared<pqxx::connection>(url);
  if (kept.size() >= k_kept_per_thread) {
    kept.erase(kept.begin());
  }
  kept.emplace_back(url, session);
  return session;
}

std::string pg_scalar(const std::string& url, const std::string& sql) {
  const auto session = pg_session(url);
  pqxx::nontransaction work(*session);
  const auto value = work.exec1(sql)[0];
  return value.is_null() ? "NULL" : value.c_str();
}

void pg_execute(const std::string& url, const std::string& sql) {
  const auto session = pg_session(url);
  pqxx::nontransaction work(*session);
  work.exec(sql);
}

} // namespace grant::test
