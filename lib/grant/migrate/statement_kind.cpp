#include <grant/migrate/statement_kind.hpp>

#include <grant/util/sql_lexer.hpp>
#include <grant/util/strings.hpp>

#include <vector>

namespace grant::migrate {

namespace {

using util::SqlLexer;
using TokenKind = util::SqlTokenKind;

// Up to `count` words the statement starts with, in lower case (comments and spaces skipped; a
// symbol or a literal ends them).
std::vector<std::string> leading_words(std::string_view statement, std::size_t count) {
  SqlLexer lexer(statement);
  std::vector<std::string> words;
  while (!lexer.done() && words.size() < count) {
    const auto token = lexer.next();
    if (token.kind == TokenKind::space || token.kind == TokenKind::comment) {
      continue;
    }
    if (token.kind != TokenKind::word) {
      break;
    }
    words.push_back(util::to_lower(lexer.text(token)));
  }
  return words;
}

} // namespace

bool is_copy_from_stdin(std::string_view statement) {
  SqlLexer lexer(statement);
  std::vector<std::string> words;
  int paren_depth = 0;
  while (!lexer.done()) {
    const auto token = lexer.next();
    const auto text = statement.substr(token.begin, token.end - token.begin);
    if (token.kind == TokenKind::symbol) {
      paren_depth += text == "(" ? 1 : (text == ")" ? -1 : 0);
    } else if (token.kind == TokenKind::word && paren_depth == 0) {
      words.push_back(util::to_lower(text));
    }
  }
  if (words.empty() || words.front() != "copy") {
    return false;
  }
  for (std::size_t i = 1; i + 1 < words.size(); ++i) {
    if (words[i] == "from" && words[i + 1] == "stdin") {
      return true;
    }
  }
  return false;
}

std::optional<std::string> transaction_control(std::string_view statement) {
  auto words = leading_words(statement, 3);
  words.resize(3);
  const auto& first = words[0];
  const auto& second = words[1];
  if (first == "begin" || first == "end" || first == "abort") {
    return first == "begin" ? "BEGIN" : (first == "end" ? "END" : "ABORT");
  }
  if ((first == "start" || first == "prepare") && second == "transaction") {
    return first == "start" ? "START TRANSACTION" : "PREPARE TRANSACTION";
  }
  if (first == "commit" && second != "prepared") {
    return std::string("COMMIT");
  }
  // ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name only undoes part of the transaction.
  const bool to_savepoint = second == "to" || ((second == "work" || second == "transaction") && words[2] == "to");
  if (first == "rollback" && second != "prepared" && !to_savepoint) {
    return std::string("ROLLBACK");
  }
  return std::nullopt;
}

bool creates_only(std::string_view statement) {
  auto words = leading_words(statement, 3);
  if (words.size() < 2 || words[0] != "create") {
    return false;
  }
  const auto object = [](const std::string& word) {
    return word == "table" || word == "index" || word == "view" || word == "trigger";
  };
  const auto& second = words[1];
  if (object(second)) {
    return true;
  }
  const bool modifier = second == "temp" || second == "temporary" || second == "unique" || second == "virtual";
  return modifier && words.size() == 3 && object(words[2]);
}

} // namespace grant::migrate
