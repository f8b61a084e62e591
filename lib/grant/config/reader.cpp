#include <grant/config/reader.hpp>

#include <grant/config/interpolate.hpp>
#include <grant/error.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace grant::config::detail {

void Reader::fail(const std::string& what, const std::string& key_path, const std::string& hint) const {
  throw ConfigError(what, file + ": " + key_path, hint);
}

void Reader::allow_keys(const Json& object, const std::string& key_path,
                        const std::vector<std::string>& allowed) const {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
      continue;
    }
    const auto suggestion = util::closest_match(key, allowed);
    fail("unknown key " + util::in_quotes(key) + " in " + (key_path.empty() ? "the top level" : key_path),
         key_path.empty() ? key : key_path + "." + key,
         suggestion.empty() ? "allowed keys: " + util::join(allowed, ", ")
                            : "did you mean " + util::in_quotes(suggestion) + "?");
  }
}

const Json& Reader::require_object(const Json& value, const std::string& key_path) const {
  if (!value.is_object()) {
    fail(key_path + " must be an object, not " + std::string(value.type_name()), key_path);
  }
  return value;
}

std::string Reader::string(const Json& value, const std::string& key_path) const {
  if (!value.is_string()) {
    fail(key_path + " must be a string, not " + std::string(value.type_name()), key_path);
  }
  auto text = interpolate(value.get<std::string>(), env, file + ": " + key_path);
  // A NUL (\u0000 in JSON, or from the environment) would silently cut a path or URL short
  // where it reaches the C APIs of the OS, libpq and SQLite.
  if (const auto nul = text.find('\0'); nul != std::string::npos) {
    fail(key_path + " holds a NUL byte (\\u0000) at character " + std::to_string(nul + 1), key_path,
         "remove the \\u0000 from the value");
  }
  return text;
}

int Reader::integer(const Json& value, const std::string& key_path, int min, int max) const {
  // The number as written, so a message never shows a wrapped or clamped value.
  std::string text;
  if (value.is_number_integer()) {
    text = value.dump();
  } else if (value.is_string()) {
    text = string(value, key_path);
    long long ignored = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), ignored);
    if (text.empty() || ptr != text.data() + text.size() ||
        (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
      fail(key_path + " must be an integer, got " + util::in_quotes(text), key_path);
    }
  } else if (value.is_number_float()) {
    // An integer literal beyond 64 bits reads as a float: out of range, not "not an integer".
    const double number = value.get<double>();
    if (std::trunc(number) == number && (number < min || number > max)) {
      char approx[32];
      std::snprintf(approx, sizeof approx, "%.3g", number);
      fail(key_path + " must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got about " +
               approx,
           key_path);
    }
    fail(key_path + " must be an integer, got " + value.dump(), key_path);
  } else {
    fail(key_path + " must be an integer, not " + std::string(value.type_name()), key_path);
  }
  long long number = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc{} || number < min || number > max) {
    fail(key_path + " must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + text,
         key_path);
  }
  return static_cast<int>(number);
}

void Reader::optional_integer(const Json& object, const std::string& key_path, const std::string& key, int min, int max,
                              int& out) const {
  if (object.contains(key)) {
    out = integer(object[key], key_path + "." + key, min, max);
  }
}

bool Reader::boolean(const Json& value, const std::string& key_path) const {
  if (value.is_boolean()) {
    return value.get<bool>();
  }
  if (value.is_string()) {
    const auto text = string(value, key_path);
    if (text == "true" || text == "false") {
      return text == "true";
    }
    fail(key_path + " must be true or false, got " + util::in_quotes(text), key_path);
  }
  fail(key_path + " must be true or false, not " + std::string(value.type_name()), key_path);
}

util::DatabaseUrl Reader::url(const Json& value, const std::string& key_path) const {
  const auto text = string(value, key_path);
  try {
    auto parsed = util::parse_database_url(text, base_dir, url_check);
    if (parsed.scheme == util::UrlScheme::sqlite && parsed.sqlite_path != ":memory:") {
      sqlite_file(parsed.sqlite_path, key_path);
    }
    return parsed;
  } catch (const ConfigError& error) {
    if (!error.where().empty()) {
      throw;
    }
    fail(error.what(), key_path, error.hint());
  }
}

// A SQLite database must be a file in an existing folder; asked without throwing, so a symlink
// loop or a folder without search permission is a config error naming the path.
void Reader::sqlite_file(const std::filesystem::path& database, const std::string& key_path) const {
  namespace fs = std::filesystem;
  const auto quoted = util::in_quotes(database.string());
  std::error_code error;
  const auto status = fs::status(database, error);
  if (fs::is_directory(status)) {
    fail("SQLite database " + quoted + " is a folder, not a file", key_path,
         "name the database file, e.g. sqlite3:" + (database / "app.sqlite3").string());
  }
  if (error && status.type() != fs::file_type::not_found) {
    fail("cannot use SQLite database " + quoted + ": " + error.message(), key_path, "fix the path or its permissions");
  }
  const auto folder = database.parent_path();
  if (folder.empty() || fs::exists(status)) {
    return;
  }
  const auto folder_status = fs::status(folder, error);
  if (folder_status.type() == fs::file_type::not_found) {
    fail("the folder of SQLite database " + quoted + " does not exist", key_path,
         "create it (mkdir -p " + folder.string() + ") or fix the path");
  }
  if (error) {
    fail("cannot use the folder of SQLite database " + quoted + ": " + error.message(), key_path,
         "fix the path or its permissions");
  }
  if (!fs::is_directory(folder_status)) {
    fail("the folder of SQLite database " + quoted + " is not a folder", key_path,
         "fix the path: " + folder.string() + " is a file");
  }
}

std::string Reader::name(const Json& value, const std::string& key_path) const {
  const auto text = string(value, key_path);
  if (text.empty()) {
    fail(key_path + " must not be empty", key_path);
  }
  for (const char c : text) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) {
      fail("name " + util::in_quotes(text) + " at " + key_path + " may only hold letters, digits, _ and -", key_path);
    }
  }
  return text;
}

std::vector<std::string> Reader::string_list(const Json& value, const std::string& key_path, bool allow_single) const {
  std::vector<std::string> out;
  if (allow_single && value.is_string()) {
    out.push_back(string(value, key_path));
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      out.push_back(string(value[i], key_path + "[" + std::to_string(i) + "]"));
    }
  } else {
    fail(key_path + " must be " + (allow_single ? "a string or " : "") + "an array of strings", key_path);
  }
  return out;
}

// `value` with ${VAR} expanded in every string inside it ("any string may hold ${VAR}").
Json Reader::interpolated(const Json& value, const std::string& key_path) const {
  if (value.is_string()) {
    return string(value, key_path);
  }
  Json out = value;
  if (value.is_object()) {
    for (auto& [key, item] : out.items()) {
      item = interpolated(item, key_path + "." + key);
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < out.size(); ++i) {
      out[i] = interpolated(out[i], key_path + "[" + std::to_string(i) + "]");
    }
  }
  return out;
}

} // namespace grant::config::detail
