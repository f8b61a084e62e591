#include <grant/migrate/migration_file.hpp>

#include <grant/error.hpp>
#include <grant/migrate/content_check.hpp>
#include <grant/migrate/file_name.hpp>
#include <grant/migrate/marker.hpp>
#include <grant/migrate/source_file.hpp>
#include <grant/migrate/statement_kind.hpp>
#include <grant/migrate/where.hpp>
#include <grant/util/parallel_for.hpp>
#include <grant/util/sha256.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <exception>
#include <map>
#include <optional>
#include <thread>

namespace grant::migrate {

namespace {

constexpr std::string_view k_utf8_bom = "\xEF\xBB\xBF";

std::string_view without_bom(std::string_view text) {
  return util::starts_with(text, k_utf8_bom) ? text.substr(k_utf8_bom.size()) : text;
}

bool has_crlf(std::string_view text) {
  return text.find("\r\n") != std::string_view::npos;
}

std::string with_lf_line_ends(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
      out += text[i];
    }
  }
  return out;
}

} // namespace

bool is_version(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int compare_versions(std::string_view a, std::string_view b) {
  const auto strip = [](std::string_view v) {
    while (v.size() > 1 && v.front() == '0') {
      v.remove_prefix(1);
    }
    return v;
  };
  a = strip(a);
  b = strip(b);
  if (a.size() != b.size()) {
    return a.size() < b.size() ? -1 : 1;
  }
  return a.compare(b) < 0 ? -1 : (a.compare(b) > 0 ? 1 : 0);
}

namespace {

// Splits the section into its statements, with lines of the file, and refuses what a file
// cannot carry.
void finish_section(Section& section) {
  section.statements = util::split_statements(section.sql);
  for (auto& statement : section.statements) {
    statement.first_line += section.first_line - 1;
    if (is_copy_from_stdin(statement.text)) {
      throw ConfigError("COPY ... FROM STDIN cannot run from a migration file (its data rows are not SQL)",
                        where(section.file, statement.first_line),
                        "load the rows with INSERT ... VALUES, or COPY ... FROM a file on the database server");
    }
  }
}

// What the statements leave: no up statement is an empty migration, a down without any is none.
void settle_statements(Migration& migration) {
  migration.empty = migration.up.statements.empty();
  if (migration.down && migration.down->statements.empty()) {
    migration.down.reset();
  }
}

void finish(Migration& migration) {
  finish_section(migration.up);
  if (migration.down) {
    finish_section(*migration.down);
  }
  settle_statements(migration);
  migration.checksum = util::sha256_hex(migration.up.sql);
}

// A whole file as one section (golang-migrate and Flyway); `legacy_checksum` gets the SHA-256 of
// the text with its CRs when the file has CRLF line ends.
Section whole_file(const std::filesystem::path& file, std::string* legacy_checksum = nullptr) {
  const auto raw = read_migration_source(file);
  refuse_bad_bytes(file, raw);
  const auto text = without_bom(raw);
  if (legacy_checksum != nullptr && has_crlf(text)) {
    *legacy_checksum = util::sha256_hex(text);
  }
  return Section{with_lf_line_ends(text), 1, true, file, {}, {}, {}, {}};
}

// A golang-migrate or Flyway file is its section as a whole; a grant or dbmate marker in it
// means a file that wants to be a file with sections, and reading it either way would run the
// wrong SQL (the "down" part as part of the up).
void refuse_markers(const Section& section, bool flyway) {
  int line_number = 0;
  for (const auto& line : util::split(section.sql, '\n')) {
    ++line_number;
    if (looks_like_marker(line)) {
      throw ConfigError(std::string(flyway ? "a Flyway" : "a golang-migrate") + " file holds a section marker " +
                            util::in_quotes(util::trim(line)),
                        where(section.file, line_number),
                        flyway
                            ? "a V<VERSION>__<desc>.sql file is all up section: remove the marker and put the revert "
                              "in U<VERSION>__<desc>.sql, or rename the file <VERSION>_<name>.sql to use markers"
                            : "a .up.sql file is all up section: remove the marker and put the revert in the "
                              ".down.sql file, or rename the file <VERSION>_<name>.sql to use markers");
    }
  }
}

// The up and down files of golang-migrate and Flyway pairs, by format and version.
struct Pair {
  FileName name;
  std::optional<std::filesystem::path> up;
  std::optional<std::filesystem::path> down;
};

} // namespace

namespace {

// How a grant or dbmate section runs outside a transaction, in the marker spelling the file uses.
std::string outside_transaction_hint(const std::string& prefix, const std::string& section) {
  const auto option = prefix == "migrate:" ? "transaction:false" : "transaction=false";
  return "remove it (grant commits the section with its tracking row), or run the section outside a transaction: `-- " +
         prefix + section + " " + option + "`";
}

Migration parse_sections(const std::filesystem::path& file, std::string_view text) {
  Migration migration;
  std::optional<Section> up;
  std::optional<Section> down;
  Section* current = nullptr;
  std::string up_prefix;
  std::string down_prefix;
  int line_number = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    const auto line = text.substr(start, end - start);
    ++line_number;
    if (const auto marker = parse_marker(line, file, line_number)) {
      auto& slot = marker->up ? up : down;
      const auto* other = marker->up ? &down : &up;
      if (*other && marker->prefix != (marker->up ? down_prefix : up_prefix)) {
        throw ConfigError("-- " + marker->prefix + (marker->up ? "up" : "down") + " in a file that uses -- " +
                              (marker->up ? down_prefix + "down" : up_prefix + "up"),
                          where(file, line_number),
                          "write both markers the same way: -- grant:up / -- grant:down, or dbmate's -- migrate:up / "
                          "-- migrate:down");
      }
      (marker->up ? up_prefix : down_prefix) = marker->prefix;
      if (slot) {
        throw ConfigError("second -- " + marker->prefix + (marker->up ? "up" : "down") + " marker",
                          where(file, line_number), "a file has one up and at most one down section");
      }
      if (marker->up) {
        migration.format = marker->prefix == "migrate:" ? FileFormat::dbmate : FileFormat::grant;
      }
      slot = Section{};
      slot->first_line = line_number + 1;
      slot->file = file;
      slot->transaction = marker->transaction;
      slot->lock_timeout = marker->lock_timeout;
      slot->statement_timeout = marker->statement_timeout;
      slot->retries = marker->retries;
      current = &*slot;
    } else if (current != nullptr) {
      current->sql.append(line);
      if (end < text.size()) {
        current->sql += '\n';
      }
    } else if (!util::trim(line).empty() && !util::starts_with(util::trim(line), "--")) {
      throw ConfigError("SQL before the first -- grant:up marker", where(file, line_number),
                        "start the file with a line `-- grant:up`");
    }
    if (end == text.size()) {
      break;
    }
    start = end + 1;
  }
  if (!up) {
    throw ConfigError(
        "migration has no -- grant:up marker", file.string(),
        "add a line `-- grant:up` before the SQL that applies it (and `-- grant:down` before the revert)");
  }
  migration.up = std::move(*up);
  migration.down = std::move(down);
  finish(migration);
  refuse_transaction_control(migration.up, outside_transaction_hint(up_prefix, "up"));
  if (migration.down) {
    refuse_transaction_control(*migration.down, outside_transaction_hint(down_prefix, "down"));
  }
  return migration;
}

} // namespace

Migration parse_migration(const std::filesystem::path& file, std::string_view text) {
  refuse_bad_bytes(file, text);
  text = without_bom(text);
  if (!has_crlf(text)) {
    return parse_sections(file, text);
  }
  auto migration = parse_sections(file, with_lf_line_ends(text));
  migration.legacy_checksum = parse_sections(file, text).checksum;
  return migration;
}

std::vector<Migration> load_migrations(const std::filesystem::path& folder) {
  // Every entry, not only regular files: one named like a migration that cannot be read is an
  // error (read_migration_source), never a file skipped in silence.
  const auto files = list_migrations_folder(folder);
  std::map<std::string, Migration> by_version;
  // By version without its leading zeros (what compare_versions counts as equal): the first file.
  std::map<std::string, std::filesystem::path> first_file;
  std::map<std::string, Pair> pairs;
  const auto claim = [&](const std::string& version, const std::filesystem::path& file) {
    const auto digits = version.find_first_not_of('0');
    const auto [claimed, inserted] =
        first_file.emplace(digits == std::string::npos ? std::string("0") : version.substr(digits), file);
    if (!inserted) {
      throw ConfigError("two migrations have version " + version + ": " + claimed->second.filename().string() +
                            " and " + file.filename().string(),
                        folder.string(), "give one of them a new version (rename the file)");
    }
  };
  std::vector<std::pair<FileName, std::filesystem::path>> singles;
  for (const auto& file : files) {
    const auto name = parse_file_name(file);
    if (!name) {
      continue;
    }
    using Kind = FileName::Kind;
    if (name->kind != Kind::single) {
      const bool flyway = name->kind == Kind::flyway_up || name->kind == Kind::flyway_down;
      const bool is_up = name->kind == Kind::golang_up || name->kind == Kind::flyway_up;
      auto& pair = pairs[(flyway ? "flyway:" : "golang:") + name->version + "_" + name->name];
      (is_up ? pair.up : pair.down) = file;
      if (is_up || !pair.up) {
        pair.name = *name;
      }
      continue;
    }
    singles.emplace_back(*name, file);
  }
  // The files are read and parsed on every core (a large folder's reads, splits and SHA-256s
  // are most of a short run's work); their errors are raised in folder order, as one thread
  // would meet them.
  std::vector<std::optional<Migration>> parsed(singles.size());
  std::vector<std::exception_ptr> failed(singles.size());
  const auto cores = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  util::parallel_for(singles.size(), singles.size() < 64 ? 1 : cores, [&](std::size_t i) {
    try {
      parsed[i] = parse_migration(singles[i].second, read_migration_source(singles[i].second));
    } catch (...) {
      failed[i] = std::current_exception();
    }
  });
  for (std::size_t i = 0; i < singles.size(); ++i) {
    const auto& [name, file] = singles[i];
    claim(name.version, file);
    if (failed[i]) {
      std::rethrow_exception(failed[i]);
    }
    auto& migration = *parsed[i];
    migration.version = name.version;
    migration.name = name.name;
    by_version.emplace(migration.version, std::move(migration));
  }
  for (const auto& [key, pair] : pairs) {
    const bool flyway = pair.name.kind == FileName::Kind::flyway_up || pair.name.kind == FileName::Kind::flyway_down;
    if (!pair.up) {
      throw ConfigError(flyway ? "Flyway undo file without its V" + pair.name.version + "__ file"
                               : "golang-migrate down file without its .up.sql",
                        pair.down->string(),
                        flyway
                            ? "add the matching V" + pair.name.version + "__<desc>.sql (same desc) or remove this one"
                            : "add the matching .up.sql file or remove this one");
    }
    claim(pair.name.version, *pair.up);
    Migration migration;
    migration.version = pair.name.version;
    migration.name = pair.name.name;
    migration.format = flyway ? FileFormat::flyway : FileFormat::golang_migrate;
    std::string legacy_checksum;
    migration.up = whole_file(*pair.up, &legacy_checksum);
    if (pair.down) {
      migration.down = whole_file(*pair.down);
    }
    refuse_markers(migration.up, flyway);
    if (migration.down) {
      refuse_markers(*migration.down, flyway);
    }
    finish(migration);
    const auto hint = std::string("remove it: grant runs each ") + (flyway ? "Flyway" : "golang-migrate") +
                      " file in a transaction of its own; a statement that cannot run in one (CREATE INDEX "
                      "CONCURRENTLY) needs a <VERSION>_<name>.sql file with `-- grant:up transaction=false`";
    unwrap_transaction(migration.up);
    refuse_transaction_control(migration.up, hint);
    if (migration.down) {
      unwrap_transaction(*migration.down);
      refuse_transaction_control(*migration.down, hint);
    }
    settle_statements(migration); // a file that was only BEGIN and COMMIT has nothing left (found by the fuzzer)
    migration.legacy_checksum = legacy_checksum;
    by_version.emplace(migration.version, std::move(migration));
  }
  std::vector<Migration> out;
  for (auto& [version, migration] : by_version) {
    out.push_back(std::move(migration));
  }
  std::sort(out.begin(), out.end(),
            [](const Migration& a, const Migration& b) { return compare_versions(a.version, b.version) < 0; });
  return out;
}

std::string missing_down_hint(const Migration& migration) {
  const auto up_name = migration.up.file.filename().string();
  switch (migration.format) {
  case FileFormat::dbmate:
    return "add a `-- migrate:down` section to " + up_name + " with the SQL that reverts it";
  case FileFormat::golang_migrate:
    return "create " + migration.version + "_" + migration.name + ".down.sql next to " + up_name +
           " with the SQL that reverts it";
  case FileFormat::flyway: {
    const auto separator = up_name.find("__");
    const auto desc = separator == std::string::npos ? migration.name + ".sql" : up_name.substr(separator + 2);
    return "create U" + migration.version + "__" + desc + " next to " + up_name + " with the SQL that reverts it";
  }
  case FileFormat::grant:
    break;
  }
  return "add a `-- grant:down` section to " + up_name + " with the SQL that reverts it";
}

std::string snake_case(std::string_view name) {
  std::string out;
  bool pending_separator = false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (std::isalnum(c)) {
      // CamelCase boundaries become separators too: CreateUsers -> create_users.
      if (std::isupper(c) && i > 0 && std::islower(static_cast<unsigned char>(name[i - 1]))) {
        pending_separator = true;
      }
      if (pending_separator && !out.empty()) {
        out += '_';
      }
      pending_separator = false;
      out += static_cast<char>(std::tolower(c));
    } else {
      pending_separator = true;
    }
  }
  return out;
}

} // namespace grant::migrate
