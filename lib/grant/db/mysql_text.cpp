#include <grant/db/mysql_text.hpp>

#include <cctype>
#include <cstdlib>

namespace grant::db::mysql_text {

bool is_connection_error(unsigned code) {
  return code == 2002 || code == 2003 || code == 2006 || code == 2013 || code == 2055;
}

int line_from_message(const std::string& message) {
  const auto at = message.rfind(" at line ");
  return at == std::string::npos ? 0 : std::atoi(message.c_str() + at + 9);
}

std::string with_params(std::string_view sql, const Params& params) {
  if (params.empty()) {
    return std::string(sql);
  }
  std::string out;
  out.reserve(sql.size() + 16 * params.size());
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'' || c == '"' || c == '`') {
      auto end = i + 1;
      while (end < sql.size() && sql[end] != c) {
        end += (sql[end] == '\\' && c != '`') ? 2 : 1;
      }
      out.append(sql.substr(i, end + 1 - i));
      i = end;
    } else if (c == '$' && i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1])) != 0) {
      std::size_t end = i + 1;
      while (end < sql.size() && std::isdigit(static_cast<unsigned char>(sql[end])) != 0) {
        ++end;
      }
      const auto index = static_cast<std::size_t>(std::atoi(std::string(sql.substr(i + 1, end - i - 1)).c_str()));
      if (index == 0 || index > params.size()) {
        throw Error(ErrorKind::usage,
                    "statement refers to parameter $" + std::to_string(index) + " of " + std::to_string(params.size()));
      }
      const auto& value = params[index - 1];
      out += value ? quote_literal(Dialect::mysql, *value) : "NULL";
      i = end - 1;
    } else {
      out += c;
    }
  }
  return out;
}

ValueType value_type(const MYSQL_FIELD& field) {
  switch (field.type) {
  case MYSQL_TYPE_TINY:
  case MYSQL_TYPE_SHORT:
  case MYSQL_TYPE_LONG:
  case MYSQL_TYPE_LONGLONG:
  case MYSQL_TYPE_INT24:
  case MYSQL_TYPE_YEAR:
    return ValueType::integer;
  case MYSQL_TYPE_DECIMAL:
  case MYSQL_TYPE_NEWDECIMAL:
  case MYSQL_TYPE_FLOAT:
  case MYSQL_TYPE_DOUBLE:
    return ValueType::number;
  case MYSQL_TYPE_JSON:
    return ValueType::json;
  default:
    return ValueType::text;
  }
}

} // namespace grant::db::mysql_text
