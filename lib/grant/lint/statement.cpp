#include <grant/lint/statement.hpp>

#include <grant/error.hpp>
#include <grant/lint/linter.hpp>
#include <grant/lint/rules.hpp>
#include <grant/util/strings.hpp>

#include <pg_query.h>

#include <cctype>

namespace grant::lint {

namespace {

std::string at(const std::filesystem::path& file, int line, int column = 0) {
  return file.string() + ":" + std::to_string(line) + (column > 0 ? ":" + std::to_string(column) : "");
}

struct Place {
  int line = 1;
  int column = 1;
};

// Line and column of `offset` within the section, as a place in its file.
Place place_of(const migrate::Section& section, std::size_t offset) {
  Place place{section.first_line, 1};
  for (std::size_t i = 0; i < offset && i < section.sql.size(); ++i) {
    if (section.sql[i] == '\n') {
      ++place.line;
      place.column = 1;
    } else {
      ++place.column;
    }
  }
  return place;
}

// From `from`, past spaces and comments to the statement's first word; the lint markers met on
// the way are the statement's.
std::size_t skip_to_code(const migrate::Section& section, std::size_t from, std::vector<Ignore>& ignores) {
  const std::string& sql = section.sql;
  std::size_t i = from;
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      ++i;
    } else if (sql.compare(i, 2, "--") == 0) {
      const auto end = std::min(sql.find('\n', i), sql.size());
      if (auto ignore =
              parse_ignore(std::string_view(sql).substr(i, end - i), section.file, place_of(section, i).line)) {
        ignores.push_back(std::move(*ignore));
      }
      i = end;
    } else if (sql.compare(i, 2, "/*") == 0) {
      int depth = 0;
      do {
        if (sql.compare(i, 2, "/*") == 0) {
          ++depth;
          i += 2;
        } else if (sql.compare(i, 2, "*/") == 0) {
          --depth;
          i += 2;
        } else {
          ++i;
        }
      } while (depth > 0 && i < sql.size());
    } else {
      break;
    }
  }
  return i;
}

struct ParseResult {
  PgQueryParseResult result;
  ~ParseResult() { pg_query_free_parse_result(result); }
};

} // namespace

std::optional<Ignore> parse_ignore(std::string_view line, const std::filesystem::path& file, int line_number) {
  auto rest = util::trim(line.substr(2));
  constexpr std::string_view k_prefix = "grant:lint";
  if (rest.substr(0, k_prefix.size()) != k_prefix) {
    return std::nullopt;
  }
  rest = rest.substr(k_prefix.size());
  const auto where = at(file, line_number);
  const std::string k_form = "write it as -- grant:lint ignore=RULE reason=\"why this is safe here\"";
  Ignore ignore;
  ignore.line = line_number;
  bool has_reason = false;
  while (!(rest = util::trim(rest)).empty()) {
    const auto equals = rest.find('=');
    if (equals == std::string_view::npos) {
      throw ConfigError("lint marker option " + util::in_quotes(rest) + " has no value", where, k_form);
    }
    const std::string key(util::trim(rest.substr(0, equals)));
    rest = rest.substr(equals + 1);
    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      const auto close = rest.find('"', 1);
      if (close == std::string_view::npos) {
        throw ConfigError("lint marker: the quote after " + key + "= is never closed", where, k_form);
      }
      value = std::string(rest.substr(1, close - 1));
      rest = rest.substr(close + 1);
    } else {
      const auto space = rest.find_first_of(" \t");
      value = std::string(rest.substr(0, space));
      rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space);
    }
    if (key == "ignore") {
      for (const auto& id : util::split(value, ',')) {
        const std::string rule(util::trim(id));
        if (find_rule(rule) == nullptr) {
          std::vector<std::string> ids;
          for (const auto& known : rules()) {
            ids.emplace_back(known.id);
          }
          const auto suggestion = util::closest_match(rule, ids);
          throw ConfigError("lint marker names an unknown rule " + util::in_quotes(rule), where,
                            suggestion.empty() ? "grant lint --help lists the rules (docs/lint/)"
                                               : "did you mean " + suggestion + "?");
        }
        ignore.rules.push_back(rule);
      }
    } else if (key == "reason") {
      has_reason = true;
      ignore.reason = std::string(util::trim(value));
    } else {
      throw ConfigError("unknown lint marker option " + util::in_quotes(key), where, k_form);
    }
  }
  if (ignore.rules.empty()) {
    throw ConfigError("lint marker names no rule", where, k_form);
  }
  if (!has_reason || ignore.reason.empty()) {
    throw ConfigError("lint marker ignoring " + ignore.rules.front() + " gives no reason", where,
                      "say why the statement is safe here: reason=\"...\" (the reason is kept in the file for the "
                      "next reader)");
  }
  return ignore;
}

std::vector<Statement> parse_postgres(const migrate::Section& section) {
  ParseResult parsed{pg_query_parse(section.sql.c_str())};
  if (parsed.result.error != nullptr) {
    const auto offset =
        parsed.result.error->cursorpos > 0 ? static_cast<std::size_t>(parsed.result.error->cursorpos - 1) : 0;
    const auto place = place_of(section, offset);
    throw ParseError(std::string("PostgreSQL's parser rejects the migration: ") + parsed.result.error->message,
                     at(section.file, place.line, place.column),
                     "fix the SQL (psql reports the same error), or lint it with PostgreSQL 15's grammar in mind");
  }
  auto tree = Json::parse(parsed.result.parse_tree);
  std::vector<Statement> out;
  if (!tree.contains("stmts") || !tree["stmts"].is_array()) {
    return out;
  }
  for (auto& raw : tree["stmts"]) {
    const auto location = static_cast<std::size_t>(raw.value("stmt_location", 0));
    const auto length = static_cast<std::size_t>(raw.value("stmt_len", 0));
    Statement statement;
    const auto start = skip_to_code(section, location, statement.ignores);
    auto end = length == 0 ? section.sql.size() : std::min(section.sql.size(), location + length);
    while (end > start && std::isspace(static_cast<unsigned char>(section.sql[end - 1])) != 0) {
      --end;
    }
    statement.text = section.sql.substr(start, end > start ? end - start : 0);
    const auto place = place_of(section, start);
    statement.line = place.line;
    statement.column = place.column;
    if (!raw.contains("stmt") || !raw["stmt"].is_object() || raw["stmt"].empty()) {
      continue;
    }
    statement.node = std::move(raw["stmt"]);
    statement.type = statement.node.begin().key();
    out.push_back(std::move(statement));
  }
  return out;
}

const Json& child(const Json& object, std::string_view key) {
  static const Json k_empty = Json::object();
  if (!object.is_object()) {
    return k_empty;
  }
  const auto found = object.find(key);
  return found != object.end() ? *found : k_empty;
}

const Json& items(const Json& object, std::string_view key) {
  static const Json k_empty = Json::array();
  if (!object.is_object()) {
    return k_empty;
  }
  const auto found = object.find(key);
  return found != object.end() && found->is_array() ? *found : k_empty;
}

std::string text_of(const Json& object, std::string_view key) {
  if (!object.is_object()) {
    return {};
  }
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string{};
}

bool flag_of(const Json& object, std::string_view key) {
  if (!object.is_object()) {
    return false;
  }
  const auto found = object.find(key);
  return found != object.end() && found->is_boolean() && found->get<bool>();
}

std::string relation_name(const Json& range_var) {
  const auto schema = text_of(range_var, "schemaname");
  const auto name = text_of(range_var, "relname");
  return schema.empty() || schema == "public" ? name : schema + "." + name;
}

std::string string_value(const Json& node) {
  if (node.is_object() && node.contains("String")) {
    return text_of(node["String"], "sval");
  }
  return {};
}

std::vector<std::string> string_list(const Json& list) {
  std::vector<std::string> out;
  if (list.is_array()) {
    for (const auto& item : list) {
      out.push_back(string_value(item));
    }
  }
  return out;
}

std::string dotted_name(const Json& list) {
  auto parts = string_list(list);
  if (parts.size() > 1 && parts.front() == "public") {
    parts.erase(parts.begin());
  }
  std::string out;
  for (const auto& part : parts) {
    out += (out.empty() ? "" : ".") + part;
  }
  return out;
}

std::string function_name(const Json& func_call) {
  const auto parts = string_list(func_call.is_object() ? items(func_call, "funcname") : Json::array());
  return parts.empty() ? std::string{} : util::to_lower(parts.back());
}

bool calls_any(const Json& node, const std::set<std::string_view>& names) {
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (key == "FuncCall" && names.count(function_name(value)) > 0) {
        return true;
      }
      if (calls_any(value, names)) {
        return true;
      }
    }
  } else if (node.is_array()) {
    for (const auto& item : node) {
      if (calls_any(item, names)) {
        return true;
      }
    }
  }
  return false;
}

} // namespace grant::lint
