// The PostgreSQL adapter's text handling: error messages, COPY's text format, type OIDs.
#include <grant/db/postgres_text.hpp>

#include <grant/util/url.hpp>

#include <algorithm>
#include <regex>

namespace grant::db::postgres_text {

// libpqxx prefixes nothing useful; keep the server's words, drop trailing newlines.
std::string clean_message(const std::string& raw) {
  std::string text = util::redact_secrets(raw);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  // The severity word adds nothing to "grant: error:", wherever libpq put it.
  for (const std::string_view severity : {"ERROR:  ", "FATAL:  "}) {
    for (auto pos = text.find(severity); pos != std::string::npos; pos = text.find(severity, pos)) {
      text.erase(pos, severity.size());
    }
  }
  return text;
}

namespace {

// The server's "LINE 3:" in an error message.
const std::regex& line_pattern() {
  static const std::regex k_line(R"(LINE (\d+):)");
  return k_line;
}

} // namespace

int line_from_message(const std::string& message) {
  std::smatch match;
  return std::regex_search(message, match, line_pattern()) ? std::stoi(match[1]) : 0;
}

int shift_line_back(std::string& message) {
  std::smatch match;
  if (!std::regex_search(message, match, line_pattern()) || std::stoi(match[1]) <= 1) {
    return 0;
  }
  const int line = std::stoi(match[1]) - 1;
  message.replace(static_cast<std::size_t>(match.position(1)), static_cast<std::size_t>(match.length(1)),
                  std::to_string(line));
  return line;
}

std::string with_parameter(std::string url, std::string_view name, const std::string& value) {
  if (url.find(std::string(name) + "=") != std::string::npos) {
    return url;
  }
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += std::string(name) + "=" + value;
  return url;
}

ValueType value_type(unsigned int type_oid) {
  switch (type_oid) {
  case 20:
  case 21:
  case 23:
  case 26: // int8, int2, int4, oid
    return ValueType::integer;
  case 700:
  case 701:
  case 1700: // float4, float8, numeric
    return ValueType::number;
  case 16:
    return ValueType::boolean;
  case 114:
  case 3802: // json, jsonb
    return ValueType::json;
  default:
    return ValueType::text;
  }
}

// COPY text format: tab-separated, \N for NULL, backslash escapes.
void split_copy_line(const std::string& line, std::vector<std::string>& decoded, std::vector<std::string_view>& fields,
                     std::vector<bool>& nulls) {
  fields.clear();
  nulls.clear();
  // Size the decode buffers first: views into them must not move while the row is built.
  const auto columns = static_cast<std::size_t>(std::count(line.begin(), line.end(), '\t')) + 1;
  if (decoded.size() < columns) {
    decoded.resize(columns);
  }
  std::size_t field_count = 0;
  std::size_t start = 0;
  while (true) {
    auto end = line.find('\t', start);
    if (end == std::string::npos) {
      end = line.size();
    }
    const std::string_view raw(line.data() + start, end - start);
    if (raw == "\\N") {
      fields.emplace_back();
      nulls.push_back(true);
    } else if (raw.find('\\') == std::string_view::npos) {
      fields.push_back(raw);
      nulls.push_back(false);
    } else {
      auto& out = decoded[field_count];
      out.clear();
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '\\' || i + 1 == raw.size()) {
          out += raw[i];
          continue;
        }
        const char next = raw[++i];
        switch (next) {
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        default:
          if (next >= '0' && next <= '7') {
            int value = next - '0';
            for (int k = 0; k < 2 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7'; ++k) {
              value = value * 8 + (raw[++i] - '0');
            }
            out += static_cast<char>(value);
          } else {
            out += next;
          }
        }
      }
      fields.emplace_back(out);
      nulls.push_back(false);
    }
    ++field_count;
    if (end == line.size()) {
      return;
    }
    start = end + 1;
  }
}

} // namespace grant::db::postgres_text
