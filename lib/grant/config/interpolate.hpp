#pragma once

#include <grant/config/load.hpp>

#include <string>
#include <string_view>

namespace grant::config {

/// Expands `${VAR}` and `${VAR:-default}` in `text`; `$${` stands for a literal `${`.
/// Throws ConfigError naming the variable and `key_path` when VAR is unset and has no default.
std::string interpolate(std::string_view text, const EnvLookup& env, const std::string& key_path);

} // namespace grant::config
