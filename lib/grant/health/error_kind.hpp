#pragma once

#include <string>
#include <string_view>

namespace grant::health {

/// How a probe failed, as the contract names it.
enum class ErrorKind { refused, timeout, auth, dns, other };

/// "refused", "timeout", "auth", "dns", "other".
std::string_view error_kind_name(ErrorKind kind);

/// Reads libpq's and the server's words (and the SQLSTATE when there is one) to tell a refused
/// port from a timeout, a rejected password or an unknown host name.
ErrorKind classify_error(std::string_view message, std::string_view sqlstate = {});

/// A failed probe: its kind and the message, passwords already scrubbed.
struct ProbeError {
  ErrorKind kind = ErrorKind::other;
  std::string message;
};

} // namespace grant::health
