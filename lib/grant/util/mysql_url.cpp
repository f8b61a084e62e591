#include <grant/util/mysql_url.hpp>

#include <grant/error.hpp>
#include <grant/util/strings.hpp>
#include <grant/util/url.hpp>

#include <algorithm>
#include <array>
#include <charconv>

namespace grant::util {

namespace {

constexpr std::array<std::string_view, 10> k_charsets{"utf8mb4", "utf8mb3", "utf8",  "latin1", "ascii",
                                                      "binary",  "ucs2",    "utf16", "utf32",  "cp1252"};
constexpr std::array<std::string_view, 5> k_ssl_modes{"disabled", "preferred", "required", "verify-ca",
                                                      "verify-identity"};

// The URL for an error message: redacted as everywhere, and beyond that, whatever comes before the
// last '@' masked, so that a password holding a '/' (which ends the authority for the redaction)
// is never shown in part.
std::string shown(std::string_view url) {
  const auto scheme_end = url.find("://");
  const auto slash = scheme_end == std::string_view::npos ? std::string_view::npos : url.find('/', scheme_end + 3);
  if (slash == std::string_view::npos || url.find('@', slash) == std::string_view::npos) {
    return redact_url(url); // no '@' past the authority: the redaction sees the whole password
  }
  return std::string(url.substr(0, scheme_end + 3)) + "***" + std::string(url.substr(url.rfind('@')));
}

[[noreturn]] void invalid(std::string_view url, const std::string& what, const std::string& hint = {}) {
  throw ConfigError("invalid MySQL URL " + in_quotes(shown(url)) + ": " + what, {}, hint);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::string decoded(std::string_view url, std::string_view text, const char* part) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    const int high = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
    const int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
    if (high < 0 || low < 0) {
      invalid(url, std::string("a '%' in the ") + part + " is not followed by two hex digits",
              "write a literal '%' as %25");
    }
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

} // namespace

MysqlUrl parse_mysql_url(std::string_view url) {
  MysqlUrl out;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    invalid(url, "it does not start with mysql:// or mariadb://");
  }
  std::string_view rest = url.substr(scheme_end + 3);
  // As the redaction reads it (util/url.cpp): the authority ends at the first '/', and the user
  // part at the last '@' before it; a password may hold '@', ':' and '?', and a '/' only as %2F.
  const auto slash = rest.find('/');
  const auto at = rest.rfind('@', slash);
  std::string_view userinfo;
  if (at != std::string_view::npos) {
    userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
  } else if (rest.find('@') != std::string_view::npos) {
    invalid(url, "its user or password holds a '/'", "percent-encode it: a '/' in a password is written %2F");
  }
  std::string_view query;
  if (const auto question = rest.find('?'); question != std::string_view::npos) {
    query = rest.substr(question + 1);
    rest = rest.substr(0, question);
  }
  std::string_view authority = rest;
  std::string_view path;
  if (const auto end = authority.find('/'); end != std::string_view::npos) {
    path = authority.substr(end + 1);
    authority = authority.substr(0, end);
  }
  if (!userinfo.empty()) {
    const auto colon = userinfo.find(':');
    out.user = decoded(url, userinfo.substr(0, colon), "user");
    if (colon != std::string_view::npos) {
      out.password = decoded(url, userinfo.substr(colon + 1), "password");
    }
  }
  std::string_view host = authority;
  if (const auto colon = authority.rfind(':');
      colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    host = authority.substr(0, colon);
    const auto port = authority.substr(colon + 1);
    unsigned number = 0;
    const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (port.empty() || ec != std::errc{} || ptr != port.data() + port.size() || number < 1 || number > 65535) {
      invalid(url, "port " + in_quotes(port) + " is not a number from 1 to 65535",
              "MySQL and MariaDB listen on 3306 unless told otherwise");
    }
    out.port = number;
  }
  if (!host.empty()) {
    out.host = std::string(host);
  }
  if (path.find('/') != std::string_view::npos) {
    invalid(url, "the database name " + in_quotes(path) + " holds a '/'");
  }
  out.database = decoded(url, path, "database name");
  if (out.database.empty()) {
    invalid(url, "it names no database", "name it after the host and port: mysql://...@HOST:3306/DATABASE");
  }
  for (const auto& pair : split(query, '&')) {
    if (pair.empty()) {
      continue;
    }
    const auto equals = pair.find('=');
    const std::string key = pair.substr(0, equals);
    const std::string value = equals == std::string::npos ? std::string() : pair.substr(equals + 1);
    if (key == "charset") {
      if (std::find(k_charsets.begin(), k_charsets.end(), value) == k_charsets.end()) {
        invalid(url, "charset " + in_quotes(value) + " is not one grant knows", "use charset=utf8mb4 (the default)");
      }
      out.charset = value;
    } else if (key == "socket") {
      out.socket = decoded(url, value, "socket");
    } else if (key == "ssl-mode" || key == "sslmode" || key == "ssl_mode") {
      std::string mode = value;
      std::transform(mode.begin(), mode.end(), mode.begin(),
                     [](unsigned char c) { return c == '_' ? '-' : static_cast<char>(std::tolower(c)); });
      if (std::find(k_ssl_modes.begin(), k_ssl_modes.end(), mode) == k_ssl_modes.end()) {
        invalid(url, "ssl-mode " + in_quotes(value) +
                         " is not one of disabled, preferred, required, verify-ca, "
                         "verify-identity");
      }
      out.ssl_mode = mode;
    } else {
      invalid(url, "unknown option " + in_quotes(key), "MySQL URLs take charset=, socket= and ssl-mode=");
    }
  }
  return out;
}

} // namespace grant::util
