#include <grant/lint/linter.hpp>

#include <grant/error.hpp>
#include <grant/migrate/marker.hpp>
#include <grant/util/strings.hpp>

#include <fstream>
#include <sstream>

namespace grant::lint {

namespace {

bool has_marker(std::string_view text) {
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = std::min(text.find('\n', start), text.size());
    if (migrate::looks_like_marker(text.substr(start, end - start))) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

bool inside(const std::filesystem::path& file, const std::filesystem::path& folder) {
  std::error_code error;
  const auto a = std::filesystem::weakly_canonical(file, error);
  const auto b = std::filesystem::weakly_canonical(folder, error); // a few databases: cheap enough
  const auto relative = a.lexically_relative(b);
  return !relative.empty() && *relative.begin() != "..";
}

} // namespace

migrate::Migration read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw ConfigError("cannot read " + file.string(), file.string(), "check the path and its permissions");
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const auto text = buffer.str();
  if (has_marker(text)) {
    return migrate::parse_migration(file, text);
  }
  if (text.find('\0') != std::string::npos) {
    throw ConfigError("not a SQL file: it holds a NUL byte", file.string());
  }
  migrate::Migration migration;
  migration.name = file.filename().string();
  migration.up.file = file;
  migration.up.sql = text;
  migration.empty = util::trim(text).empty();
  return migration;
}

const config::Database& database_of(const config::Config& config, const std::filesystem::path& file,
                                    const std::optional<std::string>& database) {
  if (database) {
    const auto* found = config.find(*database);
    if (found == nullptr) {
      throw ConfigError("unknown database " + util::in_quotes(*database), "--database",
                        "the config declares: " + util::join(config.database_names(), ", "));
    }
    return *found;
  }
  if (config.databases.size() == 1) {
    return config.databases.front(); // whether or not its folder holds the file
  }
  for (const auto& candidate : config.databases) {
    if (inside(file, candidate.migrations)) {
      return candidate;
    }
  }
  throw ConfigError(file.string() + " is in no database's migrations folder", file.string(),
                    "name its database: grant lint --database DB FILE");
}

} // namespace grant::lint
