#include <grant/util/sql_split.hpp>

#include <grant/util/strings.hpp>

#include <algorithm>

namespace grant::util {

namespace {

bool word_is(std::string_view text, std::string_view lower) {
  return text.size() == lower.size() && to_lower(text) == lower;
}

int newlines(std::string_view text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

} // namespace

// psql's heuristic for `CREATE [OR REPLACE] {FUNCTION | PROCEDURE} ... BEGIN ATOMIC ... END`:
// inside such a statement BEGIN and CASE open a block that END closes. Also SQLite's
// `CREATE [TEMP] TRIGGER ... BEGIN ...; END` (a PostgreSQL trigger has no BEGIN).
bool StatementEnds::in_routine() const {
  const auto routine = [](const std::string& w) { return w == "function" || w == "procedure"; };
  const bool temp = m_first[1] == "temp" || m_first[1] == "temporary";
  return m_first[0] == "create" &&
         (routine(m_first[1]) || (m_first[1] == "or" && m_first[2] == "replace" && routine(m_first[3])) ||
          m_first[1] == "trigger" || (temp && m_first[2] == "trigger"));
}

void StatementEnds::word(std::string_view text) {
  if (m_words < m_first.size()) {
    m_first[m_words] = to_lower(text);
  }
  ++m_words;
  if (!in_routine() || m_paren_depth != 0) {
    return;
  }
  if (word_is(text, "begin")) {
    ++m_body_depth;
  } else if (word_is(text, "case") && m_body_depth > 0) {
    ++m_body_depth;
  } else if (word_is(text, "end") && m_body_depth > 0) {
    --m_body_depth;
  }
}

bool StatementEnds::ends_at(SqlTokenKind kind, std::string_view text) {
  if (kind == SqlTokenKind::word) {
    word(text);
  } else if (kind == SqlTokenKind::symbol && text == "(") {
    ++m_paren_depth;
  } else if (kind == SqlTokenKind::symbol && text == ")") {
    m_paren_depth = std::max(m_paren_depth - 1, 0);
  } else if (kind == SqlTokenKind::symbol && text == ";" && m_paren_depth == 0 && m_body_depth == 0) {
    *this = StatementEnds{};
    return true;
  }
  return false;
}

std::vector<SqlStatement> split_statements(std::string_view script) {
  std::vector<SqlStatement> out;
  SqlLexer lexer(script);
  StatementEnds ends;
  int line = 1;
  bool has_code = false;
  std::size_t start = 0;
  int start_line = 1;
  const auto flush = [&](std::size_t end) {
    if (has_code) {
      out.push_back({std::string(trim(script.substr(start, end - start))), start_line});
    }
    has_code = false;
  };
  while (!lexer.done()) {
    const auto token = lexer.next();
    const auto text = lexer.text(token);
    const bool semicolon = token.kind == SqlTokenKind::symbol && text == ";";
    if (!has_code && token.kind != SqlTokenKind::space && token.kind != SqlTokenKind::comment && !semicolon) {
      // The text starts where the code does, so the server's LINE n counts from start_line.
      has_code = true;
      start = token.begin;
      start_line = line;
    }
    if (ends.ends_at(token.kind, text)) {
      flush(token.end);
    }
    line += newlines(text);
  }
  flush(script.size());
  return out;
}

} // namespace grant::util
