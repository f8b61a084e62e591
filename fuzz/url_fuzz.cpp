// util::parse_database_url, redact_url, redact_secrets. The first byte picks a mode:
//   0: the rest is a URL as written;
//   1: a PostgreSQL URL with a planted password: postgres://USER:<k_secret>PW@REST, the three
//      pieces separated by 0x1f in the input;
//   2: free text with a planted `password=<k_secret>PW` between two pieces of text.
// Properties: only grant::Error leaves the parser; for every URL libpq accepts, the password
// libpq itself extracts (PQconninfoParse) is absent from redacted(), redact_url and
// redact_secrets; a planted password never reaches a redacted text or an error message;
// parsing is deterministic.
#include "fuzz_common.hpp"
#include "libpq_password.hpp"

#include <grant/util/url.hpp>

#include <optional>

using namespace grant;

namespace {

constexpr std::string_view k_secret = "Zq9SeCrEt";

std::size_t count(std::string_view haystack, std::string_view needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string_view::npos; pos = haystack.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

// The text with each mask replaced by bytes no password here holds, so that a password
// made of '*' and its neighbours is not found in the mask itself.
std::string unmasked(std::string_view text) {
  std::string out(text);
  for (auto pos = out.find("***"); pos != std::string::npos; pos = out.find("***", pos + 2)) {
    out.replace(pos, 3, "\x01\x02");
  }
  return out;
}

void no_secret(std::string_view text, std::string_view secret, std::string_view what, const std::string& input) {
  if (secret.find_first_of("\x01\x02") != std::string_view::npos) {
    return;
  }
  fuzz::check(unmasked(text).find(secret) == std::string::npos, what,
              "input: " + input + "\n*** output: " + std::string(text));
}

void check_url(const std::string& url, bool planted, bool planted_delimited) {
  std::optional<util::DatabaseUrl> parsed;
  std::string error_text;
  fuzz::run_parser(
      [&] { parsed = util::parse_database_url(url, "/fuzz/base"); }, fuzz::NeedsWhere::no,
      [&](const Error& error) { error_text = std::string(error.what()) + "\n" + error.where() + "\n" + error.hint(); });
  // In free text a URL ends at whitespace or a quote: redact_secrets promises only such URLs.
  const bool free_text_ok = url.find_first_of(" \t\n\"'") == std::string::npos;
  const auto redacted = util::redact_url(url);
  const auto scrubbed = util::redact_secrets(url);
  if (parsed) {
    const auto again = util::parse_database_url(url, "/fuzz/base");
    fuzz::check(again.redacted() == parsed->redacted() && again.host == parsed->host && again.dbname == parsed->dbname,
                "parsing a URL is deterministic", url);
  }
  if (parsed && parsed->scheme == util::UrlScheme::postgres) {
    // libpq is the oracle: whatever it takes for the password must not survive redaction,
    // unless the same bytes are also written elsewhere in the URL.
    // A password of only '*' would be found in the mask itself.
    if (const auto password = fuzz::libpq_password(url);
        password && password->size() >= 3 && password->find_first_not_of('*') != std::string::npos) {
      // Written after the userinfo too (a query value holding the same bytes as a percent-encoded
      // password, say): those bytes are not the secret the redaction hides.
      const auto scheme_end = url.find("://");
      const auto authority = scheme_end == std::string::npos ? 0 : scheme_end + 3;
      const auto at = url.find('@', authority);
      const auto slash = url.find('/', authority);
      const bool userinfo_password =
          at != std::string::npos && (slash == std::string::npos || at < slash) && url.find(':', authority) < at;
      bool elsewhere = false;
      for (auto pos = userinfo_password ? url.find(*password, at + 1) : std::string::npos; pos != std::string::npos;
           pos = url.find(*password, pos + 1)) {
        const std::string_view key = "password=";
        elsewhere = elsewhere || pos < key.size() || url.compare(pos - key.size(), key.size(), key) != 0;
      }
      const auto occurrences = count(url, *password);
      if (occurrences <= 1 && !elsewhere) {
        no_secret(parsed->redacted(), *password, "redacted() hides the password libpq reads", url);
        no_secret(redacted, *password, "redact_url hides the password libpq reads", url);
        if (free_text_ok) {
          no_secret(scrubbed, *password, "redact_secrets hides the password libpq reads", url);
        }
      }
    }
  }
  if (planted) {
    const bool libpq_sees_it = parsed && parsed->scheme == util::UrlScheme::postgres &&
                               fuzz::libpq_password(url).value_or("").starts_with(k_secret);
    if (libpq_sees_it || planted_delimited) {
      if (parsed) {
        no_secret(parsed->redacted(), k_secret, "redacted() hides a planted password", url);
      }
      no_secret(redacted, k_secret, "redact_url hides a planted password", url);
      if (free_text_ok) {
        no_secret(scrubbed, k_secret, "redact_secrets hides a planted password", url);
      }
    }
    if (planted_delimited) {
      no_secret(error_text, k_secret, "an error about a URL never holds its password", url);
    }
  }
}

std::string_view piece(std::string_view& rest) {
  const auto sep = rest.find('\x1f');
  const auto out = rest.substr(0, sep);
  rest = sep == std::string_view::npos ? std::string_view{} : rest.substr(sep + 1);
  return out;
}

// A password that libpq and any reader see as one: no delimiter of the URL's userinfo.
bool delimited(std::string_view password) {
  return password.find_first_of("@/?#:\x1f \t\r\n\"'&") == std::string_view::npos;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const auto mode = data[0] % 3;
  std::string_view rest = fuzz::as_text(data + 1, size - 1);
  if (mode == 0) {
    check_url(std::string(rest), false, false);
    return 0;
  }
  const auto first = piece(rest);
  const auto password = piece(rest);
  const auto last = rest;
  if (first.find(k_secret) != std::string_view::npos || password.find(k_secret) != std::string_view::npos ||
      last.find(k_secret) != std::string_view::npos) {
    return 0;
  }
  if (mode == 1) {
    const bool plain_user = first.find_first_of("@/?#:") == std::string_view::npos;
    check_url("postgres://" + std::string(first) + ":" + std::string(k_secret) + std::string(password) + "@" +
                  std::string(last),
              true, plain_user && delimited(password));
    return 0;
  }
  const std::string text =
      std::string(first) + " password=" + std::string(k_secret) + std::string(password) + " " + std::string(last);
  const bool ok = delimited(password);
  const auto scrubbed = util::redact_secrets(text);
  if (ok) {
    no_secret(scrubbed, k_secret, "redact_secrets hides a planted password= value", text);
  }
  return 0;
}
