#include <grant/migrate/sql_split.hpp>

#include <grant/util/strings.hpp>

#include <algorithm>
#include <array>
#include <cctype>

namespace grant::migrate {

namespace {

enum class TokenKind { space, comment, literal, word, symbol };

struct Token {
  TokenKind kind = TokenKind::symbol;
  std::size_t begin = 0;
  std::size_t end = 0;
};

bool high_bit(char c) {
  return (static_cast<unsigned char>(c) & 0x80) != 0;
}
bool ident_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' || high_bit(c);
}
bool ident_char(char c) {
  return ident_start(c) || std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '$';
}
bool tag_char(char c) {
  return ident_start(c) || std::isdigit(static_cast<unsigned char>(c)) != 0;
}

// One lexical token of PostgreSQL's SQL, enough to know where statements end. An unterminated
// quote or comment runs to the end of the script, as it does for the server.
class Lexer {
public:
  explicit Lexer(std::string_view script) : m_script(script) {}

  bool done() const { return m_pos >= m_script.size(); }

  Token next() {
    const std::size_t begin = m_pos;
    const char c = m_script[m_pos];
    TokenKind kind = TokenKind::symbol;
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      while (!done() && std::isspace(static_cast<unsigned char>(m_script[m_pos])) != 0) {
        ++m_pos;
      }
      kind = TokenKind::space;
    } else if (at("--")) {
      const auto newline = m_script.find('\n', m_pos);
      m_pos = newline == std::string_view::npos ? m_script.size() : newline;
      kind = TokenKind::comment;
    } else if (at("/*")) {
      block_comment();
      kind = TokenKind::comment;
    } else if (c == '\'') {
      quoted('\'', false);
      kind = TokenKind::literal;
    } else if (c == '"') {
      quoted('"', false);
      kind = TokenKind::literal;
    } else if (ident_start(c)) {
      while (!done() && ident_char(m_script[m_pos])) {
        ++m_pos;
      }
      kind = TokenKind::word;
      if (m_pos - begin == 1 && (c == 'E' || c == 'e') && !done() && m_script[m_pos] == '\'') {
        quoted('\'', true); // E'...': backslash escapes
        kind = TokenKind::literal;
      }
    } else if (std::isdigit(static_cast<unsigned char>(c)) != 0) {
      while (!done() && (tag_char(m_script[m_pos]) || m_script[m_pos] == '.')) {
        ++m_pos;
      }
      kind = TokenKind::word;
    } else if (c == '$') {
      kind = dollar() ? TokenKind::literal : TokenKind::symbol;
    } else {
      ++m_pos;
    }
    return {kind, begin, m_pos};
  }

private:
  bool at(std::string_view text) const { return m_script.compare(m_pos, text.size(), text) == 0; }

  void block_comment() {
    int depth = 0;
    while (!done()) {
      if (at("/*")) {
        ++depth;
        m_pos += 2;
      } else if (at("*/")) {
        m_pos += 2;
        if (--depth == 0) {
          return;
        }
      } else {
        ++m_pos;
      }
    }
  }

  // From the opening quote at m_pos; a doubled quote is one quote character.
  void quoted(char quote, bool backslash_escapes) {
    ++m_pos;
    while (!done()) {
      const char c = m_script[m_pos++];
      if (backslash_escapes && c == '\\') {
        m_pos = std::min(m_pos + 1, m_script.size());
      } else if (c == quote) {
        if (done() || m_script[m_pos] != quote) {
          return;
        }
        ++m_pos;
      }
    }
  }

  // `$tag$ ... $tag$` or `$$ ... $$`; `$1` and a lone `$` are no quotes.
  bool dollar() {
    std::size_t j = m_pos + 1;
    if (j < m_script.size() && ident_start(m_script[j])) {
      while (j < m_script.size() && tag_char(m_script[j])) {
        ++j;
      }
    }
    if (j >= m_script.size() || m_script[j] != '$') {
      ++m_pos;
      while (!done() && std::isdigit(static_cast<unsigned char>(m_script[m_pos])) != 0) {
        ++m_pos;
      }
      return false;
    }
    const auto tag = m_script.substr(m_pos, j - m_pos + 1);
    const auto close = m_script.find(tag, j + 1);
    m_pos = close == std::string_view::npos ? m_script.size() : close + tag.size();
    return true;
  }

  std::string_view m_script;
  std::size_t m_pos = 0;
};

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
  bool is_routine() const {
    const auto routine = [](const std::string& w) { return w == "function" || w == "procedure"; };
    return m_first[0] == "create" &&
           (routine(m_first[1]) || (m_first[1] == "or" && m_first[2] == "replace" && routine(m_first[3])));
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
  Lexer lexer(script);
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
  Lexer lexer(statement);
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

} // namespace grant::migrate
