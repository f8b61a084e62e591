#pragma once

#include <optional>
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
/// body of CREATE FUNCTION / PROCEDURE (with the CASE ... END inside it) and the `BEGIN ... END`
/// body of a SQLite CREATE TRIGGER never split.
/// A `$` after an identifier character is part of the identifier (`price$`), not a quote.
std::vector<SqlStatement> split_statements(std::string_view script);

/// True for `COPY ... FROM STDIN`, whose data rows a migration file cannot carry.
bool is_copy_from_stdin(std::string_view statement);

/// The transaction-control command `statement` is, in capitals: `BEGIN`, `START TRANSACTION`,
/// `COMMIT`, `END`, `ROLLBACK`, `ABORT` or `PREPARE TRANSACTION` (with any WORK, TRANSACTION,
/// AND CHAIN or isolation level after it); nullopt for any other statement. `SAVEPOINT`,
/// `RELEASE`, `ROLLBACK TO SAVEPOINT` and `COMMIT` / `ROLLBACK PREPARED` (which end no open
/// transaction) are not. Read with the lexer, so a keyword in a string, comment or dollar quote,
/// or inside a `BEGIN ATOMIC` body split_statements kept whole, does not count.
std::optional<std::string> transaction_control(std::string_view statement);

} // namespace grant::migrate
