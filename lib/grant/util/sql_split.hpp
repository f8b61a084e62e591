#pragma once

#include <grant/util/sql_lexer.hpp>

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace grant::util {

struct SqlStatement {
  std::string text;
  int first_line = 1; ///< line within the script (or, in Section::statements, the file) where it starts
};

/// Where psql ends a statement, told one token at a time: at a semicolon outside parentheses and
/// outside the `BEGIN ATOMIC ... END` body of CREATE FUNCTION / PROCEDURE (with the CASE ... END
/// inside it) or the `BEGIN ... END` body of a SQLite CREATE TRIGGER. The one splitting rule behind
/// split_statements and route's write classifier.
class StatementEnds {
public:
  /// Feeds the script's next token (spaces and comments may be left out); true when it is the
  /// semicolon that ends the statement, after which the next token starts a new one.
  bool ends_at(SqlTokenKind kind, std::string_view text);

private:
  void word(std::string_view text);
  bool in_routine() const;

  std::array<std::string, 4> m_first; ///< the statement's first words, lower case
  std::size_t m_words = 0;
  int m_paren_depth = 0;
  int m_body_depth = 0; ///< BEGIN / CASE blocks open in a routine body
};

/// Splits a script at the semicolons StatementEnds finds; quotes ('', E'\'', "" and dollar
/// quotes) and `--` and nested `/* */` comments never split (util::SqlLexer). Each statement's
/// text runs from its first code token through its semicolon, whitespace trimmed.
/// A `$` after an identifier character is part of the identifier (`price$`), not a quote.
std::vector<SqlStatement> split_statements(std::string_view script);

} // namespace grant::util
