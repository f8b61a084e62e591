#include <grant/migrate/marker.hpp>

#include <grant/error.hpp>
#include <grant/migrate/where.hpp>
#include <grant/util/duration.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <charconv>

namespace grant::migrate {

namespace {

const std::vector<std::string> k_options{"transaction", "lock_timeout", "statement_timeout", "retries"};
constexpr int k_max_retries = 100;

// "-- grant:up ..." -> ("grant:", "up ...")
std::optional<std::pair<std::string_view, std::string_view>> split_marker(std::string_view line) {
  const auto text = util::trim(line);
  if (!util::starts_with(text, "--")) {
    return std::nullopt;
  }
  const auto rest = util::trim(text.substr(2));
  for (const std::string_view prefix : {"grant:", "migrate:"}) {
    if (util::starts_with(rest, prefix)) {
      return std::pair{prefix, rest.substr(prefix.size())};
    }
  }
  return std::nullopt;
}

void set_option(Marker& marker, const std::string& key, const std::string& value, const std::string& at) {
  const auto bad = [&](const std::string& expected) -> ConfigError {
    return ConfigError("marker option " + key + "=" + value + ": " + expected, at,
                       key == "retries" ? "write e.g. retries=3" : "write e.g. " + key + "=5s (units: ms, s, min, h)");
  };
  if (key == "transaction") {
    if (value != "true" && value != "false") {
      throw ConfigError("marker option transaction must be true or false, got " + util::in_quotes(value), at,
                        "write transaction=false to run the section outside a transaction");
    }
    marker.transaction = value == "true";
  } else if (key == "lock_timeout" || key == "statement_timeout") {
    const auto duration = util::parse_duration(value);
    if (!duration) {
      throw bad("not a duration (500ms, 5s, 2min, 1h, or whole milliseconds)");
    }
    (key == "lock_timeout" ? marker.lock_timeout : marker.statement_timeout) = *duration;
  } else {
    int retries = -1;
    const auto* end = value.data() + value.size();
    const auto [ptr, ec] = std::from_chars(value.data(), end, retries);
    if (value.empty() || ec != std::errc{} || ptr != end || retries < 0 || retries > k_max_retries) {
      throw bad("not a whole number from 0 to " + std::to_string(k_max_retries));
    }
    marker.retries = retries;
  }
}

} // namespace

bool looks_like_marker(std::string_view line) {
  const auto parts = split_marker(line);
  if (!parts) {
    return false;
  }
  const auto word = parts->second.substr(0, parts->second.find_first_of(" \t"));
  return word == "up" || word == "down";
}

std::optional<Marker> parse_marker(std::string_view line, const std::filesystem::path& file, int line_number) {
  const auto parts = split_marker(line);
  if (!parts) {
    return std::nullopt;
  }
  const auto [prefix, rest] = *parts;
  const auto space = rest.find_first_of(" \t");
  const std::string word(rest.substr(0, space));
  if (prefix == "grant:" && word == "lint") {
    return std::nullopt; // a lint marker (-- grant:lint ignore=...), read by lint/, not a section
  }
  Marker marker;
  marker.prefix = std::string(prefix);
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
  std::string options(rest.substr(space));
  for (auto& c : options) {
    c = c == '\t' ? ' ' : c;
  }
  for (const auto& token : util::split(util::trim(options), ' ')) {
    if (util::trim(token).empty()) {
      continue;
    }
    const auto separator = token.find_first_of("=:");
    const std::string key = token.substr(0, separator);
    const std::string value = separator == std::string::npos ? "" : token.substr(separator + 1);
    if (std::find(k_options.begin(), k_options.end(), key) == k_options.end()) {
      const auto suggestion = util::closest_match(key, k_options);
      throw ConfigError("unknown marker option " + util::in_quotes(key), where(file, line_number),
                        suggestion.empty() ? "the options are " + util::join(k_options, ", ")
                                           : "did you mean " + util::in_quotes(suggestion) + "?");
    }
    set_option(marker, key, value, where(file, line_number));
  }
  return marker;
}

} // namespace grant::migrate
