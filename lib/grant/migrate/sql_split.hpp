#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace grant::migrate {

struct SqlStatement {
  std::string text;
  int first_line = 1; ///< line within the script (or, in Section::statements, the file) where it starts
};

/// Splits a script at top-level semicolons the way psql does: quotes ('', E'\'', "" and
/// dollar quotes), `--` and nested `/* */` comments, parentheses and the `BEGIN ATOMIC ... END`
/// body of CREATE FUNCTION / PROCEDURE (with the CASE ... END inside it) never split.
/// A `$` after an identifier character is part of the identifier (`price$`), not a quote.
std::vector<SqlStatement> split_statements(std::string_view script);

/// True for `COPY ... FROM STDIN`, whose data rows a migration file cannot carry.
bool is_copy_from_stdin(std::string_view statement);

} // namespace grant::migrate
