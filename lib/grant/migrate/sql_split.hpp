#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace grant::migrate {

struct SqlStatement {
  std::string text;
  int first_line = 1; ///< line within the script where the statement starts
};

/// Splits a script at top-level semicolons, respecting quotes, comments and dollar quoting.
/// Used for `transaction=false` sections, which PostgreSQL must see one statement at a time
/// (a multi-statement string runs in an implicit transaction).
std::vector<SqlStatement> split_statements(std::string_view script);

} // namespace grant::migrate
