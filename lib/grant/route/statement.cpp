#include <grant/route/statement.hpp>

#include <grant/util/sql_lexer.hpp>
#include <grant/util/sql_split.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <span>
#include <vector>

namespace grant::route {

namespace {

using util::SqlTokenKind;

// A token that matters to the classifier: words lower-cased, symbols as they are; quoted names
// and literals keep no text, so no keyword can hide in them.
struct Tok {
  SqlTokenKind kind = SqlTokenKind::symbol;
  std::string text;
  int depth = 0; ///< parentheses around it; a "(" or ")" counts at the outer level
  std::size_t begin = 0;
  std::size_t end = 0;
  bool qualified = false; ///< right after a "." (t.update): a name, never a keyword
};

using Toks = std::span<const Tok>;

// Commands that change the database or the server whatever follows them.
constexpr std::array k_write_commands{"insert",  "update",   "delete",  "merge",     "truncate", "create", "alter",
                                      "drop",    "grant",    "revoke",  "comment",   "reindex",  "vacuum", "analyze",
                                      "analyse", "cluster",  "refresh", "lock",      "call",     "do",     "security",
                                      "import",  "reassign", "notify",  "checkpoint"};
// Commands that read, or only touch the session or the transaction.
constexpr std::array k_read_commands{"show", "set",      "reset",   "begin",      "start",   "commit",
                                     "end",  "rollback", "abort",   "savepoint",  "release", "fetch",
                                     "move", "close",    "discard", "deallocate", "listen",  "unlisten"};

template <std::size_t N> bool one_of(const std::string& word, const std::array<const char*, N>& list) {
  return std::any_of(list.begin(), list.end(), [&](const char* item) { return word == item; });
}

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

bool is_word(const Tok& tok, std::string_view word) {
  return tok.kind == SqlTokenKind::word && !tok.qualified && tok.text == word;
}
bool is_symbol(const Tok& tok, std::string_view symbol) {
  return tok.kind == SqlTokenKind::symbol && tok.text == symbol;
}

// Index of the ")" closing the "(" at `open`, or t.size() when it is not closed.
std::size_t closing(Toks t, std::size_t open) {
  for (std::size_t i = open + 1; i < t.size(); ++i) {
    if (is_symbol(t[i], ")") && t[i].depth == t[open].depth) {
      return i;
    }
  }
  return t.size();
}

// The statements of a text, split where util::StatementEnds (split_statements' rule) ends them,
// as tokens without their top-level semicolons.
std::vector<std::vector<Tok>> statements(std::string_view sql) {
  std::vector<std::vector<Tok>> out(1);
  util::SqlLexer lexer(sql);
  util::StatementEnds ends;
  int depth = 0;
  bool after_dot = false;
  while (!lexer.done()) {
    const auto token = lexer.next();
    if (token.kind == SqlTokenKind::space || token.kind == SqlTokenKind::comment) {
      continue;
    }
    Tok tok{token.kind, {}, depth, token.begin, token.end, after_dot};
    const auto text = lexer.text(token);
    if (ends.ends_at(token.kind, text)) {
      if (!out.back().empty()) {
        out.emplace_back();
      }
      after_dot = false;
      continue;
    }
    if (token.kind == SqlTokenKind::word) {
      tok.text = util::to_lower(text);
    } else if (token.kind == SqlTokenKind::symbol) {
      tok.text = std::string(text);
      if (text == "(") {
        ++depth;
      } else if (text == ")") {
        depth = std::max(depth - 1, 0);
        tok.depth = depth;
      } else if (text == ";" && depth == 0) {
        after_dot = false;
        continue; // inside a routine body that a later END closes: the statement goes on
      }
    }
    after_dot = is_symbol(tok, ".");
    out.back().push_back(std::move(tok));
  }
  if (out.back().empty()) {
    out.pop_back();
  }
  return out;
}

std::optional<std::string> writes(Toks t);

// SELECT, VALUES, TABLE, or a parenthesised query: locking clauses at any depth, INTO at the top.
std::optional<std::string> query_writes(Toks t) {
  const int top = t.front().depth;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (is_word(t[i], "into") && t[i].depth == top) {
      return "SELECT INTO";
    }
    if (!is_word(t[i], "for") || i + 1 == t.size()) {
      continue;
    }
    const auto at = [&](std::size_t k, std::string_view w) { return i + k < t.size() && is_word(t[i + k], w); };
    if (at(1, "update")) {
      return "FOR UPDATE";
    }
    if (at(1, "share")) {
      return "FOR SHARE";
    }
    if (at(1, "no") && at(2, "key") && at(3, "update")) {
      return "FOR NO KEY UPDATE";
    }
    if (at(1, "key") && at(2, "share")) {
      return "FOR KEY SHARE";
    }
  }
  return std::nullopt;
}

// WITH [RECURSIVE] name [(columns)] AS [[NOT] MATERIALIZED] (query) [SEARCH/CYCLE ...], ... main
std::optional<std::string> with_writes(Toks t) {
  std::size_t i = 1;
  if (i < t.size() && is_word(t[i], "recursive")) {
    ++i;
  }
  while (i < t.size()) {
    ++i; // the name
    if (i < t.size() && is_symbol(t[i], "(")) {
      i = closing(t, i) + 1;
    }
    if (i >= t.size() || !is_word(t[i], "as")) {
      break;
    }
    ++i;
    if (i < t.size() && is_word(t[i], "not")) {
      ++i;
    }
    if (i < t.size() && is_word(t[i], "materialized")) {
      ++i;
    }
    if (i >= t.size() || !is_symbol(t[i], "(")) {
      break;
    }
    const auto close = closing(t, i);
    if (close > i + 1) {
      if (auto inner = writes(t.subspan(i + 1, close - i - 1))) {
        return inner;
      }
    }
    i = close + 1;
    // SEARCH ... SET col / CYCLE ... SET col USING col: names up to the next "," or main statement.
    while (i < t.size() && !is_symbol(t[i], ",") && !is_symbol(t[i], "(") &&
           !(t[i].kind == SqlTokenKind::word &&
             (one_of(t[i].text, std::array{"select", "values", "table", "insert", "update", "delete", "merge"})))) {
      ++i;
    }
    if (i < t.size() && is_symbol(t[i], ",")) {
      ++i;
      continue;
    }
    return i < t.size() ? writes(t.subspan(i)) : std::nullopt;
  }
  // Not the shape above: be conservative and look for any data-modifying word.
  for (const auto& tok : t) {
    if (tok.kind == SqlTokenKind::word && !tok.qualified &&
        one_of(tok.text, std::array{"insert", "update", "delete", "merge"})) {
      return upper(tok.text);
    }
  }
  return query_writes(t);
}

// EXPLAIN [ANALYZE] [VERBOSE] statement, or EXPLAIN (option [value], ...) statement.
std::optional<std::string> explain_writes(Toks t) {
  std::size_t i = 1;
  bool analyze = false;
  if (i < t.size() && is_symbol(t[i], "(")) {
    const auto close = closing(t, i);
    for (std::size_t k = i + 1; k < close; ++k) {
      if (is_word(t[k], "analyze") || is_word(t[k], "analyse")) {
        const bool off =
            k + 1 < close && (is_word(t[k + 1], "false") || is_word(t[k + 1], "off") || is_word(t[k + 1], "0"));
        analyze = analyze || !off;
      }
    }
    i = close + 1;
  } else {
    while (i < t.size() && (is_word(t[i], "analyze") || is_word(t[i], "analyse") || is_word(t[i], "verbose"))) {
      analyze = analyze || t[i].text != "verbose";
      ++i;
    }
  }
  if (!analyze || i >= t.size()) {
    return std::nullopt; // a plan without running it reads
  }
  return writes(t.subspan(i));
}

// COPY table FROM ... writes; COPY (query) TO ... writes only when the query does.
std::optional<std::string> copy_writes(Toks t) {
  std::size_t i = 1;
  if (i < t.size() && is_symbol(t[i], "(")) {
    const auto close = closing(t, i);
    if (close > i + 1) {
      if (auto inner = writes(t.subspan(i + 1, close - i - 1))) {
        return inner;
      }
    }
    i = close + 1;
  }
  for (; i < t.size(); ++i) {
    if (t[i].depth == t.front().depth && is_word(t[i], "from")) {
      return "COPY FROM";
    }
    if (t[i].depth == t.front().depth && is_word(t[i], "to")) {
      // Only STDOUT is a read: a file or a program runs on (and writes to) the server's machine.
      if (i + 1 < t.size() && is_word(t[i + 1], "program")) {
        return "COPY TO PROGRAM";
      }
      if (i + 1 < t.size() && is_word(t[i + 1], "stdout")) {
        return std::nullopt;
      }
      return "COPY TO FILE";
    }
  }
  return std::nullopt;
}

// The rest of the statement after the first top-level `word` (from index `from` on).
std::optional<std::string> rest_after(Toks t, std::size_t from, std::string_view word) {
  for (std::size_t i = from; i < t.size(); ++i) {
    if (t[i].depth == t.front().depth && is_word(t[i], word)) {
      return i + 1 < t.size() ? writes(t.subspan(i + 1)) : std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<std::string> writes(Toks t) {
  if (t.empty()) {
    return std::nullopt;
  }
  if (is_symbol(t[0], "(")) {
    return query_writes(t);
  }
  if (t[0].kind != SqlTokenKind::word) {
    return t[0].kind == SqlTokenKind::symbol ? std::optional<std::string>(t[0].text) : std::nullopt;
  }
  const auto& first = t[0].text;
  if (one_of(first, k_write_commands)) {
    return upper(first);
  }
  if (first == "select" || first == "values" || first == "table") {
    return query_writes(t);
  }
  if (first == "with") {
    return with_writes(t);
  }
  if (first == "explain") {
    return explain_writes(t);
  }
  if (first == "copy") {
    return copy_writes(t);
  }
  if (first == "prepare") {
    if (t.size() > 1 && is_word(t[1], "transaction")) {
      return std::nullopt;
    }
    return rest_after(t, 1, "as");
  }
  if (first == "declare") {
    const auto cursor = std::find_if(t.begin(), t.end(), [](const Tok& tok) { return is_word(tok, "cursor"); });
    return rest_after(t, static_cast<std::size_t>(cursor - t.begin()), "for");
  }
  if (first == "execute") {
    return "EXECUTE"; // what the prepared statement does is not in the text
  }
  if (one_of(first, k_read_commands)) {
    return std::nullopt;
  }
  return upper(first);
}

std::string leaving(Toks t) {
  const auto word = [&](std::size_t i, std::string_view w) { return i < t.size() && is_word(t[i], w); };
  if (word(0, "commit") || word(0, "rollback")) {
    if (word(1, "prepared")) {
      return upper(t[0].text) + " PREPARED";
    }
    if (word(0, "rollback") && (word(1, "to") || ((word(1, "work") || word(1, "transaction")) && word(2, "to")))) {
      return {}; // ROLLBACK TO SAVEPOINT stays inside the transaction
    }
    return upper(t[0].text);
  }
  if (word(0, "end") || word(0, "abort")) {
    return upper(t[0].text);
  }
  if (word(0, "prepare") && word(1, "transaction")) {
    return "PREPARE TRANSACTION";
  }
  if (word(0, "set")) {
    for (std::size_t i = 1; i < t.size(); ++i) {
      if (word(i, "transaction_read_only") || word(i, "default_transaction_read_only")) {
        return "SET " + upper(t[i].text);
      }
      if (word(i, "read") && word(i + 1, "write")) {
        return "SET TRANSACTION READ WRITE";
      }
    }
  }
  return {};
}

std::string text_of(std::string_view sql, Toks t) {
  return std::string(util::trim(sql.substr(t.front().begin, t.back().end - t.front().begin)));
}

} // namespace

WriteCheck check_writes(std::string_view sql) {
  const auto all = statements(sql);
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (auto keyword = writes(all[i])) {
      return {true, std::move(*keyword), text_of(sql, all[i]), static_cast<int>(i)};
    }
  }
  return {false, {}, std::string(util::trim(sql)), 0};
}

std::string leaves_read_only(std::string_view sql) {
  for (const auto& statement : statements(sql)) {
    if (auto keyword = leaving(statement); !keyword.empty()) {
      return keyword;
    }
  }
  return {};
}

bool ends_transaction(std::string_view keyword) {
  return keyword == "COMMIT" || keyword == "END" || keyword == "ROLLBACK" || keyword == "ABORT";
}

std::vector<std::string> statements_of(std::string_view sql) {
  std::vector<std::string> out;
  for (const auto& statement : statements(sql)) {
    out.push_back(text_of(sql, statement));
  }
  return out;
}

} // namespace grant::route
