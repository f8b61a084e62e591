// Resolver config lint and the resolvers themselves (modulo, hash with and without Vitess key
// ranges, range, lookup map and table, consistent_hash). Input: a first line of shard specs
// separated by ',' (each a key_range, "~" for none, optionally "*WEIGHT"; 1 to 8 shards), then
// the `sharding` JSON object, then 0x1e and one key per line (parts separated by ',').
// Properties: only grant::Error leaves config::parse, lint, make_resolver and resolve, always
// with where (key path); lint(db) is empty exactly when make_resolver succeeds; every issue has
// a key path; a resolved index is a shard of the database, the same every time, and the
// resolve_name of it; a hash resolver with key ranges picks the shard whose range holds the
// key's keyspace id; modulo picks key mod N (non-negative).
#include "fuzz_config.hpp"

#include <grant/shard/key_range.hpp>
#include <grant/shard/lint.hpp>
#include <grant/shard/resolver.hpp>

using namespace grant;

namespace {

std::string json_string(std::string_view text) {
  return nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  for (std::size_t start = 0;;) {
    const auto end = text.find(separator, start);
    out.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) {
      return out;
    }
    start = end + 1;
  }
}

shard::LookupRows table_rows(const config::ResolverSettings&) {
  return {{"1", "s0"}, {"acme", "s1"}, {"42", "s0"}, {"ghost", "s9"}};
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)fuzz::config_path();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input = fuzz::as_text(data, size);
  const auto specs = split(fuzz::take_line(input), ',');
  if (specs.size() > 8) {
    return 0;
  }
  const auto keys_at = input.find('\x1e');
  const auto sharding = input.substr(0, keys_at);
  const auto keys = keys_at == std::string_view::npos ? std::string_view{} : input.substr(keys_at + 1);

  std::string shards;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const auto star = specs[i].find('*');
    const auto range = specs[i].substr(0, star);
    shards +=
        std::string(i == 0 ? "" : ",") + "{\"name\": \"s" + std::to_string(i) + "\", \"url\": \"sqlite3::memory:\"";
    if (range != "~") {
      shards += ", \"key_range\": " + json_string(range);
    }
    if (star != std::string_view::npos) {
      shards += ", \"weight\": " + json_string(specs[i].substr(star + 1));
    }
    shards += "}";
  }
  const std::string text = "{\"databases\": {\"primary\": {\"url\": \"sqlite3::memory:\"}, \"orders\": {\"shards\": [" +
                           shards + "], \"sharding\": " + std::string(sharding) + "}}}";

  std::optional<config::Config> config;
  fuzz::run_parser([&] { config = config::parse(text, fuzz::config_path(), fuzz::fuzz_env()); }, fuzz::NeedsWhere::yes);
  if (!config) {
    return 0;
  }
  const auto* db = config->find("orders");
  fuzz::check(db != nullptr, "the orders database is there");
  std::vector<shard::LintIssue> issues;
  fuzz::run_parser([&] { issues = shard::lint(*db); }, fuzz::NeedsWhere::yes);
  for (const auto& issue : issues) {
    fuzz::check(!issue.message.empty() && !issue.key_path.empty(), "a lint issue has a message and a key path",
                issue.message);
  }
  std::unique_ptr<shard::Resolver> resolver;
  fuzz::run_parser([&] { resolver = shard::make_resolver(*db, &table_rows); }, fuzz::NeedsWhere::yes);
  fuzz::check((resolver != nullptr) == issues.empty(), "make_resolver succeeds exactly when lint finds nothing",
              issues.empty() ? "no issue, no resolver" : issues.front().message);
  if (!resolver) {
    return 0;
  }
  fuzz::check(resolver->shard_count() == db->shards.size(), "the resolver knows every shard");

  std::vector<shard::KeyRange> ranges;
  bool all_ranges = !db->shards.empty();
  for (const auto& shard : db->shards) {
    std::string error;
    const auto range = shard.key_range ? shard::parse_key_range(*shard.key_range, error) : std::nullopt;
    all_ranges = all_ranges && range.has_value();
    ranges.push_back(range.value_or(shard::KeyRange{}));
  }

  std::vector<std::string_view> lines = split(keys, '\n');
  for (const auto fixed : {"1", "-1", "0", "42", "acme", "9223372036854775807", "-9223372036854775808", "acme,42"}) {
    lines.emplace_back(fixed);
  }
  for (const auto line : lines) {
    const auto parts = split(line, ',');
    shard::Key key;
    if (!fuzz::run_parser([&] { key = shard::Key::from_text(parts); }, fuzz::NeedsWhere::no)) {
      continue;
    }
    std::optional<std::size_t> index;
    fuzz::run_parser([&] { index = resolver->resolve(key); }, fuzz::NeedsWhere::yes,
                     [](const Error& error) {
                       fuzz::check(dynamic_cast<const shard::KeyError*>(&error) != nullptr ||
                                       std::string_view(error.what()).find("lookup") != std::string_view::npos,
                                   "a key that cannot be resolved is a KeyError", error.what());
                     });
    if (!index) {
      continue;
    }
    fuzz::check(*index < resolver->shard_count(), "a resolved index is a shard");
    fuzz::check(resolver->resolve(key) == *index, "resolving is deterministic");
    fuzz::check(&resolver->resolve_name(key) == &resolver->shard_names()[*index], "resolve_name is the shard's name");
    if (resolver->type() == "hash" && all_ranges) {
      fuzz::check(ranges[*index].contains(key.keyspace_id()), "hash picks the shard whose key_range holds the id",
                  std::string(line) + " -> " + resolver->shard_names()[*index]);
    }
    if (resolver->type() == "modulo" && key.integer()) {
      const auto n = static_cast<std::int64_t>(resolver->shard_count());
      fuzz::check(static_cast<std::int64_t>(*index) == ((*key.integer() % n) + n) % n, "modulo picks key mod N");
    }
  }
  return 0;
}
