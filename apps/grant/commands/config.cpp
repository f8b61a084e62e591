#include <grant/commands.hpp>
#include <grant/context.hpp>
#include <grant/flag_checks.hpp>

#include <grant/health/report.hpp>
#include <grant/registry/endpoint.hpp>
#include <grant/registry/registry.hpp>
#include <grant/util/strings.hpp>
#include <grant/util/text.hpp>

namespace grant::cli {

namespace {

struct ConfigCheckOptions {
  bool connect = false;
  int timeout_ms = 5000;
};

struct Probe {
  registry::Endpoint endpoint;
  bool ok = false;
  std::string detail; ///< server version, or the error
  bool in_recovery = false;
  double latency_ms = 0;
  bool skipped = false;
};

// Every endpoint at once through health's probes, each bounded by `timeout_ms` as in `grant
// health`; a SQLite file that does not exist yet is not probed: connecting would create it, and
// a check must not write anything.
std::vector<Probe> probe_all(const std::vector<registry::Endpoint>& endpoints, int timeout_ms) {
  std::vector<Probe> out(endpoints.size());
  std::vector<health::Target> targets;
  std::vector<std::size_t> probed;
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    out[i].endpoint = endpoints[i];
    if (endpoints[i].url.sqlite_file_missing()) {
      out[i].ok = true;
      out[i].skipped = true;
      out[i].detail = "file not created yet (the first migrate creates it)";
    } else {
      targets.push_back({endpoints[i], timeout_ms, 0});
      probed.push_back(i);
    }
  }
  const auto found = health::probe_all(targets, static_cast<int>(targets.size()));
  for (std::size_t k = 0; k < found.size(); ++k) {
    auto& result = out[probed[k]];
    result.ok = found[k].reachable;
    result.detail = found[k].error ? found[k].error->message : found[k].server_version;
    result.in_recovery = found[k].in_recovery.value_or(false);
    result.latency_ms = found[k].latency_ms();
  }
  return out;
}

nlohmann::json resolver_json(const config::Database& db) {
  if (!db.sharding) {
    return nullptr;
  }
  nlohmann::json resolver = nlohmann::json::parse(util::json_text(db.sharding->resolver.params));
  resolver["type"] = db.sharding->resolver.type;
  return {{"key", db.sharding->key}, {"tables", db.sharding->tables}, {"resolver", resolver}};
}

void run_check(const ConfigCheckOptions& options, Context& context) {
  const auto& config = context.config();
  const auto databases = registry::select_databases(config, context.global.databases);

  std::vector<registry::Endpoint> endpoints;
  for (const auto* db : databases) {
    for (auto& endpoint : registry::endpoints_of(*db)) {
      endpoints.push_back(std::move(endpoint));
    }
  }
  std::vector<Probe> probes;
  if (options.connect) {
    probes = probe_all(endpoints, options.timeout_ms);
  }
  const auto probe_of = [&](const registry::Endpoint& endpoint) -> const Probe* {
    for (const auto& p : probes) {
      if (p.endpoint.label() == endpoint.label()) {
        return &p;
      }
    }
    return nullptr;
  };
  std::size_t failures = 0;
  for (const auto& p : probes) {
    failures += p.ok ? 0 : 1;
  }

  if (context.global.json) {
    nlohmann::json out{{"config", config.path.string()}, {"databases", nlohmann::json::array()}};
    for (const auto* db : databases) {
      nlohmann::json entry{{"name", db->name},
                           {"sharded", db->is_sharded()},
                           {"migrations", db->migrations.string()},
                           {"migrations_table", db->migrations_table},
                           {"sharding", resolver_json(*db)},
                           {"endpoints", nlohmann::json::array()}};
      for (const auto& endpoint : registry::endpoints_of(*db)) {
        nlohmann::json e{{"label", endpoint.label()},      {"role", registry::role_name(endpoint.role)},
                         {"shard", endpoint.shard},        {"replica", endpoint.replica},
                         {"url", endpoint.url.redacted()}, {"weight", endpoint.weight}};
        if (const auto* p = probe_of(endpoint)) {
          e["reachable"] = p->ok;
          e["detail"] = p->detail;
          e["latency_ms"] = p->latency_ms;
          e["in_recovery"] = p->in_recovery;
        }
        entry["endpoints"].push_back(e);
      }
      out["databases"].push_back(entry);
    }
    out["ok"] = failures == 0;
    context.emit_json(out);
  } else {
    context.say("config: " + config.path.string() + " (valid)");
    for (const auto* db : databases) {
      std::string headline = context.paint(db->name, "1");
      if (db->is_sharded()) {
        headline += "  sharded, " + std::to_string(db->shards.size()) + " shards";
        if (db->sharding) {
          headline += ", resolver " + db->sharding->resolver.type + " on " + util::join(db->sharding->key, ", ");
        } else {
          headline += ", no resolver";
        }
      }
      context.say(headline);
      context.say("  migrations: " + db->migrations.string() + " (table " + db->migrations_table + ")");
      for (const auto& endpoint : registry::endpoints_of(*db)) {
        std::string line = "  " + std::string(endpoint.role == registry::Role::writing ? "writer " : "replica") + " " +
                           endpoint.label() + "  " + endpoint.url.redacted();
        if (endpoint.weight != 1) {
          line += "  weight " + std::to_string(endpoint.weight);
        }
        if (const auto* p = probe_of(endpoint)) {
          char latency[32];
          std::snprintf(latency, sizeof latency, "%.1f ms", p->latency_ms);
          line += p->ok ? "  " + context.paint("ok", "32") + " " + p->detail +
                              (p->skipped ? "" : std::string(", ") + latency) + (p->in_recovery ? ", in recovery" : "")
                        : "  " + context.paint("FAILED", "31") + " " + p->detail;
        }
        context.say(line);
      }
    }
    if (options.connect) {
      context.say(failures == 0
                      ? (probes.size() == 1 ? std::string("the endpoint is reachable")
                                            : "all " + std::to_string(probes.size()) + " endpoints reachable")
                      : std::to_string(failures) + " of " + std::to_string(probes.size()) + " endpoints unreachable");
    }
  }
  if (failures > 0) {
    for (const auto& p : probes) {
      if (!p.ok) {
        context.error(p.endpoint.label() + ": " + p.detail);
      }
    }
    context.exit_code = 3;
  }
}

} // namespace

void setup_config(CLI::App& app, Context& context) {
  auto* command = app.add_subcommand("config", "Inspect the configuration");
  command->require_subcommand(1);
  auto options = std::make_shared<ConfigCheckOptions>();
  auto* check = command->add_subcommand("check", "Load and validate the config; print the resolved topology");
  check->add_flag("--connect", options->connect, "Also connect to every endpoint and report which fail");
  check
      ->add_option("--timeout", options->timeout_ms,
                   "Bound per endpoint in ms, even against a server that never answers (default 5000)")
      ->check(whole_number(1, 3'600'000));
  check->add_option("--database", context.global.databases, "Only this database (repeatable)");
  check->footer("Examples:\n  grant config check\n  grant config check --connect --json\n"
                "Exit codes: 0 valid (and reachable), 2 config error, 3 an endpoint is unreachable.");
  check->callback([options, &context] { run_check(*options, context); });
}

} // namespace grant::cli
