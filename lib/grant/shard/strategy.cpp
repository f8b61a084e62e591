#include <grant/shard/strategy.hpp>

#include <grant/util/strings.hpp>
#include <grant/util/text.hpp>

#include <algorithm>
#include <cctype>
#include <limits>

namespace grant::shard::detail {

std::string member_path(const std::string& base, std::string_view key) {
  const bool plain = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
  return plain ? base + "." + std::string(key) : base + "[" + util::json_text(Json(std::string(key))) + "]";
}

std::string index_path(const std::string& base, std::size_t index) {
  return base + "[" + std::to_string(index) + "]";
}

void BuildContext::add(std::string message, std::string key_path, std::string hint) const {
  issues.push_back(LintIssue{std::move(message), std::move(key_path), std::move(hint)});
}

const Json* BuildContext::param(std::string_view name) const {
  const auto found = settings.params.find(std::string(name));
  return found == settings.params.end() ? nullptr : &*found;
}

std::string BuildContext::path(std::string_view name) const {
  return member_path(settings.key_path, name);
}

std::optional<std::size_t> BuildContext::shard_ref(const Json& value, const std::string& key_path) const {
  std::vector<std::string> names;
  for (const auto& shard : db.shards) {
    names.push_back(shard.name);
  }
  if (!value.is_string()) {
    add(key_path + " must be a shard name (a string), not " + std::string(value.type_name()), key_path,
        "one of " + util::join(names, ", "));
    return std::nullopt;
  }
  const auto name = value.get<std::string>();
  for (std::size_t i = 0; i < db.shards.size(); ++i) {
    if (db.shards[i].name == name) {
      return i;
    }
  }
  const auto suggestion = util::closest_match(name, names);
  add("unknown shard " + util::in_quotes(name) + " in " + key_path, key_path,
      suggestion.empty() ? "the shards of " + db.name + " are " + util::join(names, ", ")
                         : "did you mean " + util::in_quotes(suggestion) + "?");
  return std::nullopt;
}

std::optional<std::int64_t> BuildContext::integer(const Json& value, const std::string& key_path) const {
  if (value.is_number_unsigned() &&
      value.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    add(key_path + " is " + util::json_text(value) + ", beyond the int64 range", key_path);
    return std::nullopt;
  }
  // ${VAR} expands to a string, so a string holding a canonical integer counts as one.
  if (std::int64_t number = 0;
      value.is_string() && parse_canonical_integer(value.get_ref<const std::string&>(), number)) {
    return number;
  }
  if (!value.is_number_integer()) {
    add(key_path + " must be an integer, not " +
            (value.is_number() || value.is_string() ? util::json_text(value) : std::string(value.type_name())),
        key_path);
    return std::nullopt;
  }
  return value.get<std::int64_t>();
}

std::optional<std::string> BuildContext::text(const Json& value, const std::string& key_path) const {
  if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
    add(key_path + " must be a non-empty string", key_path);
    return std::nullopt;
  }
  return value.get<std::string>();
}

void BuildContext::allow_keys(const Json& object, const std::string& key_path, const std::vector<std::string>& allowed,
                              std::string_view what) const {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
      continue;
    }
    const auto suggestion = util::closest_match(key, allowed);
    add("unknown parameter " + util::in_quotes(key) + " for " + std::string(what), member_path(key_path, key),
        !suggestion.empty() ? "did you mean " + util::in_quotes(suggestion) + "?"
        : allowed.empty()   ? std::string(what) + " takes no parameters"
                            : "allowed: " + util::join(allowed, ", "));
  }
}

} // namespace grant::shard::detail
