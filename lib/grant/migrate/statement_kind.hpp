#pragma once

#include <optional>
#include <string>
#include <string_view>

// What a migration statement is, read with util::SqlLexer. Splitting a script into statements
// is util::split_statements.
namespace grant::migrate {

/// True for `COPY ... FROM STDIN`, whose data rows a migration file cannot carry.
bool is_copy_from_stdin(std::string_view statement);

/// The transaction-control command `statement` is, in capitals: `BEGIN`, `START TRANSACTION`,
/// `COMMIT`, `END`, `ROLLBACK`, `ABORT` or `PREPARE TRANSACTION` (with any WORK, TRANSACTION,
/// AND CHAIN or isolation level after it); nullopt for any other statement. `SAVEPOINT`,
/// `RELEASE`, `ROLLBACK TO SAVEPOINT` and `COMMIT` / `ROLLBACK PREPARED` (which end no open
/// transaction) are not. Read with the lexer, so a keyword in a string, comment or dollar quote,
/// or inside a `BEGIN ATOMIC` body util::split_statements kept whole, does not count.
std::optional<std::string> transaction_control(std::string_view statement);

/// True when `statement` only creates an object that holds no rows yet: CREATE [TEMP | TEMPORARY |
/// UNIQUE | VIRTUAL] TABLE, INDEX, VIEW or TRIGGER. Such a statement can neither cascade nor break
/// a foreign key, so a SQLite section made only of them needs no foreign-key guard
/// (db::SqliteForeignKeysOff).
bool creates_only(std::string_view statement);

} // namespace grant::migrate
