#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grant::util {

/// libpq's own reading of a PostgreSQL connection URI (`conninfo.cpp`, the only file with
/// `<libpq-fe.h>`). It belongs to the PostgreSQL adapter: the grant program loads it with that
/// adapter's module on first use (apps/grant/modules.cpp), so a run without a PostgreSQL URL
/// never loads libpq.
struct Conninfo {
  bool valid = false;
  std::string error; ///< libpq's message when !valid; it may quote the password: redact before printing
  std::vector<std::pair<std::string, std::string>> options; ///< keyword and value of each one set

  /// The value of `keyword`, empty when unset. (Inline: the core reads it, the module fills it.)
  std::string value(std::string_view keyword) const {
    for (const auto& [key, text] : options) {
      if (key == keyword) {
        return text;
      }
    }
    return {};
  }
};

Conninfo parse_conninfo(const std::string& uri);

} // namespace grant::util
