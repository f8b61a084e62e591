#include <grant/migrate/content_check.hpp>

#include <grant/error.hpp>
#include <grant/migrate/statement_kind.hpp>
#include <grant/migrate/where.hpp>
#include <grant/util/strings.hpp>
#include <grant/util/text.hpp>

#include <algorithm>
#include <cstdio>

namespace grant::migrate {

namespace {

// 1-based line and byte column of `offset`.
std::pair<std::size_t, std::size_t> line_and_column(std::string_view text, std::size_t offset) {
  const auto before = text.substr(0, offset);
  const auto line = 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
  const auto newline = before.rfind('\n');
  const auto column = newline == std::string_view::npos ? offset + 1 : offset - newline;
  return {line, column};
}

} // namespace

std::optional<std::size_t> first_invalid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto length = util::utf8_sequence_length(text, i);
    if (length == 0) {
      return i;
    }
    i += length;
  }
  return std::nullopt;
}

void refuse_bad_bytes(const std::filesystem::path& file, std::string_view raw) {
  // Lines and columns as an editor shows them: a leading byte-order mark is no column.
  const std::size_t bom = raw.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  const auto text = raw.substr(bom);
  if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
    throw ConfigError(
        "migration file holds a NUL byte: it is not a SQL text file", where(file, line_and_column(text, nul).first),
        "save it as plain text (UTF-8), or move a binary or compressed file out of the migrations folder");
  }
  const auto bad = first_invalid_utf8(text);
  if (!bad) {
    return;
  }
  const auto [line, column] = line_and_column(text, *bad);
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(text[*bad])));
  throw ConfigError("migration file is not valid UTF-8: byte " + std::string(hex) + " at line " + std::to_string(line) +
                        ", column " + std::to_string(column) + " (byte offset " + std::to_string(*bad + bom) +
                        " of the file)",
                    where(file, line) + ":" + std::to_string(column),
                    "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8): PostgreSQL refuses other bytes and "
                    "SQLite would store them as they are");
}

bool unwrap_transaction(Section& section) {
  auto& statements = section.statements;
  if (!section.transaction || statements.size() < 2) {
    return false;
  }
  const auto first = transaction_control(statements.front().text);
  const auto last = transaction_control(statements.back().text);
  if (!first || !last || (*first != "BEGIN" && *first != "START TRANSACTION") ||
      (*last != "COMMIT" && *last != "END")) {
    return false;
  }
  // COMMIT AND CHAIN would start another transaction: not a plain wrapper.
  if (util::to_lower(statements.back().text).find("chain") != std::string::npos) {
    return false;
  }
  statements.pop_back();
  statements.erase(statements.begin());
  return true;
}

void refuse_transaction_control(const Section& section, const std::string& hint) {
  if (!section.transaction) {
    return;
  }
  for (const auto& statement : section.statements) {
    if (const auto command = transaction_control(statement.text)) {
      throw ConfigError(*command + " in a section that grant runs in a transaction of its own: it would end or break "
                                   "that transaction, and a later failure would leave the migration half applied",
                        where(section.file, static_cast<std::size_t>(statement.first_line)), hint);
    }
  }
}

} // namespace grant::migrate
