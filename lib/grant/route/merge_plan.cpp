#include <grant/route/merge_plan.hpp>

#include <grant/error.hpp>
#include <grant/util/sql_lexer.hpp>
#include <grant/util/strings.hpp>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace grant::route {

namespace {

// A top-level token of the query: enough to find its trailing ORDER BY / LIMIT / OFFSET.
struct Token {
  enum Kind { word, quoted, number, symbol } kind = symbol;
  std::string text; ///< words lower case, quoted identifiers unquoted
  std::size_t begin = 0;
  std::size_t end = 0;
};

// The tokens at parenthesis depth 0 (an opening parenthesis itself included, so that a call is
// seen as one); strings, dollar quotes and comments are skipped, as util::SqlLexer reads them.
std::vector<Token> top_level_tokens(std::string_view sql) {
  std::vector<Token> out;
  int depth = 0;
  util::SqlLexer lexer(sql);
  while (!lexer.done()) {
    const auto token = lexer.next();
    const auto text = lexer.text(token);
    switch (token.kind) {
    case util::SqlTokenKind::space:
    case util::SqlTokenKind::comment:
      break;
    case util::SqlTokenKind::literal:
      if (depth == 0 && text.front() == '"') { // a quoted identifier; '' "" inside stand for one "
        std::string name;
        for (std::size_t k = 1; k + 1 < text.size(); ++k) {
          name += text[k];
          k += text[k] == '"' ? 1 : 0;
        }
        out.push_back({Token::quoted, name, token.begin, token.end});
      }
      break;
    case util::SqlTokenKind::word:
      if (depth == 0) {
        const bool number = std::isdigit(static_cast<unsigned char>(text.front())) != 0;
        out.push_back({number ? Token::number : Token::word, number ? std::string(text) : util::to_lower(text),
                       token.begin, token.end});
      }
      break;
    case util::SqlTokenKind::symbol:
      if (text == "(") {
        if (depth == 0) {
          out.push_back({Token::symbol, "(", token.begin, token.end}); // `ORDER BY lower(a)`: an expression
        }
        ++depth;
      } else if (text == ")") {
        --depth;
      } else if (depth == 0) {
        out.push_back({Token::symbol, std::string(text), token.begin, token.end});
      }
      break;
    }
  }
  return out;
}

bool is_word(const std::vector<Token>& tokens, std::size_t i, std::string_view word) {
  return i < tokens.size() && tokens[i].kind == Token::word && tokens[i].text == word;
}

[[noreturn]] void cannot_merge(const std::string& what) {
  throw ConfigError("cannot merge the shards' rows: " + what, "the query's ORDER BY / LIMIT",
                    "order by output columns (by name or position) and LIMIT/OFFSET with plain numbers, "
                    "or drop the ORDER BY to get each shard's rows in turn");
}

long long count_value(const std::vector<Token>& tokens, std::size_t i, std::string_view clause) {
  long long value = 0;
  if (i >= tokens.size() || tokens[i].kind != Token::number ||
      std::from_chars(tokens[i].text.data(), tokens[i].text.data() + tokens[i].text.size(), value).ec != std::errc{} ||
      value < 0) {
    cannot_merge(std::string(clause) + " needs a plain number");
  }
  return value;
}

// One ORDER BY item from tokens[i]; leaves i past it.
SortKey sort_key(const std::vector<Token>& tokens, std::size_t& i) {
  SortKey key;
  const auto at_name = [&] {
    return i < tokens.size() && (tokens[i].kind == Token::word || tokens[i].kind == Token::quoted);
  };
  if (i < tokens.size() && tokens[i].kind == Token::number) {
    key.position = static_cast<std::size_t>(std::strtoull(tokens[i].text.c_str(), nullptr, 10));
    ++i;
  } else if (at_name()) {
    key.column = tokens[i++].text;
    while (i + 1 < tokens.size() && tokens[i].text == "." && tokens[i].kind == Token::symbol) {
      ++i; // t.column: the merge sees the output column's name
      if (!at_name()) {
        break;
      }
      key.column = tokens[i++].text;
    }
  } else {
    cannot_merge("an ORDER BY key is an expression");
  }
  if (is_word(tokens, i, "collate")) {
    i += 2; // the merge compares bytes, which is the "C" collation
  }
  if (is_word(tokens, i, "asc") || is_word(tokens, i, "desc")) {
    key.descending = tokens[i++].text == "desc";
  }
  if (is_word(tokens, i, "nulls") && (is_word(tokens, i + 1, "first") || is_word(tokens, i + 1, "last"))) {
    key.nulls_first = tokens[i + 1].text == "first";
    i += 2;
  }
  const bool ends = i >= tokens.size() || tokens[i].text == "," || tokens[i].text == ";" ||
                    is_word(tokens, i, "limit") || is_word(tokens, i, "offset");
  if (!ends) {
    cannot_merge("ORDER BY key " + util::in_quotes(key.column.empty() ? std::to_string(key.position) : key.column) +
                 " is followed by " + util::in_quotes(tokens[i].text) + " (an expression?)");
  }
  return key;
}

} // namespace

MergePlan plan_merge(std::string_view sql) {
  MergePlan plan;
  const auto tokens = top_level_tokens(sql);
  std::size_t order_at = tokens.size();
  std::size_t tail_at = tokens.size();
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (is_word(tokens, i, "order") && is_word(tokens, i + 1, "by")) {
      order_at = i; // the last one: an earlier ORDER BY belongs to a UNION branch in parentheses
    }
  }
  std::size_t i = order_at;
  std::size_t order_end = 0;
  if (order_at < tokens.size()) {
    tail_at = order_at;
    i = order_at + 2;
    while (true) {
      plan.order.push_back(sort_key(tokens, i));
      order_end = tokens[i - 1].end;
      if (i < tokens.size() && tokens[i].text == ",") {
        ++i;
        continue;
      }
      break;
    }
  } else {
    for (i = 0; i < tokens.size() && !is_word(tokens, i, "limit") && !is_word(tokens, i, "offset"); ++i) {
    }
    tail_at = i;
  }
  while (i < tokens.size() && tokens[i].text != ";") {
    if (is_word(tokens, i, "limit")) {
      if (is_word(tokens, i + 1, "all")) {
        i += 2;
        continue;
      }
      plan.limit = count_value(tokens, i + 1, "LIMIT");
      i += 2;
    } else if (is_word(tokens, i, "offset")) {
      plan.offset = count_value(tokens, i + 1, "OFFSET");
      i += 2;
      if (is_word(tokens, i, "row") || is_word(tokens, i, "rows")) {
        ++i;
      }
    } else {
      cannot_merge("the query goes on after its ORDER BY / LIMIT with " + util::in_quotes(tokens[i].text));
    }
  }
  if (tail_at >= tokens.size()) {
    plan.shard_sql = std::string(sql);
    return plan;
  }
  plan.shard_sql = std::string(sql.substr(0, tokens[tail_at].begin));
  if (!plan.order.empty()) {
    plan.shard_sql += std::string(sql.substr(tokens[order_at].begin, order_end - tokens[order_at].begin));
  }
  if (plan.limit) {
    plan.shard_sql += " LIMIT " + std::to_string(*plan.limit + plan.offset);
  }
  return plan;
}

std::size_t resolve_sort_key(const SortKey& key, const std::vector<db::Column>& columns) {
  if (key.position > 0) {
    if (key.position <= columns.size()) {
      return key.position - 1;
    }
    cannot_merge("ORDER BY " + std::to_string(key.position) + " but the query has " + std::to_string(columns.size()) +
                 " columns");
  }
  for (std::size_t c = 0; c < columns.size(); ++c) {
    if (columns[c].name == key.column) {
      return c;
    }
  }
  cannot_merge("ORDER BY " + util::in_quotes(key.column) + " is not an output column; add it to the select list");
}

namespace {

bool numeric(db::ValueType type) {
  return type == db::ValueType::integer || type == db::ValueType::number;
}

int compare_integers(std::string_view a, std::string_view b) {
  long long x = 0;
  long long y = 0;
  const bool ok_x = std::from_chars(a.data(), a.data() + a.size(), x).ec == std::errc{};
  const bool ok_y = std::from_chars(b.data(), b.data() + b.size(), y).ec == std::errc{};
  if (ok_x && ok_y) {
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a.compare(b) < 0 ? -1 : a == b ? 0 : 1;
}

// The merge compares on every row: no allocation unless from_chars cannot read the text.
double number_of(std::string_view text) {
  double value = 0;
  if (std::from_chars(text.data(), text.data() + text.size(), value).ec == std::errc{}) {
    return value;
  }
  return std::strtod(std::string(text).c_str(), nullptr);
}

int compare_numbers(std::string_view a, std::string_view b) {
  const double x = number_of(a);
  const double y = number_of(b);
  if (std::isnan(x) || std::isnan(y)) {
    return std::isnan(x) == std::isnan(y) ? 0 : std::isnan(x) ? 1 : -1;
  }
  return x < y ? -1 : x > y ? 1 : 0;
}

} // namespace

int compare_values(std::string_view a, db::ValueType a_type, std::string_view b, db::ValueType b_type) {
  if (numeric(a_type) && numeric(b_type)) {
    return a_type == db::ValueType::integer && b_type == db::ValueType::integer ? compare_integers(a, b)
                                                                                : compare_numbers(a, b);
  }
  if (numeric(a_type) != numeric(b_type)) { // SQLite: numbers sort before text
    return numeric(a_type) ? -1 : 1;
  }
  const int order = a.compare(b); // booleans: "f" < "t"
  return order < 0 ? -1 : order > 0 ? 1 : 0;
}

} // namespace grant::route
