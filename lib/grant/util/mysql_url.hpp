#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grant::util {

/// A `mysql://` / `mariadb://` URL taken apart: `mysql://user:password@host:port/database?option=value`.
/// Percent-escapes in the user, password and database are decoded. The password never leaves the
/// adapter (db/mysql.cpp) and this struct is never printed.
struct MysqlUrl {
  std::string user;
  std::string password;
  std::string host = "127.0.0.1";
  unsigned port = 3306;
  std::string database;
  std::string charset = "utf8mb4"; ///< option `charset`
  std::string socket;              ///< option `socket`: a Unix socket instead of host:port
  std::string ssl_mode; ///< option `ssl-mode`/`sslmode`: disabled, preferred, required, verify-ca, verify-identity
};

/// Parses and checks a MySQL URL; throws grant::ConfigError naming the part that is wrong (the
/// URL in the message is redacted).
MysqlUrl parse_mysql_url(std::string_view url);

} // namespace grant::util
