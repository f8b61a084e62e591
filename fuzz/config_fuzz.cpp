// config::parse (JSON, duplicate keys, ${VAR} expansion, validation of every key) and
// config::interpolate. The first byte picks a mode: even = a whole config document, odd = one
// string through interpolate().
// Properties: only grant::Error leaves, always with where (file:line:column or key path);
// parsing the same text twice gives the same Config; every PostgreSQL URL of a parsed config
// redacts the password libpq reads from it; shard::lint issues all carry a key path and
// shard::validate agrees with lint; interpolate leaves text without `$` alone, and escaping
// `${` as `$${` round-trips any text; an unset variable error names the key path.
#include "fuzz_config.hpp"
#include "libpq_password.hpp"

#include <grant/config/interpolate.hpp>
#include <grant/shard/lint.hpp>

using namespace grant;

namespace {

std::string summary(const config::Config& config) {
  std::string out;
  const auto url = [&](const util::DatabaseUrl& u) {
    out += u.raw + "|" + u.redacted() + "|" + u.sqlite_path.string() + ";";
  };
  for (const auto& db : config.databases) {
    out += db.name + "{" + db.key_path + "," + db.migrations.string() + "," + db.migrations_table + ",";
    if (db.url) {
      url(*db.url);
    }
    for (const auto& shard : db.shards) {
      out += shard.name + "/" + std::to_string(shard.weight) + "/" + shard.key_range.value_or("~") + ":";
      url(shard.url);
      for (const auto& replica : shard.replicas) {
        out += replica.name + std::to_string(replica.weight);
        url(replica.url);
      }
    }
    for (const auto& replica : db.replicas) {
      out += replica.name + std::to_string(replica.weight);
      url(replica.url);
    }
    if (db.sharding) {
      for (const auto& column : db.sharding->key) {
        out += column + ",";
      }
      out += db.sharding->resolver.type + db.sharding->resolver.params.dump();
    }
    out += std::to_string(db.pool.size) + "," + std::to_string(db.health.max_lag_ms) + "," + db.balancer.strategy + "}";
  }
  return out;
}

void check_redacted(const util::DatabaseUrl& url) {
  if (url.scheme != util::UrlScheme::postgres) {
    return;
  }
  const auto password = fuzz::libpq_password(url.raw);
  if (!password || password->size() < 3 || url.raw.find(*password) != url.raw.rfind(*password)) {
    return;
  }
  fuzz::check(url.redacted().find(*password) == std::string::npos, "a config URL prints without its password",
              url.raw + " -> " + url.redacted());
}

void whole_config(std::string_view text) {
  const auto env = fuzz::fuzz_env();
  std::optional<config::Config> parsed;
  std::string first_error;
  fuzz::run_parser([&] { parsed = config::parse(text, fuzz::config_path(), env); }, fuzz::NeedsWhere::yes,
                   [&](const Error& error) { first_error = std::string(error.what()) + "@" + error.where(); });
  std::optional<config::Config> again;
  std::string second_error;
  fuzz::run_parser([&] { again = config::parse(text, fuzz::config_path(), env); }, fuzz::NeedsWhere::yes,
                   [&](const Error& error) { second_error = std::string(error.what()) + "@" + error.where(); });
  fuzz::check(parsed.has_value() == again.has_value() && first_error == second_error,
              "parsing a config is deterministic", first_error + " vs " + second_error);
  if (!parsed) {
    return;
  }
  fuzz::check(summary(*parsed) == summary(*again), "the same text gives the same Config");
  for (const auto& db : parsed->databases) {
    fuzz::check(db.url.has_value() != db.is_sharded(), "a database has url or shards, never both", db.name);
    if (db.url) {
      check_redacted(*db.url);
    }
    for (const auto& shard : db.shards) {
      check_redacted(shard.url);
      for (const auto& replica : shard.replicas) {
        check_redacted(replica.url);
      }
    }
    for (const auto& replica : db.replicas) {
      check_redacted(replica.url);
    }
  }
  std::vector<shard::LintIssue> issues;
  fuzz::run_parser([&] { issues = shard::lint(*parsed); }, fuzz::NeedsWhere::yes);
  for (const auto& issue : issues) {
    fuzz::check(!issue.message.empty() && !issue.key_path.empty(), "a lint issue has a message and a key path",
                issue.message);
  }
  const bool valid = fuzz::run_parser([&] { shard::validate(*parsed); }, fuzz::NeedsWhere::yes);
  fuzz::check(valid == issues.empty(), "validate fails exactly when lint finds issues");
}

std::string escape(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "${") == 0) {
      out += '$';
    }
    out += text[i];
  }
  return out;
}

void one_string(std::string_view text) {
  const auto env = fuzz::fuzz_env();
  const std::string key_path = "databases.x.url";
  std::optional<std::string> out;
  fuzz::run_parser([&] { out = config::interpolate(text, env, key_path); }, fuzz::NeedsWhere::yes,
                   [&](const Error& error) {
                     fuzz::check(error.where() == key_path, "an interpolation error names the key path", error.where());
                   });
  if (text.find('$') == std::string_view::npos) {
    fuzz::check(out && *out == text, "text without $ is left alone");
  }
  const auto escaped = escape(text);
  std::optional<std::string> unescaped;
  fuzz::run_parser([&] { unescaped = config::interpolate(escaped, env, key_path); }, fuzz::NeedsWhere::yes);
  fuzz::check(unescaped && *unescaped == text, "$${ escaping round-trips", std::string(text));
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)fuzz::config_path();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const auto text = fuzz::as_text(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    whole_config(text);
  } else {
    one_string(text);
  }
  return 0;
}
