#pragma once

// The password libpq itself reads from a URL: the oracle of the redaction properties (config and
// url targets), independent of grant's own URL parser.
#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace grant::fuzz {

/// nullopt when libpq does not parse `url`; an empty string when it names no password.
inline std::optional<std::string> libpq_password(const std::string& url) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconninfoParse(url.c_str(), &error),
                                                                       &PQconninfoFree);
  PQfreemem(error);
  if (!options) {
    return std::nullopt;
  }
  for (auto* option = options.get(); option->keyword != nullptr; ++option) {
    if (std::string_view(option->keyword) == "password" && option->val != nullptr) {
      return std::string(option->val);
    }
  }
  return std::string();
}

} // namespace grant::fuzz
