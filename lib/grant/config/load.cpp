#include <grant/config/load.hpp>

#include <grant/config/number_overflow.hpp>
#include <grant/config/reader.hpp>
#include <grant/error.hpp>
#include <grant/util/strings.hpp>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace grant::config {

namespace {

using detail::Json;
using detail::Reader;

std::pair<std::size_t, std::size_t> line_and_column(std::string_view text, std::size_t byte) {
  std::size_t line = 1;
  std::size_t column = 1;
  // A UTF-8 byte-order mark is no column an editor shows.
  const std::size_t start = util::starts_with(text, "\xEF\xBB\xBF") && byte >= 3 ? 3 : 0;
  for (std::size_t i = start; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

// The offset of the token the parser choked on. nlohmann reports the byte just after it; point
// at its start, as editors and Python's json do, or past the end for a truncated document.
std::size_t error_offset(std::string_view text, std::size_t byte) {
  if (byte == 0) {
    return 0;
  }
  if (byte > text.size()) {
    return text.size();
  }
  std::size_t start = byte - 1;
  const auto in_word = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '+' || c == '.';
  };
  if (text[start] == '"') {
    // A whole string the parser did not expect: find its opening quote on the same line.
    for (std::size_t i = start; i-- > 0 && text[i] != '\n';) {
      std::size_t backslashes = 0;
      for (std::size_t k = i; k-- > 0 && text[k] == '\\';) {
        ++backslashes;
      }
      if (text[i] == '"' && backslashes % 2 == 0) {
        return i;
      }
    }
  } else if (in_word(text[start])) {
    while (start > 0 && in_word(text[start - 1])) {
      --start;
    }
  }
  return start;
}

// Relative paths resolve against the config file's folder (CONTRACT.md).
std::filesystem::path base_dir_of(const std::filesystem::path& path) {
  auto folder = std::filesystem::absolute(path).parent_path();
  return folder.lexically_normal();
}

} // namespace

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    return value == nullptr ? std::nullopt : std::optional<std::string>(value);
  };
}

namespace {

// exists() without its filesystem_error: a symlink loop or a folder without search permission
// on the way is a config error naming the path.
bool config_exists(const std::filesystem::path& path, const std::string& given_by) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error && status.type() != std::filesystem::file_type::not_found) {
    throw ConfigError("cannot use config file " + util::in_quotes(path.string()) + ": " + error.message(),
                      given_by.empty() ? path.string() : given_by, "fix the path or its permissions");
  }
  return std::filesystem::exists(status);
}

} // namespace

std::filesystem::path locate(const std::optional<std::filesystem::path>& explicit_path, const EnvLookup& env) {
  if (explicit_path) {
    if (explicit_path->empty()) {
      throw ConfigError(
          "the config path is empty", "--config",
          "name the config file, or leave --config out to use $GRANT_CONFIG, ./grant.json or ./db/grant.json");
    }
    if (!config_exists(*explicit_path, "--config")) {
      throw ConfigError("config file " + util::in_quotes(explicit_path->string()) + " does not exist", "--config",
                        "check the path, or run `grant init` to write a starter config");
    }
    return *explicit_path;
  }
  if (const auto from_env = env("GRANT_CONFIG"); from_env && !from_env->empty()) {
    if (!config_exists(*from_env, "$GRANT_CONFIG")) {
      throw ConfigError("config file " + util::in_quotes(*from_env) + " does not exist", "$GRANT_CONFIG",
                        "fix GRANT_CONFIG or unset it");
    }
    return *from_env;
  }
  for (const char* candidate : {"grant.json", "db/grant.json"}) {
    if (config_exists(candidate, "")) {
      return candidate;
    }
  }
  throw ConfigError("no config file found (looked for --config, $GRANT_CONFIG, ./grant.json, ./db/grant.json)",
                    std::filesystem::current_path().string(),
                    "run `grant init` to write a starter db/grant.json, or pass --config PATH");
}

Config parse(std::string_view text, const std::filesystem::path& path, const EnvLookup& env, util::UrlCheck urls) {
  const std::string file = path.string();
  Json document;
  // Duplicate keys would silently keep the last one: catch them while parsing, with the key
  // path of the second occurrence.
  struct Frame {
    bool is_array = false;
    std::size_t index = 0; ///< arrays: the element being read
    std::string key;       ///< objects: the member being read
    std::set<std::string> keys;
  };
  std::vector<Frame> frames;
  std::string duplicate;
  std::string duplicate_path;
  const auto element_done = [&] {
    if (!frames.empty() && frames.back().is_array) {
      ++frames.back().index;
    }
  };
  const auto callback = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
    case Json::parse_event_t::object_start:
    case Json::parse_event_t::array_start:
      frames.push_back(Frame{event == Json::parse_event_t::array_start, 0, {}, {}});
      break;
    case Json::parse_event_t::object_end:
    case Json::parse_event_t::array_end:
      if (!frames.empty()) {
        frames.pop_back();
      }
      element_done();
      break;
    case Json::parse_event_t::value:
      element_done();
      break;
    case Json::parse_event_t::key:
      if (!frames.empty()) {
        frames.back().key = parsed.get<std::string>();
        if (!frames.back().keys.insert(frames.back().key).second && duplicate.empty()) {
          duplicate = frames.back().key;
          for (const auto& frame : frames) {
            duplicate_path += frame.is_array ? "[" + std::to_string(frame.index) + "]"
                                             : (duplicate_path.empty() ? "" : ".") + frame.key;
          }
        }
      }
      break;
    }
    return true;
  };
  // Windows editors save "Unicode" as UTF-16 or UTF-32 with a byte-order mark; a UTF-8 one
  // is read as is (the parser skips it).
  if (util::starts_with(text, "\xFF\xFE") || util::starts_with(text, "\xFE\xFF") ||
      util::starts_with(text, std::string_view("\x00\x00\xFE\xFF", 4))) {
    throw ConfigError("config file " + util::in_quotes(file) + " is UTF-16 or UTF-32, not UTF-8", file,
                      "save it as UTF-8 (with or without a byte-order mark)");
  }
  try {
    document = Json::parse(text.begin(), text.end(), callback);
  } catch (const Json::parse_error& error) {
    const auto [line, column] = line_and_column(text, error_offset(text, error.byte));
    std::string detail = error.what();
    if (const auto colon = detail.find(": "); colon != std::string::npos) {
      detail = detail.substr(colon + 2);
    }
    throw ConfigError("JSON syntax error: " + detail, file + ":" + std::to_string(line) + ":" + std::to_string(column),
                      "fix the JSON at that line and column");
  } catch (const Json::exception& error) {
    // out_of_range 406: a number beyond a double (1e400). Said with its line and key path.
    const auto overflow = find_number_overflow(text);
    if (!overflow) {
      throw ConfigError(std::string("JSON error: ") + error.what(), file, "fix the JSON");
    }
    const auto [line, column] = line_and_column(text, error_offset(text, overflow->offset));
    auto number = overflow->number;
    if (number.size() > 24) {
      number = number.substr(0, 20) + "... (" + std::to_string(number.size()) + " characters)";
    }
    throw ConfigError("the number " + number + " at " + overflow->key_path + " is out of range (beyond a 64-bit float)",
                      file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + overflow->key_path,
                      "write a whole number within the range docs/config.md gives for the key");
  }
  if (!duplicate.empty()) {
    throw ConfigError("duplicate key " + util::in_quotes(duplicate), file + ": " + duplicate_path,
                      "a key may appear once per object; remove one of them");
  }

  Reader reader{file, base_dir_of(path), env, urls};
  if (!document.is_object()) {
    reader.fail("the config must be a JSON object with a \"databases\" key", "(top level)");
  }
  reader.allow_keys(document, "", {"databases", "lint", "rollout"});
  if (document.contains("lint")) {
    reader.lint_defaults = reader.lint(document["lint"], "lint", LintSettings{});
  }
  if (!document.contains("databases")) {
    reader.fail("the config has no \"databases\" key", "databases", "see docs/config.md for the format");
  }
  const auto& databases = reader.require_object(document["databases"], "databases");
  if (databases.empty()) {
    reader.fail("\"databases\" is empty: declare at least one database", "databases");
  }
  Config config;
  config.path = path;
  config.base_dir = reader.base_dir;
  if (document.contains("rollout")) {
    config.rollout = reader.rollout(document["rollout"], "rollout");
  }
  for (const auto& [name, value] : databases.items()) {
    config.databases.push_back(reader.database(name, value));
  }
  return config;
}

Config load(const std::optional<std::filesystem::path>& explicit_path, const EnvLookup& env, util::UrlCheck urls) {
  const auto path = locate(explicit_path, env);
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    throw ConfigError("config file " + util::in_quotes(path.string()) + " is a folder", path.string(),
                      "name the JSON file itself, e.g. --config " + (path / "grant.json").string());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError("cannot read config file " + util::in_quotes(path.string()), path.string(),
                      "check its permissions");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse(buffer.str(), path, env, urls);
}

} // namespace grant::config
