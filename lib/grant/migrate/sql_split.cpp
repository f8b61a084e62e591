#include <grant/migrate/sql_split.hpp>

#include <grant/util/sql_lexer.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <array>

namespace grant::migrate {

namespace {

using util::SqlLexer;
using Token = util::SqlToken;
using TokenKind = util::SqlTokenKind;

bool word_is(std::string_view text, std::string_view lower) {
  return text.size() == lower.size() && util::to_lower(text) == lower;
}

// psql's heuristic for `CREATE [OR REPLACE] {FUNCTION | PROCEDURE} ... BEGIN ATOMIC ... END`:
// inside such a statement BEGIN and CASE open a block that END closes.
class RoutineBody {
public:
  void word(std::string_view text, int paren_depth) {
    if (m_words < m_first.size()) {
      m_first[m_words] = util::to_lower(text);
    }
    ++m_words;
    if (!is_routine() || paren_depth != 0) {
      return;
    }
    if (word_is(text, "begin")) {
      ++m_depth;
    } else if (word_is(text, "case") && m_depth > 0) {
      ++m_depth;
    } else if (word_is(text, "end") && m_depth > 0) {
      --m_depth;
    }
  }
  bool inside() const { return m_depth > 0; }

private:
  // Also SQLite's `CREATE [TEMP] TRIGGER ... BEGIN ...; END` (a PostgreSQL trigger has no BEGIN).
  bool is_routine() const {
    const auto routine = [](const std::string& w) { return w == "function" || w == "procedure"; };
    const bool temp = m_first[1] == "temp" || m_first[1] == "temporary";
    return m_first[0] == "create" &&
           (routine(m_first[1]) || (m_first[1] == "or" && m_first[2] == "replace" && routine(m_first[3])) ||
            m_first[1] == "trigger" || (temp && m_first[2] == "trigger"));
  }

  std::array<std::string, 4> m_first;
  std::size_t m_words = 0;
  int m_depth = 0;
};

int newlines(std::string_view text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

} // namespace

std::vector<SqlStatement> split_statements(std::string_view script) {
  std::vector<SqlStatement> out;
  SqlLexer lexer(script);
  int line = 1;
  bool has_code = false;
  std::size_t start = 0;
  int start_line = 1;
  int paren_depth = 0;
  RoutineBody routine;
  const auto flush = [&](std::size_t end) {
    if (has_code) {
      out.push_back({std::string(util::trim(script.substr(start, end - start))), start_line});
    }
    has_code = false;
    paren_depth = 0;
    routine = RoutineBody{};
  };
  while (!lexer.done()) {
    const auto token = lexer.next();
    const auto text = script.substr(token.begin, token.end - token.begin);
    const bool semicolon = token.kind == TokenKind::symbol && text == ";";
    if (!has_code && token.kind != TokenKind::space && token.kind != TokenKind::comment && !semicolon) {
      // The text starts where the code does, so the server's LINE n counts from start_line.
      has_code = true;
      start = token.begin;
      start_line = line;
    }
    if (token.kind == TokenKind::word) {
      routine.word(text, paren_depth);
    } else if (token.kind == TokenKind::symbol && text == "(") {
      ++paren_depth;
    } else if (token.kind == TokenKind::symbol && text == ")") {
      paren_depth = std::max(paren_depth - 1, 0);
    } else if (semicolon && paren_depth == 0 && !routine.inside()) {
      flush(token.end);
    }
    line += newlines(text);
  }
  flush(script.size());
  return out;
}

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
  SqlLexer lexer(statement);
  std::vector<std::string> words;
  while (!lexer.done() && words.size() < 3) {
    const auto token = lexer.next();
    if (token.kind == TokenKind::space || token.kind == TokenKind::comment) {
      continue;
    }
    if (token.kind != TokenKind::word) {
      break;
    }
    words.push_back(util::to_lower(lexer.text(token)));
  }
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

} // namespace grant::migrate
