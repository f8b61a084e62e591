#include <grant/route/read_your_writes.hpp>

#include <grant/health/lsn.hpp>
#include <grant/util/gtid.hpp>

#include <algorithm>

namespace grant::route {

std::optional<Position> parse_position(std::string_view text) {
  if (const auto lsn = health::parse_lsn(text)) {
    return Position{{0, *lsn}};
  }
  auto sequences = util::gtid_sequences(text);
  if (!sequences || sequences->empty()) {
    return std::nullopt;
  }
  return std::move(*sequences);
}

bool reached(const Position& wanted, const Position& have) {
  return std::all_of(wanted.begin(), wanted.end(), [&have](const auto& stream) {
    const auto found = have.find(stream.first);
    return found != have.end() && found->second >= stream.second;
  });
}

bool RecentWrites::settled(const Token& token, Clock::time_point now, ReplicaSet all) {
  const bool window_over = !token.until || now >= *token.until;
  const bool replayed = !token.position || (token.caught_up & all) == all; // no replicas: nothing to wait for
  return window_over && replayed;
}

void RecentWrites::note(const std::string& key, std::optional<Position> position,
                        std::optional<Clock::time_point> until) {
  std::lock_guard lock(m_mutex);
  auto& token = m_tokens[key];
  if (position) {
    if (!token.position || !reached(*position, *token.position)) {
      token.caught_up = 0;
    }
    auto& kept = token.position ? *token.position : token.position.emplace();
    for (const auto& [stream, sequence] : *position) {
      kept[stream] = std::max(kept[stream], sequence);
    }
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

void RecentWrites::caught_up(const std::string& key, const Position& replayed, std::size_t replica, ReplicaSet all) {
  std::lock_guard lock(m_mutex);
  const auto found = m_tokens.find(key);
  if (found == m_tokens.end() || !found->second.position || !reached(*found->second.position, replayed)) {
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
