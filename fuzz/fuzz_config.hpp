// The fixed world the config targets parse in: a scratch folder with db/ (so sqlite3:db/x
// URLs validate) and an environment of a few variables.
#pragma once

#include "fuzz_common.hpp"

#include <grant/config/load.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>

namespace grant::fuzz {

inline constexpr std::string_view k_env_secret = "Zq9EnvPw";

inline const std::filesystem::path& config_path() {
  static const std::filesystem::path path = [] {
    char pattern[] = "/tmp/grant-fuzz-config-XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      fail("mkdtemp failed");
    }
    static const std::filesystem::path folder = pattern;
    std::filesystem::create_directories(folder / "db");
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(folder, ignored);
    });
    return folder / "grant.json";
  }();
  return path;
}

inline config::EnvLookup fuzz_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    static const std::map<std::string, std::string> k_env = {
        {"HOST", "127.0.0.1"}, {"PORT", "5433"}, {"PW", std::string(k_env_secret)}, {"EMPTY", ""}, {"N", "5"},
        {"RANGE", "-80"},      {"SHARDS", "s0"}};
    const auto found = k_env.find(name);
    return found == k_env.end() ? std::nullopt : std::optional<std::string>(found->second);
  };
}

} // namespace grant::fuzz
