#include <grant/migrate/sql_split.hpp>

#include <grant/util/strings.hpp>

#include <cctype>

namespace grant::migrate {

std::vector<SqlStatement> split_statements(std::string_view script) {
  std::vector<SqlStatement> out;
  std::string current;
  int line = 1;
  int start_line = 1;
  bool has_code = false;
  const auto flush = [&] {
    if (has_code) {
      out.push_back({std::string(util::trim(current)), start_line});
    }
    current.clear();
    has_code = false;
  };
  std::size_t i = 0;
  const auto copy_until = [&](std::string_view terminator) {
    const auto end = script.find(terminator, i);
    const auto stop = end == std::string_view::npos ? script.size() : end + terminator.size();
    for (; i < stop; ++i) {
      line += script[i] == '\n' ? 1 : 0;
      current += script[i];
    }
  };
  while (i < script.size()) {
    const char c = script[i];
    if (!has_code && !std::isspace(static_cast<unsigned char>(c)) && script.compare(i, 2, "--") != 0 &&
        script.compare(i, 2, "/*") != 0 && c != ';') {
      has_code = true;
      start_line = line;
      current.clear(); // the text starts where the code does, so the server's LINE n counts from start_line
    }
    if (script.compare(i, 2, "--") == 0) {
      copy_until("\n");
    } else if (script.compare(i, 2, "/*") == 0) {
      current += "/*";
      i += 2;
      copy_until("*/");
    } else if (c == '\'' || c == '"') {
      current += c;
      ++i;
      copy_until(std::string_view(&c, 1)); // a doubled quote just reopens: same effect
    } else if (c == '$') {
      std::size_t j = i + 1;
      while (j < script.size() && (std::isalnum(static_cast<unsigned char>(script[j])) || script[j] == '_')) {
        ++j;
      }
      if (j < script.size() && script[j] == '$') {
        const std::string tag(script.substr(i, j - i + 1));
        current += tag;
        i = j + 1;
        copy_until(tag);
      } else {
        current += c;
        ++i;
      }
    } else if (c == ';') {
      current += c;
      ++i;
      flush();
    } else {
      line += c == '\n' ? 1 : 0;
      current += c;
      ++i;
    }
  }
  flush();
  return out;
}

} // namespace grant::migrate
