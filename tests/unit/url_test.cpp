#include <grant/util/url.hpp>

#include <grant/error.hpp>

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_url_test {

using grant::ConfigError;
using grant::util::parse_database_url;
using grant::util::redact_secrets;
using grant::util::redact_url;
using grant::util::UrlScheme;

TEST_CASE("util::parse_database_url postgres") {
  SUBCASE("libpq URI parts") {
    const auto url = parse_database_url("postgres://grant:s3cret@127.0.0.1:5433/orders", "/base");
    CHECK(url.scheme == UrlScheme::postgres);
    CHECK(url.host == "127.0.0.1");
    CHECK(url.port == "5433");
    CHECK(url.user == "grant");
    CHECK(url.dbname == "orders");
    CHECK(url.raw == "postgres://grant:s3cret@127.0.0.1:5433/orders"); // handed to libpq as is
    CHECK(url.redacted() == "postgres://grant:***@127.0.0.1:5433/orders");
  }

  SUBCASE("postgresql:// with parameters passes them through") {
    const auto url = parse_database_url("postgresql://app@db.internal/app?sslmode=verify-full&application_name=x", "/");
    CHECK(url.scheme == UrlScheme::postgres);
    CHECK(url.host == "db.internal");
    CHECK(url.port.empty());
    CHECK(url.raw == "postgresql://app@db.internal/app?sslmode=verify-full&application_name=x");
    CHECK(url.redacted() == url.raw); // nothing to hide
  }

  SUBCASE("password as a query parameter") {
    const auto url =
        parse_database_url("postgres://grant@h/db?sslmode=disable&password=hunter2&connect_timeout=3", "/");
    CHECK(url.redacted() == "postgres://grant@h/db?sslmode=disable&password=***&connect_timeout=3");
  }

  SUBCASE("percent-encoded password") {
    const auto url = parse_database_url("postgres://grant:p%40ss%2Fw%3Ard@h:5432/db", "/");
    CHECK(url.user == "grant");
    CHECK(url.host == "h");
    CHECK(url.redacted() == "postgres://grant:***@h:5432/db");
  }

  SUBCASE("a password holding a literal @ is masked whole") {
    CHECK(redact_url("postgres://grant:p@ss@h/db") == "postgres://grant:***@h/db");
  }

  SUBCASE("a password holding ? (libpq ends the userinfo only at @ or /) is masked") {
    // Found by fuzz/url_fuzz.cpp: the redactor stopped at '?', libpq does not.
    const auto url = parse_database_url("postgres://grant:pa?ss@h:5432/db", "/");
    CHECK(url.host == "h");
    CHECK(url.redacted() == "postgres://grant:***@h:5432/db");
    CHECK(redact_secrets("connect to postgres://grant:pa?ss@h/db failed") ==
          "connect to postgres://grant:***@h/db failed");
  }

  SUBCASE("a password= value holding a tab or a quote is masked up to the next &, as libpq reads it") {
    // Found by fuzz/url_fuzz.cpp: the URL's redaction stopped the value at whitespace, as free
    // text does, and printed the rest of the password.
    const std::string url = "postgres://u@h:5432/db?sslmode=disable&password=\t`:hunter2@&application_name=x";
    CHECK(redact_url(url) == "postgres://u@h:5432/db?sslmode=disable&password=***&application_name=x");
    CHECK(parse_database_url(url, "/").redacted() == redact_url(url));
    CHECK(redact_url("postgres://u@h/db?password='pa ss'") == "postgres://u@h/db?password=***");
  }

  SUBCASE("a URL holding a NUL byte is refused without quoting it") {
    // Found by fuzz/url_fuzz.cpp: libpq read up to the NUL and its error quoted the password.
    const std::string url("postgres://grant:hunter2%zz\0@h/db", 33);
    try {
      parse_database_url(url, "/");
      FAIL("expected a ConfigError");
    } catch (const ConfigError& error) {
      CHECK(std::string(error.what()).find("hunter2") == std::string::npos);
    }
  }

  SUBCASE("libpq's error quotes the password up to the first @, and it is hidden") {
    // Found by fuzz/url_fuzz.cpp: only the text up to the last @ was scrubbed from the message.
    try {
      parse_database_url("postgres://u:hunter2%@x@h/db", "/");
      FAIL("expected a ConfigError");
    } catch (const ConfigError& error) {
      CHECK(std::string(error.what()).find("hunter2") == std::string::npos);
    }
  }

  SUBCASE("user without password and no userinfo at all") {
    CHECK(redact_url("postgres://grant@h/db") == "postgres://grant@h/db");
    CHECK(redact_url("postgres://h:5432/db") == "postgres://h:5432/db");
  }

  SUBCASE("libpq rejects a malformed URI, and the error hides the password") {
    try {
      parse_database_url("postgres://grant:hunter2@h/db?no_such_parameter=1", "/");
      FAIL("expected a ConfigError");
    } catch (const ConfigError& error) {
      const std::string what = error.what();
      CHECK(what.find("invalid PostgreSQL URL") != std::string::npos);
      CHECK(what.find("no_such_parameter") != std::string::npos);
      CHECK(what.find("hunter2") == std::string::npos);
    }
  }

  SUBCASE("a password that is part of the mask itself") {
    CHECK_THROWS_AS(parse_database_url("postgres://grant:*%zz@h/db", "/"), ConfigError);
  }

  SUBCASE("a malformed percent-escape in the password does not leak it") {
    try {
      parse_database_url("postgres://grant:hunter2%zz@h/db", "/");
      FAIL("expected a ConfigError");
    } catch (const ConfigError& error) {
      CHECK(std::string(error.what()).find("hunter2") == std::string::npos);
    }
  }
}

TEST_CASE("util::parse_database_url sqlite") {
  SUBCASE("relative paths resolve against the base folder") {
    const auto url = parse_database_url("sqlite3:db/primary.sqlite3", "/srv/app");
    CHECK(url.scheme == UrlScheme::sqlite);
    CHECK(url.sqlite_path == "/srv/app/db/primary.sqlite3");
    CHECK(parse_database_url("sqlite:../shared/x.db", "/srv/app").sqlite_path == "/srv/shared/x.db");
    CHECK(parse_database_url("sqlite3://rel/x.db", "/srv/app").sqlite_path == "/srv/app/rel/x.db");
  }

  SUBCASE("absolute paths stay") {
    CHECK(parse_database_url("sqlite3:/var/lib/app.db", "/srv/app").sqlite_path == "/var/lib/app.db");
    CHECK(parse_database_url("sqlite3:///var/lib/app.db", "/srv/app").sqlite_path == "/var/lib/app.db");
  }

  SUBCASE("in-memory") {
    CHECK(parse_database_url("sqlite3::memory:", "/srv/app").sqlite_path == ":memory:");
  }

  SUBCASE("printed as written") {
    CHECK(parse_database_url("sqlite3:db/primary.sqlite3", "/srv").redacted() == "sqlite3:db/primary.sqlite3");
  }

  SUBCASE("no path") {
    CHECK_THROWS_WITH_AS(parse_database_url("sqlite3:", "/"), doctest::Contains("has no file path"), ConfigError);
  }
}

TEST_CASE("util::parse_database_url unsupported") {
  SUBCASE("unknown scheme is named, password hidden") {
    try {
      parse_database_url("oracle://root:hunter2@h/db", "/");
      FAIL("expected a ConfigError");
    } catch (const ConfigError& error) {
      const std::string what = error.what();
      CHECK(what.find("unsupported URL scheme 'oracle'") != std::string::npos);
      CHECK(what.find("hunter2") == std::string::npos);
      CHECK(error.hint().find("sqlite3:") != std::string::npos);
    }
  }
  SUBCASE("empty and schemeless") {
    CHECK_THROWS_AS(parse_database_url("", "/"), ConfigError);
    CHECK_THROWS_WITH_AS(parse_database_url("db.sqlite3", "/"), doctest::Contains("unsupported URL scheme"),
                         ConfigError);
  }
}

TEST_CASE("util::redact_secrets") {
  SUBCASE("URLs with passwords inside free text") {
    const auto text = redact_secrets("cannot connect to postgres://grant:hunter2@h:5432/db: refused; "
                                     "fallback postgresql://u:pa%24%24@other/db?sslmode=require failed too");
    CHECK(text == "cannot connect to postgres://grant:***@h:5432/db: refused; "
                  "fallback postgresql://u:***@other/db?sslmode=require failed too");
  }

  SUBCASE("key=value connection strings") {
    CHECK(redact_secrets("host=h password=hunter2 dbname=x") == "host=h password=*** dbname=x");
    CHECK(redact_secrets("host=h password='hunter 2' dbname=x") == "host=h password=*** dbname=x");
  }

  SUBCASE("text without secrets is unchanged") {
    const std::string plain = "relation \"users\" does not exist at orders/s1 (see https://example.com/a)";
    CHECK(redact_secrets(plain) == plain);
  }

  SUBCASE("every occurrence") {
    const auto text = redact_secrets("a postgres://u:one@h/a b postgres://u:two@h/b c password=three");
    CHECK(text.find("one") == std::string::npos);
    CHECK(text.find("two") == std::string::npos);
    CHECK(text.find("three") == std::string::npos);
  }
}

} // namespace grant_test_url_test
