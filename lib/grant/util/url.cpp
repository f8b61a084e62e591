#include <grant/util/url.hpp>

#include <grant/error.hpp>
#include <grant/util/conninfo.hpp>
#include <grant/util/mysql_url.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <charconv>
#include <memory>
#include <vector>

namespace grant::util {

namespace {

constexpr std::string_view k_mask = "***";

// Redacts `password=value` in place. In a URL the value runs to the next '&' or the end, as libpq
// reads it (a tab or a quote is part of it); in free text it also ends at whitespace or '"', and a
// value opened by a single quote runs to the closing quote.
std::string redact_password_pairs(std::string text, bool free_text) {
  std::size_t pos = 0;
  while ((pos = text.find("password=", pos)) != std::string::npos) {
    const std::size_t value_start = pos + 9;
    std::size_t value_end = value_start;
    if (!free_text) {
      value_end = std::min(text.find('&', value_start), text.size());
    } else if (value_end < text.size() && text[value_end] == '\'') {
      value_end = text.find('\'', value_end + 1);
      value_end = value_end == std::string::npos ? text.size() : value_end + 1;
    } else {
      while (value_end < text.size() && text[value_end] != '&' && text[value_end] != ' ' && text[value_end] != '\t' &&
             text[value_end] != '\n' && text[value_end] != '"') {
        ++value_end;
      }
    }
    text.replace(value_start, value_end - value_start, k_mask);
    pos = value_start + k_mask.size();
  }
  return text;
}

// Redacts the password of every `scheme://user:password@` in the text. libpq ends the userinfo
// only at '@' or '/' (a password may hold '?', spaces or quotes); free text also ends a URL at
// whitespace and quotes.
std::string redact_userinfo(std::string text, bool free_text) {
  std::size_t pos = 0;
  const auto ends_authority = [free_text](char c) {
    return c == '/' || (free_text && (c == ' ' || c == '\n' || c == '\t' || c == '"' || c == '\''));
  };
  while ((pos = text.find("://", pos)) != std::string::npos) {
    const std::size_t authority = pos + 3;
    std::size_t end = authority;
    while (end < text.size() && !ends_authority(text[end])) {
      ++end;
    }
    const auto at = text.rfind('@', end);
    if (at != std::string::npos && at >= authority && at < end) {
      const auto colon = text.find(':', authority);
      if (colon != std::string::npos && colon < at) {
        text.replace(colon + 1, at - colon - 1, k_mask);
        end = colon + 1 + k_mask.size();
      }
    }
    pos = end;
  }
  return text;
}

// The password pieces of a URL as written: the userinfo password and any `password=` value.
std::vector<std::string> secrets_of(std::string_view url) {
  std::vector<std::string> out;
  if (const auto scheme_end = url.find("://"); scheme_end != std::string_view::npos) {
    const auto authority = scheme_end + 3;
    const auto end = std::min(url.find('/', authority), url.size());
    // Up to the last '@' as the redaction masks it, and up to the first as libpq reads it (its
    // errors quote that token).
    for (const auto at : {url.substr(0, end).rfind('@'), url.substr(0, end).find('@', authority)}) {
      const auto colon = url.find(':', authority);
      if (at != std::string_view::npos && at >= authority && colon != std::string_view::npos && colon < at) {
        out.emplace_back(url.substr(colon + 1, at - colon - 1));
      }
    }
  }
  for (auto pos = url.find("password="); pos != std::string_view::npos; pos = url.find("password=", pos + 1)) {
    const auto start = pos + 9;
    out.emplace_back(url.substr(start, url.find('&', start) - start));
  }
  return out;
}

} // namespace

std::string redact_url(std::string_view url) {
  return redact_password_pairs(redact_userinfo(std::string(url), false), false);
}

std::string redact_secrets(std::string_view text) {
  return redact_password_pairs(redact_userinfo(std::string(text), true), true);
}

std::string DatabaseUrl::redacted() const {
  return scheme == UrlScheme::sqlite ? raw : redact_url(raw);
}

bool DatabaseUrl::sqlite_file_missing() const {
  return scheme == UrlScheme::sqlite && sqlite_path != ":memory:" && !std::filesystem::exists(sqlite_path);
}

DatabaseUrl parse_database_url(std::string_view url, const std::filesystem::path& base_dir, UrlCheck check) {
  DatabaseUrl parsed;
  parsed.raw = std::string(url);
  if (url.empty()) {
    throw ConfigError("database URL is empty");
  }
  // The C APIs below would read the URL only up to a NUL: refuse it rather than use a shorter one.
  if (url.find('\0') != std::string_view::npos) {
    // Not printed: cut at the NUL, a password might not be recognised as one.
    throw ConfigError("database URL holds a NUL byte at character " + std::to_string(url.find('\0') + 1));
  }
  if (starts_with(url, "sqlite3:") || starts_with(url, "sqlite:")) {
    parsed.scheme = UrlScheme::sqlite;
    std::string_view path = url.substr(url.find(':') + 1);
    // Accept sqlite3:///abs/path and sqlite3://rel as dbmate writes them.
    if (starts_with(path, "//")) {
      path.remove_prefix(2);
    }
    if (path.empty()) {
      throw ConfigError("SQLite URL " + in_quotes(url) + " has no file path", {},
                        "write it as sqlite3:db/NAME.sqlite3");
    }
    std::filesystem::path file(path);
    if (file.is_relative() && path != ":memory:") {
      file = base_dir / file;
    }
    parsed.sqlite_path = file.lexically_normal();
    return parsed;
  }
  if (starts_with(url, "postgres://") || starts_with(url, "postgresql://")) {
    parsed.scheme = UrlScheme::postgres;
    if (check == UrlCheck::syntax) {
      return parsed;
    }
    const auto options = parse_conninfo(parsed.raw);
    if (!options.valid) {
      std::string message = options.error;
      // libpq quotes the offending token, which may be the password itself.
      for (const auto& secret : secrets_of(url)) {
        for (auto pos = secret.empty() ? std::string::npos : message.find(secret); pos != std::string::npos;
             pos = message.find(secret, pos + k_mask.size())) {
          message.replace(pos, secret.size(), k_mask);
        }
      }
      throw ConfigError("invalid PostgreSQL URL " + in_quotes(redact_url(url)) + ": " + redact_secrets(message));
    }
    // libpq checks these only when it connects; a config error must not wait for that.
    for (const auto& port : split(options.value("port"), ',')) {
      int number = 0;
      const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
      if (!port.empty() && (ec != std::errc{} || ptr != port.data() + port.size() || number < 1 || number > 65535)) {
        throw ConfigError("invalid PostgreSQL URL " + in_quotes(redact_url(url)) + ": port " + in_quotes(port) +
                              " is not a number from 1 to 65535",
                          {}, "PostgreSQL listens on 5432 unless told otherwise");
      }
    }
    static const std::vector<std::string> k_sslmodes{"disable", "allow",     "prefer",
                                                     "require", "verify-ca", "verify-full"};
    if (const auto mode = options.value("sslmode");
        !mode.empty() && std::find(k_sslmodes.begin(), k_sslmodes.end(), mode) == k_sslmodes.end()) {
      throw ConfigError("invalid PostgreSQL URL " + in_quotes(redact_url(url)) + ": sslmode " + in_quotes(mode) +
                            " is not one of " + join(k_sslmodes, ", "),
                        {}, "sslmode=require encrypts without checking the certificate; verify-full also checks it");
    }
    parsed.host = options.value("host");
    parsed.port = options.value("port");
    parsed.user = options.value("user");
    parsed.dbname = options.value("dbname");
    return parsed;
  }
  if (starts_with(url, "mysql://") || starts_with(url, "mariadb://")) {
    parsed.scheme = UrlScheme::mysql;
    if (check == UrlCheck::syntax) {
      return parsed;
    }
    const auto parts = parse_mysql_url(url);
    parsed.host = parts.socket.empty() ? parts.host : parts.socket;
    parsed.port = std::to_string(parts.port);
    parsed.user = parts.user;
    parsed.dbname = parts.database;
    return parsed;
  }
  const auto colon = url.find(':');
  const std::string scheme(colon == std::string_view::npos ? url : url.substr(0, colon));
  throw ConfigError("unsupported URL scheme " + in_quotes(scheme) + " in " + in_quotes(redact_url(url)), {},
                    "use postgres://, postgresql://, mysql://, mariadb://, sqlite3: or sqlite:");
}

} // namespace grant::util
