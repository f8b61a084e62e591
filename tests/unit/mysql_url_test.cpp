// MySQL URLs: their parts, percent-escapes, options, and the errors for bad ones (never with the
// password); quoting in the MySQL dialect.
#include <grant/db/quoting.hpp>
#include <grant/error.hpp>
#include <grant/util/mysql_url.hpp>
#include <grant/util/url.hpp>

#include <doctest/doctest.h>

#include <string>

namespace grant_test_mysql_url_test {

namespace {

std::string error_of(const std::string& url) {
  try {
    grant::util::parse_database_url(url, "/");
  } catch (const grant::Error& error) {
    return std::string(error.what()) + " | " + error.hint();
  }
  return "";
}

} // namespace

TEST_CASE("mysql url: parts, escapes and options") {
  const auto url =
      grant::util::parse_database_url("mysql://app%40x:p%3Ass@w@db.example:3307/orders?charset=latin1", "/");
  CHECK(url.scheme == grant::util::UrlScheme::mysql);
  CHECK(url.host == "db.example");
  CHECK(url.port == "3307");
  CHECK(url.user == "app@x");
  CHECK(url.dbname == "orders");
  CHECK(url.redacted() == "mysql://app%40x:***@db.example:3307/orders?charset=latin1");

  const auto parts = grant::util::parse_mysql_url(url.raw);
  CHECK(parts.password == "p:ss@w");
  CHECK(parts.charset == "latin1");

  const auto maria =
      grant::util::parse_mysql_url("mariadb://root@localhost/app?socket=%2Frun%2Fmysqld.sock&ssl-mode=REQUIRED");
  CHECK(maria.port == 3306);
  CHECK(maria.password.empty());
  CHECK(maria.socket == "/run/mysqld.sock");
  CHECK(maria.ssl_mode == "required");
  CHECK(grant::util::parse_database_url("mariadb://root@localhost/app", "/").scheme == grant::util::UrlScheme::mysql);
}

TEST_CASE("mysql url: bad ones say what is wrong, without the password") {
  CHECK(error_of("mysql://u:hunter2@h:0/app").find("port '0' is not a number from 1 to 65535") != std::string::npos);
  CHECK(error_of("mysql://u:hunter2@h:33o6/app").find("port '33o6'") != std::string::npos);
  CHECK(error_of("mysql://u:hunter2@h/app?charset=utf9").find("charset 'utf9' is not one grant knows") !=
        std::string::npos);
  CHECK(error_of("mysql://u:hunter2@h/app?sslmode=maybe").find("ssl-mode 'maybe' is not one of") != std::string::npos);
  CHECK(error_of("mysql://u:hunter2@h/app?timeout=3").find("unknown option 'timeout'") != std::string::npos);
  CHECK(error_of("mysql://u:hunter2@h:3306").find("it names no database") != std::string::npos);
  CHECK(error_of("mysql://u:hunt%2@h/app").find("two hex digits") != std::string::npos);
  for (const auto* url :
       {"mysql://u:hunter2@h:0/app", "mysql://u:hunter2@h/app?charset=utf9", "mysql://u:hunter2@h:3306"}) {
    CHECK(error_of(url).find("hunter2") == std::string::npos);
  }
}

TEST_CASE("mysql quoting: backquoted names, backslashes doubled in literals") {
  using grant::db::Dialect;
  CHECK(grant::db::quote_identifier(Dialect::mysql, "a`b") == "`a``b`");
  CHECK(grant::db::quote_literal(Dialect::mysql, "it's C:\\dir") == "'it''s C:\\\\dir'");
  CHECK(grant::db::quote_literal(Dialect::postgres, "C:\\dir") == "'C:\\dir'");
}

} // namespace grant_test_mysql_url_test
