#include <grant/migrate/migration_file.hpp>

#include <grant/error.hpp>
#include <grant/util/sha256.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

namespace grant::migrate {

namespace {

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw ConfigError("cannot read migration file " + util::in_quotes(file.string()), file.string(),
                      "check its permissions");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string where(const std::filesystem::path& file, int line) { return file.string() + ":" + std::to_string(line); }

struct Marker {
  bool up = false;
  std::map<std::string, std::string> options;
};

// A marker line: "-- grant:up transaction=false" or dbmate's "-- migrate:up transaction:false".
std::optional<Marker> parse_marker(std::string_view line, const std::filesystem::path& file, int line_number) {
  const auto text = util::trim(line);
  if (!util::starts_with(text, "--")) {
    return std::nullopt;
  }
  auto rest = util::trim(text.substr(2));
  std::string_view prefix;
  for (const std::string_view candidate : {"grant:", "migrate:"}) {
    if (util::starts_with(rest, candidate)) {
      prefix = candidate;
    }
  }
  if (prefix.empty()) {
    return std::nullopt;
  }
  rest.remove_prefix(prefix.size());
  const auto space = rest.find_first_of(" \t");
  const std::string word(rest.substr(0, space));
  Marker marker;
  if (word == "up" || word == "down") {
    marker.up = word == "up";
  } else {
    const auto suggestion = util::closest_match(word, {"up", "down"});
    throw ConfigError("unknown marker " + util::in_quotes(std::string(prefix) + word), where(file, line_number),
                      suggestion.empty() ? "sections start with -- grant:up and -- grant:down"
                                         : "did you mean -- " + std::string(prefix) + suggestion + "?");
  }
  if (space == std::string_view::npos) {
    return marker;
  }
  for (const auto& token : util::split(util::trim(rest.substr(space)), ' ')) {
    if (util::trim(token).empty()) {
      continue;
    }
    const auto separator = token.find_first_of("=:");
    const std::string key = token.substr(0, separator);
    const std::string value = separator == std::string::npos ? "" : token.substr(separator + 1);
    if (key != "transaction") {
      const auto suggestion = util::closest_match(key, {"transaction"});
      throw ConfigError("unknown marker option " + util::in_quotes(key), where(file, line_number),
                        suggestion.empty() ? "the only option is transaction=false"
                                           : "did you mean " + util::in_quotes(suggestion) + "?");
    }
    if (value != "true" && value != "false") {
      throw ConfigError("marker option transaction must be true or false, got " + util::in_quotes(value),
                        where(file, line_number));
    }
    marker.options[key] = value;
  }
  return marker;
}

bool blank_sql(std::string_view sql) {
  // Only whitespace and -- comments: nothing would run.
  for (const auto& line : util::split(sql, '\n')) {
    const auto text = util::trim(line);
    if (!text.empty() && !util::starts_with(text, "--")) {
      return false;
    }
  }
  return true;
}

struct FileName {
  std::string version;
  std::string name;
  enum Kind { single, golang_up, golang_down } kind = single;
};

std::optional<FileName> parse_file_name(const std::filesystem::path& file) {
  const std::string base = file.filename().string();
  if (!util::ends_with(base, ".sql")) {
    return std::nullopt;
  }
  if (!util::is_valid_utf8(base)) {
    throw ConfigError("migration file name is not valid UTF-8", file.string(),
                      "rename it to <VERSION>_<name>.sql using plain characters");
  }
  std::string stem = base.substr(0, base.size() - 4);
  FileName out;
  if (util::ends_with(stem, ".up")) {
    out.kind = FileName::golang_up;
    stem.resize(stem.size() - 3);
  } else if (util::ends_with(stem, ".down")) {
    out.kind = FileName::golang_down;
    stem.resize(stem.size() - 5);
  }
  const auto underscore = stem.find('_');
  out.version = stem.substr(0, underscore);
  out.name = underscore == std::string::npos ? "" : stem.substr(underscore + 1);
  if (!is_version(out.version)) {
    throw ConfigError("migration file name " + util::in_quotes(base) + " does not start with a numeric version",
                      file.string(), "name it <VERSION>_<name>.sql, e.g. 20240101120000_create_users.sql "
                                     "(grant generate migration NAME writes one)");
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

Migration parse_migration(const std::filesystem::path& file, std::string_view text) {
  Migration migration;
  std::optional<Section> up;
  std::optional<Section> down;
  Section* current = nullptr;
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
      if (slot) {
        throw ConfigError(std::string("second -- grant:") + (marker->up ? "up" : "down") + " marker", where(file, line_number),
                          "a file has one up and at most one down section");
      }
      slot = Section{};
      slot->first_line = line_number + 1;
      slot->file = file;
      const auto option = marker->options.find("transaction");
      slot->transaction = option == marker->options.end() || option->second == "true";
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
    throw ConfigError("migration has no -- grant:up marker", file.string(),
                      "add a line `-- grant:up` before the SQL that applies it (and `-- grant:down` before the revert)");
  }
  if (blank_sql(up->sql)) {
    throw ConfigError("the up section is empty", where(file, up->first_line - 1),
                      "write the SQL that applies this migration below -- grant:up");
  }
  migration.up = std::move(*up);
  if (down && !blank_sql(down->sql)) {
    migration.down = std::move(*down);
  }
  migration.checksum = util::sha256_hex(migration.up.sql);
  return migration;
}

std::vector<Migration> load_migrations(const std::filesystem::path& folder) {
  if (!std::filesystem::is_directory(folder)) {
    throw ConfigError("migrations folder " + util::in_quotes(folder.string()) + " does not exist", folder.string(),
                      "create it (mkdir -p " + folder.string() + "), or set \"migrations\" in the config");
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.is_regular_file()) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  std::map<std::string, Migration> by_version;
  std::map<std::string, std::filesystem::path> first_file;
  std::map<std::string, std::pair<std::optional<std::filesystem::path>, std::optional<std::filesystem::path>>> golang;
  const auto claim = [&](const std::string& version, const std::filesystem::path& file) {
    for (const auto& [other_version, other_file] : first_file) {
      if (compare_versions(other_version, version) == 0) {
        throw ConfigError("two migrations have version " + version + ": " + other_file.filename().string() + " and " +
                              file.filename().string(),
                          folder.string(), "give one of them a new version (rename the file)");
      }
    }
    first_file[version] = file;
  };
  for (const auto& file : files) {
    const auto name = parse_file_name(file);
    if (!name) {
      continue;
    }
    if (name->kind != FileName::single) {
      auto& pair = golang[name->version + "_" + name->name];
      (name->kind == FileName::golang_up ? pair.first : pair.second) = file;
      continue;
    }
    claim(name->version, file);
    const auto text = read_text(file);
    auto migration = parse_migration(file, text);
    migration.version = name->version;
    migration.name = name->name;
    migration.format = text.find("-- migrate:") != std::string::npos ? FileFormat::dbmate : FileFormat::grant;
    by_version.emplace(migration.version, std::move(migration));
  }
  for (const auto& [key, pair] : golang) {
    const auto& [up_file, down_file] = pair;
    if (!up_file) {
      throw ConfigError("golang-migrate down file without its .up.sql", down_file->string(),
                        "add the matching .up.sql file or remove this one");
    }
    const auto name = parse_file_name(*up_file);
    claim(name->version, *up_file);
    Migration migration;
    migration.version = name->version;
    migration.name = name->name;
    migration.format = FileFormat::golang_migrate;
    migration.up = Section{read_text(*up_file), 1, true, *up_file};
    if (blank_sql(migration.up.sql)) {
      throw ConfigError("the up file is empty", up_file->string(), "write the SQL that applies this migration");
    }
    if (down_file) {
      Section down{read_text(*down_file), 1, true, *down_file};
      if (!blank_sql(down.sql)) {
        migration.down = std::move(down);
      }
    }
    migration.checksum = util::sha256_hex(migration.up.sql);
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
