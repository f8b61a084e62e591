// Migration files: file names (grant, dbmate, golang-migrate, Flyway), section markers and
// their options, whole files. The first byte picks a mode:
//   even: one file parsed in memory (parse_migration): the first line is its name;
//   odd:  a folder of up to four files written to a scratch directory and read with
//         load_migrations (golang-migrate pairs, Flyway V/U files); files are separated by
//         0x1e bytes, each one "NAME\nCONTENT".
// Properties: only grant::Error leaves, always naming where (file or file:line); every marker
// line parse_marker accepts is one looks_like_marker recognises; a marker printed back
// (`-- grant:up transaction=false lock_timeout=Nms ...`) parses to the same options; a parsed
// section's statements are split_statements of its SQL with lines of the file; the checksum
// is SHA-256 of the up section; parsing is deterministic; load_migrations returns versions in
// strictly increasing numeric order.
#include "fuzz_common.hpp"

#include <grant/migrate/file_name.hpp>
#include <grant/migrate/marker.hpp>
#include <grant/migrate/migration_file.hpp>
#include <grant/util/sha256.hpp>
#include <grant/util/sql_split.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <vector>

using namespace grant;
namespace fs = std::filesystem;

namespace {

fs::path scratch;

std::string print_marker(const migrate::Marker& marker) {
  std::string out = "-- " + marker.prefix + (marker.up ? "up" : "down");
  if (!marker.transaction) {
    out += " transaction=false";
  }
  if (marker.lock_timeout) {
    out += " lock_timeout=" + std::to_string(marker.lock_timeout->count()) + "ms";
  }
  if (marker.statement_timeout) {
    out += " statement_timeout=" + std::to_string(marker.statement_timeout->count()) + "ms";
  }
  if (marker.retries) {
    out += " retries=" + std::to_string(*marker.retries);
  }
  return out;
}

void check_markers(std::string_view text, const fs::path& file) {
  int line_number = 0;
  for (std::string_view rest = text; !rest.empty();) {
    const auto line = fuzz::take_line(rest);
    ++line_number;
    std::optional<migrate::Marker> marker;
    fuzz::run_parser([&] { marker = migrate::parse_marker(line, file, line_number); }, fuzz::NeedsWhere::yes);
    if (!marker) {
      continue;
    }
    fuzz::check(migrate::looks_like_marker(line), "a line parse_marker accepts is one looks_like_marker sees",
                std::string(line));
    const auto printed = print_marker(*marker);
    const auto again = migrate::parse_marker(printed, file, line_number);
    fuzz::check(again && again->up == marker->up && again->prefix == marker->prefix &&
                    again->transaction == marker->transaction && again->lock_timeout == marker->lock_timeout &&
                    again->statement_timeout == marker->statement_timeout && again->retries == marker->retries,
                "marker parse -> print -> parse is stable", std::string(line) + " -> " + printed);
  }
}

int line_count(std::string_view text) {
  return 1 + static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

// `may_unwrap`: a golang-migrate or Flyway file, whose BEGIN ... COMMIT around the whole file is
// dropped from its statements (unwrap_transaction) while its SQL, and so its checksum, keep them.
void check_section(const migrate::Section& section, int file_lines, bool may_unwrap) {
  fuzz::check(section.first_line >= 1 && section.first_line <= file_lines + 1, "a section starts inside its file");
  auto split = util::split_statements(section.sql);
  if (may_unwrap && split.size() == section.statements.size() + 2) {
    split.pop_back();
    split.erase(split.begin());
  }
  fuzz::check(split.size() == section.statements.size(), "a section's statements are its SQL split");
  for (std::size_t i = 0; i < split.size(); ++i) {
    fuzz::check(split[i].text == section.statements[i].text &&
                    section.statements[i].first_line == split[i].first_line + section.first_line - 1,
                "a statement's first_line is a line of the file", section.statements[i].text);
  }
}

void check_migration(const migrate::Migration& migration, int file_lines) {
  fuzz::check(migration.checksum == util::sha256_hex(migration.up.sql), "the checksum is SHA-256 of the up section");
  fuzz::check(migration.empty == migration.up.statements.empty(), "empty means no up statement");
  const bool may_unwrap =
      migration.format == migrate::FileFormat::golang_migrate || migration.format == migrate::FileFormat::flyway;
  check_section(migration.up, file_lines, may_unwrap);
  if (migration.down) {
    fuzz::check(!migration.down->statements.empty(), "a kept down section has statements");
    check_section(*migration.down, file_lines, may_unwrap);
  }
}

void one_file(std::string_view input) {
  const auto name = fuzz::take_line(input);
  const fs::path file = std::string(name.empty() ? "1_fuzz.sql" : name);
  fuzz::run_parser(
      [&] {
        if (const auto parsed = migrate::parse_file_name(file)) {
          fuzz::check(migrate::is_version(parsed->version), "a parsed file name has a numeric version", file.string());
        }
      },
      fuzz::NeedsWhere::yes);
  check_markers(input, file);
  std::optional<migrate::Migration> migration;
  fuzz::run_parser([&] { migration = migrate::parse_migration(file, input); }, fuzz::NeedsWhere::yes);
  if (migration) {
    check_migration(*migration, line_count(input));
    const auto again = migrate::parse_migration(file, input);
    fuzz::check(again.checksum == migration->checksum && again.down.has_value() == migration->down.has_value() &&
                    again.format == migration->format,
                "parsing a migration is deterministic");
  }
}

// A file name usable in one directory: no separator, NUL, "." or "..", short.
bool usable_name(std::string_view name) {
  return !name.empty() && name.size() <= 120 && name != "." && name != ".." &&
         name.find_first_of(std::string_view("/\0", 2)) == std::string_view::npos;
}

void folder(std::string_view input) {
  for (const auto& entry : fs::directory_iterator(scratch)) {
    fs::remove(entry.path());
  }
  int files = 0;
  int max_lines = 1;
  for (std::string_view rest = input; !rest.empty() && files < 4; ++files) {
    const auto end = rest.find('\x1e');
    auto record = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    const auto name = fuzz::take_line(record);
    if (!usable_name(name)) {
      continue;
    }
    std::ofstream(scratch / std::string(name), std::ios::binary)
        .write(record.data(), static_cast<std::streamsize>(record.size()));
    max_lines = std::max(max_lines, line_count(record));
  }
  std::vector<migrate::Migration> migrations;
  fuzz::run_parser([&] { migrations = migrate::load_migrations(scratch); }, fuzz::NeedsWhere::yes);
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    check_migration(migrations[i], max_lines);
    fuzz::check(migrate::is_version(migrations[i].version), "a loaded migration has a numeric version");
    if (i > 0) {
      fuzz::check(migrate::compare_versions(migrations[i - 1].version, migrations[i].version) < 0,
                  "migrations load in strictly increasing version order");
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char pattern[] = "/tmp/grant-fuzz-migrations-XXXXXX";
  if (mkdtemp(pattern) == nullptr) {
    fuzz::fail("mkdtemp failed");
  }
  scratch = pattern;
  std::atexit([] {
    std::error_code ignored;
    fs::remove_all(scratch, ignored);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const auto input = fuzz::as_text(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    one_file(input);
  } else {
    folder(input);
  }
  return 0;
}
