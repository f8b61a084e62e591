#include <grant/twophase/gid.hpp>

#include <random>
#include <vector>

namespace grant::twophase {

namespace {

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == separator) {
      parts.emplace_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

} // namespace

std::string Gid::decision_key() const {
  if (legacy) {
    return std::string(k_gid_prefix) + scope + ":" + txid;
  }
  return std::string(k_gid_prefix) + scope + ":" + txid + "@" + coordinator;
}

std::string Gid::text() const {
  return decision_key() + ":" + participant;
}

std::optional<Gid> parse_gid(std::string_view text) {
  if (text.substr(0, k_gid_prefix.size()) != k_gid_prefix) {
    return std::nullopt;
  }
  const auto parts = split(text.substr(k_gid_prefix.size()), ':');
  Gid gid;
  if (parts.size() == 3) {
    const auto at = parts[1].find('@');
    if (at == std::string::npos || parts[0].empty()) {
      return std::nullopt;
    }
    gid.scope = parts[0];
    gid.txid = parts[1].substr(0, at);
    gid.coordinator = parts[1].substr(at + 1);
    gid.participant = parts[2];
    return gid.txid.empty() ? std::nullopt : std::optional<Gid>(gid);
  }
  if (parts.size() == 4 && parts[1].find('@') == std::string::npos) {
    gid.legacy = true;
    gid.scope = parts[0];
    gid.txid = parts[1] + ":" + parts[2];
    gid.participant = parts[3];
    return gid;
  }
  return std::nullopt;
}

std::string new_txid(std::string_view label) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::random_device device;
  std::uniform_int_distribution<int> digit(0, 15);
  std::string out(label);
  out += '-';
  for (int i = 0; i < 16; ++i) {
    out += k_hex[digit(device)];
  }
  return out;
}

} // namespace grant::twophase
