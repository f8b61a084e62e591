#include <grant/util/sql_lexer.hpp>

#include <algorithm>
#include <cctype>

namespace grant::util {

namespace {

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

} // namespace

SqlToken SqlLexer::next() {
  const std::size_t begin = m_pos;
  const char c = m_text[m_pos];
  SqlTokenKind kind = SqlTokenKind::symbol;
  if (std::isspace(static_cast<unsigned char>(c)) != 0) {
    while (!done() && std::isspace(static_cast<unsigned char>(m_text[m_pos])) != 0) {
      ++m_pos;
    }
    kind = SqlTokenKind::space;
  } else if (at("--")) {
    const auto newline = m_text.find('\n', m_pos);
    m_pos = newline == std::string_view::npos ? m_text.size() : newline;
    kind = SqlTokenKind::comment;
  } else if (at("/*")) {
    block_comment();
    kind = SqlTokenKind::comment;
  } else if (c == '\'') {
    quoted('\'', false);
    kind = SqlTokenKind::literal;
  } else if (c == '"') {
    quoted('"', false);
    kind = SqlTokenKind::literal;
  } else if (ident_start(c)) {
    while (!done() && ident_char(m_text[m_pos])) {
      ++m_pos;
    }
    kind = SqlTokenKind::word;
    if (m_pos - begin == 1 && (c == 'E' || c == 'e') && !done() && m_text[m_pos] == '\'') {
      quoted('\'', true); // E'...': backslash escapes
      kind = SqlTokenKind::literal;
    }
  } else if (std::isdigit(static_cast<unsigned char>(c)) != 0) {
    while (!done() && (tag_char(m_text[m_pos]) || m_text[m_pos] == '.')) {
      ++m_pos;
    }
    kind = SqlTokenKind::word;
  } else if (c == '$') {
    kind = dollar() ? SqlTokenKind::literal : SqlTokenKind::symbol;
  } else {
    ++m_pos;
  }
  return {kind, begin, m_pos};
}

void SqlLexer::block_comment() {
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
void SqlLexer::quoted(char quote, bool backslash_escapes) {
  ++m_pos;
  while (!done()) {
    const char c = m_text[m_pos++];
    if (backslash_escapes && c == '\\') {
      m_pos = std::min(m_pos + 1, m_text.size());
    } else if (c == quote) {
      if (done() || m_text[m_pos] != quote) {
        return;
      }
      ++m_pos;
    }
  }
}

// `$tag$ ... $tag$` or `$$ ... $$`; `$1` and a lone `$` are no quotes.
bool SqlLexer::dollar() {
  std::size_t j = m_pos + 1;
  if (j < m_text.size() && ident_start(m_text[j])) {
    while (j < m_text.size() && tag_char(m_text[j])) {
      ++j;
    }
  }
  if (j >= m_text.size() || m_text[j] != '$') {
    ++m_pos;
    while (!done() && std::isdigit(static_cast<unsigned char>(m_text[m_pos])) != 0) {
      ++m_pos;
    }
    return false;
  }
  const auto tag = m_text.substr(m_pos, j - m_pos + 1);
  const auto close = m_text.find(tag, j + 1);
  m_pos = close == std::string_view::npos ? m_text.size() : close + tag.size();
  return true;
}

} // namespace grant::util
