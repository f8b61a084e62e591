#include <grant/health/error_kind.hpp>

#include <grant/db/sqlstate.hpp>
#include <grant/util/strings.hpp>

#include <array>

namespace grant::health {

std::string_view error_kind_name(ErrorKind kind) {
  switch (kind) {
  case ErrorKind::refused:
    return "refused";
  case ErrorKind::timeout:
    return "timeout";
  case ErrorKind::auth:
    return "auth";
  case ErrorKind::dns:
    return "dns";
  case ErrorKind::other:
    break;
  }
  return "other";
}

namespace {

bool mentions(const std::string& lower, std::string_view part) {
  return lower.find(part) != std::string::npos;
}

} // namespace

ErrorKind classify_error(std::string_view message, std::string_view sqlstate) {
  // 28000 invalid authorization, 28P01 invalid password; 57014 a statement timeout fired.
  if (sqlstate.starts_with("28")) {
    return ErrorKind::auth;
  }
  if (sqlstate == db::sqlstate::k_query_canceled) {
    return ErrorKind::timeout;
  }
  const auto lower = util::to_lower(message);
  constexpr std::array k_dns{"could not translate host name", "name or service not known",
                             "temporary failure in name resolution", "nodename nor servname"};
  for (const auto* part : k_dns) {
    if (mentions(lower, part)) {
      return ErrorKind::dns;
    }
  }
  if (mentions(lower, "connection refused")) {
    return ErrorKind::refused;
  }
  if (mentions(lower, "timeout expired") || mentions(lower, "timed out") ||
      mentions(lower, "canceling statement due to statement timeout")) {
    return ErrorKind::timeout;
  }
  if (mentions(lower, "password authentication failed") || mentions(lower, "no password supplied") ||
      mentions(lower, "authentication failed") || mentions(lower, "role \"") || mentions(lower, "pg_hba.conf")) {
    return ErrorKind::auth;
  }
  return ErrorKind::other;
}

} // namespace grant::health
