#pragma once

#include <grant/config/config.hpp>
#include <grant/util/url.hpp>

#include <functional>
#include <optional>
#include <string>

namespace grant::config {

/// Looks up an environment variable; tests pass their own.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

/// The process environment.
EnvLookup process_env();

/// The config file to use: `explicit_path`, else $GRANT_CONFIG, else ./grant.json, else
/// ./db/grant.json. Throws ConfigError naming every place it looked when none exists.
std::filesystem::path locate(const std::optional<std::filesystem::path>& explicit_path, const EnvLookup& env);

/// Parses, interpolates and validates a config document. `path` names it in errors and
/// anchors relative paths. Throws ConfigError with the key path (and line:column for syntax).
/// `urls`: util::UrlCheck::syntax for a run that never connects (PostgreSQL URLs are then not
/// read by libpq, and their host, port, user and dbname stay empty).
Config parse(std::string_view text, const std::filesystem::path& path, const EnvLookup& env,
             util::UrlCheck urls = util::UrlCheck::full);

/// locate() + read + parse().
Config load(const std::optional<std::filesystem::path>& explicit_path, const EnvLookup& env,
            util::UrlCheck urls = util::UrlCheck::full);

} // namespace grant::config
