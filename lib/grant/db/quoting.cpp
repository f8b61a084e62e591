#include <grant/db/quoting.hpp>

#include <grant/db/engine.hpp>
#include <grant/error.hpp>

namespace grant::db {

namespace {

std::string double_up(std::string_view text, char quote) {
  std::string out;
  out.reserve(text.size() + 2);
  out += quote;
  for (const char c : text) {
    if (c == '\0') {
      throw Error(ErrorKind::usage, "a NUL byte cannot appear in an SQL identifier or literal");
    }
    out += c;
    if (c == quote) {
      out += quote;
    }
  }
  out += quote;
  return out;
}

} // namespace

std::string_view dialect_name(Dialect dialect) {
  return traits_for(dialect).name;
}

std::string quote_identifier(Dialect dialect, std::string_view name) {
  // PostgreSQL and SQLite use the SQL-standard double quote; MySQL backquotes (a double quote
  // is a string there unless sql_mode has ANSI_QUOTES).
  return double_up(name, dialect == Dialect::mysql ? '`' : '"');
}

std::string quote_qualified(Dialect dialect, std::string_view dotted_name) {
  return engine_for(dialect).quote_qualified(dotted_name);
}

std::string quote_literal(Dialect dialect, std::string_view text) {
  if (dialect != Dialect::mysql) {
    return double_up(text, '\'');
  }
  // MySQL also reads backslash escapes inside a literal (unless NO_BACKSLASH_ESCAPES): doubled.
  std::string doubled;
  doubled.reserve(text.size());
  for (const char c : text) {
    doubled += c;
    if (c == '\\') {
      doubled += c;
    }
  }
  return double_up(doubled, '\'');
}

std::string quote_identifier(std::string_view name) {
  return double_up(name, '"');
}

std::string quote_literal(std::string_view text) {
  return double_up(text, '\'');
}

void append_array_element(std::string& out, const std::optional<std::string>& value) {
  if (!value) {
    out += "NULL";
    return;
  }
  out += '"';
  for (const char c : *value) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
}

std::string array_literal(const std::vector<std::optional<std::string>>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    append_array_element(out, values[i]);
  }
  return out + "}";
}

} // namespace grant::db
