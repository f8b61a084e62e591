#pragma once

// Internal to lib/grant/shard: what the strategy files share with the registry.

#include <grant/shard/lint.hpp>
#include <grant/shard/resolver.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string_view>

namespace grant::shard::detail {

/// "No shard" in a strategy's tables of shard indexes.
inline constexpr std::size_t k_no_shard = static_cast<std::size_t>(-1);

using Json = nlohmann::ordered_json;

/// What a strategy gets to validate its parameters and build itself. Strategies record every
/// problem in `issues` and keep going, so lint reports them all.
struct BuildContext {
  const config::Database& db;
  const config::ResolverSettings& settings;
  const config::Config* config; ///< for checks across databases; null when linting one database
  const LookupLoader& loader;
  std::vector<LintIssue>& issues;

  void add(std::string message, std::string key_path, std::string hint = {}) const;

  const Json* param(std::string_view name) const;
  /// settings.key_path + "." + name
  std::string path(std::string_view name) const;

  /// The index of the shard a string names, or an issue (with did-you-mean) at `key_path`.
  std::optional<std::size_t> shard_ref(const Json& value, const std::string& key_path) const;
  /// An integer that fits int64 (a JSON number, or a string holding a canonical integer, as
  /// ${VAR} gives), or an issue at `key_path`.
  std::optional<std::int64_t> integer(const Json& value, const std::string& key_path) const;
  /// A non-empty string, or an issue at `key_path`.
  std::optional<std::string> text(const Json& value, const std::string& key_path) const;
  /// Issues for keys of `object` not in `allowed`, with did-you-mean.
  void allow_keys(const Json& object, const std::string& key_path, const std::vector<std::string>& allowed,
                  std::string_view what) const;
};

/// Index of the last element <= value in sorted, non-empty `starts` whose first element is <=
/// every value. Branch-free: a resolve costs a few cycles per level, not a misprediction each.
template <typename T> std::size_t last_at_or_below(const std::vector<T>& starts, T value) noexcept {
  const T* base = starts.data();
  std::size_t count = starts.size();
  while (count > 1) {
    const std::size_t half = count / 2;
    base = base[half] <= value ? base + half : base;
    count -= half;
  }
  return static_cast<std::size_t>(base - starts.data());
}

/// `base.key` or `base["odd key"]`.
std::string member_path(const std::string& base, std::string_view key);
std::string index_path(const std::string& base, std::size_t index);

/// One `sharding.resolver.type`.
struct Strategy {
  std::string_view type;
  std::vector<std::string> params; ///< allowed parameters besides "type"
  bool one_integer_column = false; ///< the key must be one integer column
  bool one_column = false;         ///< the key must be one column
  bool uses_key_range = false;     ///< shards may carry key_range
  /// Validates and builds; returns null when it recorded issues.
  std::unique_ptr<Resolver> (*build)(const BuildContext& context) = nullptr;
};

// The registry (resolver.cpp) lists these; a new strategy adds one here and one line there.
const Strategy& modulo_strategy();
const Strategy& hash_strategy();
const Strategy& range_strategy();
const Strategy& lookup_strategy();
const Strategy& consistent_hash_strategy();

/// Runs every check on `db` and builds its resolver when there were no issues.
std::unique_ptr<Resolver> build(const config::Database& db, const config::Config* config, const LookupLoader& loader,
                                std::vector<LintIssue>& issues);

} // namespace grant::shard::detail
