#include <grant/route/read_your_writes.hpp>

#include <algorithm>

namespace grant::route {

bool RecentWrites::settled(const Token& token, Clock::time_point now, ReplicaSet all) {
  const bool window_over = !token.until || now >= *token.until;
  const bool replayed = !token.lsn || (token.caught_up & all) == all; // no replicas: nothing to wait for
  return window_over && replayed;
}

void RecentWrites::note(const std::string& key, std::optional<std::uint64_t> lsn,
                        std::optional<Clock::time_point> until) {
  std::lock_guard lock(m_mutex);
  auto& token = m_tokens[key];
  if (lsn) {
    if (!token.lsn || *lsn > *token.lsn) {
      token.caught_up = 0;
    }
    token.lsn = std::max(token.lsn.value_or(0), *lsn);
  }
  if (until) {
    token.until = std::max(token.until.value_or(*until), *until);
  }
}

std::optional<RecentWrites::Token> RecentWrites::current(const std::string& key, Clock::time_point now,
                                                         ReplicaSet all) {
  std::lock_guard lock(m_mutex);
  const auto found = m_tokens.find(key);
  if (found == m_tokens.end()) {
    return std::nullopt;
  }
  if (settled(found->second, now, all)) {
    m_tokens.erase(found);
    return std::nullopt;
  }
  return found->second;
}

void RecentWrites::caught_up(const std::string& key, std::uint64_t replayed, std::size_t replica, ReplicaSet all) {
  std::lock_guard lock(m_mutex);
  const auto found = m_tokens.find(key);
  if (found == m_tokens.end() || !found->second.lsn || *found->second.lsn > replayed) {
    return; // a newer write came in meanwhile
  }
  found->second.caught_up |= ReplicaSet{1} << replica;
  if (settled(found->second, Clock::now(), all)) {
    m_tokens.erase(found);
  }
}

std::size_t RecentWrites::size() const {
  std::lock_guard lock(m_mutex);
  return m_tokens.size();
}

} // namespace grant::route
