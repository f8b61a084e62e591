#pragma once

#include <cstddef>
#include <string_view>

namespace grant::util {

enum class SqlTokenKind { space, comment, literal, word, symbol };

/// One token: its kind and its byte range in the text the lexer reads.
struct SqlToken {
  SqlTokenKind kind = SqlTokenKind::symbol;
  std::size_t begin = 0;
  std::size_t end = 0;
};

/// PostgreSQL's SQL split into tokens, enough to find statement ends and keywords: quotes
/// ('...', E'...' with backslash escapes, "..." identifiers, $tag$...$tag$ dollar quotes), `--`
/// and nested `/* */` comments are one token each. A `$` after an identifier character is part
/// of the identifier (`price$`), `$1` is a symbol. An unterminated quote or comment runs to the
/// end of the text, as it does for the server.
class SqlLexer {
public:
  explicit SqlLexer(std::string_view text) : m_text(text) {}

  bool done() const { return m_pos >= m_text.size(); }
  /// The next token; call only while !done().
  SqlToken next();
  /// The text of a token from this lexer.
  std::string_view text(const SqlToken& token) const { return m_text.substr(token.begin, token.end - token.begin); }

private:
  bool at(std::string_view text) const { return m_text.compare(m_pos, text.size(), text) == 0; }
  void block_comment();
  void quoted(char quote, bool backslash_escapes);
  bool dollar();

  std::string_view m_text;
  std::size_t m_pos = 0;
};

} // namespace grant::util
