// util::split_statements. Properties: the statements are the input's code, byte for byte and
// in order, and what lies between them is only whitespace, comments and semicolons (checked
// against util::SqlLexer's tokens of the whole input); each first_line is the line the statement
// starts on; a statement split again on its own is that one statement; splitting is deterministic.
#include "fuzz_common.hpp"

#include <grant/migrate/statement_kind.hpp>
#include <grant/util/sql_lexer.hpp>
#include <grant/util/sql_split.hpp>

#include <algorithm>
#include <cctype>

using namespace grant;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto script = fuzz::as_text(data, size);
  std::vector<util::SqlStatement> statements;
  fuzz::run_parser([&] { statements = util::split_statements(script); }, fuzz::NeedsWhere::no);

  // Walk the lexer's tokens: outside a statement only space, comments and ';' may appear; a
  // statement starts at a token and covers the input's bytes exactly.
  util::SqlLexer lexer(script);
  std::size_t next = 0;    // statement expected next
  std::size_t covered = 0; // input bytes up to here are accounted for
  while (!lexer.done()) {
    const auto token = lexer.next();
    if (token.begin < covered) {
      // A statement ends at a token's end, or (the last one, trimmed) inside it before whitespace.
      for (auto i = covered; i < token.end; ++i) {
        fuzz::check(std::isspace(static_cast<unsigned char>(script[i])) != 0,
                    "only whitespace is trimmed off a statement", "byte " + std::to_string(i));
      }
      continue;
    }
    const auto text = script.substr(token.begin, token.end - token.begin);
    const bool filler = token.kind == util::SqlTokenKind::space || token.kind == util::SqlTokenKind::comment ||
                        (token.kind == util::SqlTokenKind::symbol && text == ";");
    if (filler) {
      continue;
    }
    fuzz::check(next < statements.size(), "every code token belongs to a statement",
                "code at byte " + std::to_string(token.begin) + " is in no statement");
    const auto& statement = statements[next];
    fuzz::check(script.substr(token.begin, statement.text.size()) == statement.text,
                "a statement is the input's bytes from where its code starts",
                "statement " + std::to_string(next) + " differs from the input at byte " + std::to_string(token.begin));
    const auto line = 1 + std::count(script.begin(), script.begin() + static_cast<std::ptrdiff_t>(token.begin), '\n');
    fuzz::check(statement.first_line == line, "first_line is the line the statement starts on");
    covered = token.begin + statement.text.size();
    ++next;
  }
  fuzz::check(next == statements.size(), "no statement without code",
              std::to_string(statements.size() - next) + " extra");
  fuzz::check(covered <= script.size(), "statements lie inside the input");

  for (const auto& statement : statements) {
    const auto again = util::split_statements(statement.text);
    fuzz::check(again.size() == 1 && again[0].text == statement.text && again[0].first_line == 1,
                "a statement split on its own is itself", statement.text);
  }
  const auto twice = util::split_statements(script);
  fuzz::check(twice.size() == statements.size(), "splitting is deterministic");
  (void)migrate::is_copy_from_stdin(script);
  return 0;
}
