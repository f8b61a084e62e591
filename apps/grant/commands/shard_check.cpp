#include <grant/commands.hpp>
#include <grant/context.hpp>
#include <grant/flag_checks.hpp>

#include <grant/check/shard_check.hpp>
#include <grant/error.hpp>
#include <grant/registry/registry.hpp>
#include <grant/util/strings.hpp>
#include <grant/util/text.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>

#include <unistd.h>

namespace grant::cli {

namespace {

struct ShardCheckFlags {
  std::vector<std::string> databases;
  std::vector<std::string> tables;
  std::size_t sample = 5;
  int jobs = 0;
};

nlohmann::json to_json(const check::DatabaseCheck& check) {
  nlohmann::json out{{"database", check.database},
                     {"resolver", check.resolver},
                     {"healthy", check.healthy()},
                     {"rows_scanned", check.rows_scanned},
                     {"scan_seconds", check.scan_seconds}};
  out["lint"] = nlohmann::json::array();
  for (const auto& issue : check.lint) {
    out["lint"].push_back({{"message", issue.message}, {"key_path", issue.key_path}, {"hint", issue.hint}});
  }
  out["shards"] = nlohmann::json::array();
  for (const auto& reach : check.reach) {
    out["shards"].push_back(
        {{"shard", reach.shard}, {"reachable", reach.ok}, {"detail", reach.detail}, {"latency_ms", reach.latency_ms}});
  }
  out["schema"] = nlohmann::json::array();
  for (const auto& diff : check.schema) {
    out["schema"].push_back(
        {{"shard", diff.shard}, {"kind", diff.kind}, {"table", diff.table}, {"detail", diff.detail}});
  }
  out["misplaced"] = nlohmann::json::array();
  for (const auto& m : check.misplaced) {
    out["misplaced"].push_back(
        {{"table", m.table},
         {"found_on", m.found_on},
         {"belongs_on", m.belongs_on.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.belongs_on)},
         {"rows", m.rows},
         {"samples", m.samples}});
  }
  out["distribution"] = nlohmann::json::array();
  for (const auto& d : check.distribution) {
    nlohmann::json rows = nlohmann::json::object();
    for (const auto& [shard, count] : d.rows_per_shard) {
      rows[shard] = count;
    }
    nlohmann::json heavy = nlohmann::json::array();
    for (const auto& h : d.heaviest) {
      heavy.push_back({{"key", h.key}, {"rows_at_least", h.rows}, {"rows_at_most", h.rows + h.undercount}});
    }
    out["distribution"].push_back({{"table", d.table},
                                   {"rows_per_shard", rows},
                                   {"skew", d.skew},
                                   {"null_keys", d.null_keys},
                                   {"heaviest_keys", heavy}});
  }
  out["errors"] = check.errors;
  return out;
}

void print_text(Context& context, const check::DatabaseCheck& check) {
  const auto ok = [&](bool good) { return good ? context.paint("ok", "32") : context.paint("PROBLEM", "31"); };
  context.say(context.paint(check.database, "1") + "  resolver " + (check.resolver.empty() ? "-" : check.resolver) +
              "  " + ok(check.healthy()));
  context.say("  config lint: " + (check.lint.empty() ? ok(true) : ok(false)));
  for (const auto& issue : check.lint) {
    context.say("    " + issue.message + " (" + issue.key_path + ")");
  }
  for (const auto& reach : check.reach) {
    char latency[32];
    std::snprintf(latency, sizeof latency, "%.1f ms", reach.latency_ms);
    context.say("  shard " + reach.shard + ": " +
                (reach.ok ? ok(true) + " " + latency : ok(false) + " " + reach.detail));
  }
  context.say("  schema agreement: " + ok(check.schema.empty()));
  for (const auto& diff : check.schema) {
    context.say("    " + diff.shard + ": " + diff.kind + ": " + diff.detail);
  }
  std::uint64_t misplaced_rows = 0;
  for (const auto& m : check.misplaced) {
    misplaced_rows += m.rows;
  }
  if (check.resolver.empty()) {
    context.say("  placement: skipped (no resolver, see config lint)");
    return;
  }
  if (check.distribution.empty()) {
    context.say("  placement: nothing to scan (sharding.tables lists no table)");
    return;
  }
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.2f s", check.scan_seconds);
  context.say("  placement: " + ok(check.misplaced.empty() && check.errors.empty()) + "  " +
              std::to_string(check.rows_scanned) + " rows scanned in " + rate + ", " + std::to_string(misplaced_rows) +
              " misplaced");
  for (const auto& m : check.misplaced) {
    context.say("    " + m.table + ": " + std::to_string(m.rows) + (m.rows == 1 ? " row on " : " rows on ") +
                m.found_on + (m.rows == 1 ? " belongs on " : " belong on ") +
                (m.belongs_on.empty() ? "no shard (no owner for the key)" : m.belongs_on) + "; e.g. " +
                util::join(m.samples, ", "));
  }
  for (const auto& error : check.errors) {
    context.say("    " + context.paint("error", "31") + ": " + error);
  }
  for (const auto& d : check.distribution) {
    if (d.rows_per_shard.empty()) {
      context.say("  distribution " + d.table + ": no shard could be scanned");
      continue;
    }
    std::string line = "  distribution " + d.table + ":";
    for (const auto& [shard, count] : d.rows_per_shard) {
      line += " " + shard + "=" + std::to_string(count);
    }
    char skew[32];
    std::snprintf(skew, sizeof skew, "%.2f", d.skew);
    line += "  skew " + std::string(skew) + " (max/mean)";
    context.say(line);
    if (!d.heaviest.empty()) {
      std::string heavy = "    heaviest keys:";
      for (const auto& h : d.heaviest) {
        heavy += " " + h.key + " (" + std::to_string(h.rows) + (h.undercount > 0 ? "+" : "") + ")";
      }
      context.say(heavy);
    }
    if (d.null_keys > 0) {
      context.say("    " + std::to_string(d.null_keys) + (d.null_keys == 1 ? " row has" : " rows have") +
                  " a NULL shard key");
    }
  }
}

void run_shard_check(const ShardCheckFlags& flags, Context& context) {
  const auto& config = context.config();
  std::vector<const config::Database*> databases;
  for (const auto* db : registry::select_databases(config, flags.databases)) {
    if (db->is_sharded()) {
      databases.push_back(db);
    } else if (!flags.databases.empty()) {
      throw ConfigError("database " + util::in_quotes(db->name) + " is not sharded", "--database " + db->name,
                        "shard-check looks at databases with \"shards\"");
    }
  }
  if (databases.empty()) {
    throw ConfigError("no sharded database in " + config.path.string(), config.path.string(),
                      "declare one with \"shards\" and \"sharding\" (docs/sharding.md)");
  }
  if (!flags.tables.empty() && databases.size() > 1) {
    throw ConfigError("--table needs --database when several databases are sharded", "--table");
  }
  registry::Registry registry(config);
  const bool progress_line = !context.global.quiet && isatty(STDERR_FILENO) != 0;
  nlohmann::json reports = nlohmann::json::array();
  bool healthy = true;
  for (const auto* database : databases) {
    check::CheckOptions options;
    options.tables = flags.tables;
    options.samples = flags.sample;
    options.jobs = flags.jobs;
    auto last = std::make_shared<std::chrono::steady_clock::time_point>();
    auto mutex = std::make_shared<std::mutex>();
    if (progress_line) {
      options.on_progress = [last, mutex, name = util::printable(database->name)](std::uint64_t rows) {
        std::lock_guard guard(*mutex);
        const auto now = std::chrono::steady_clock::now();
        if (now - *last > std::chrono::milliseconds(200)) {
          *last = now;
          std::cerr << "\rshard-check " << name << ": " << rows << " rows scanned" << std::flush;
        }
      };
    }
    const auto check = check::check_database(registry, config, *database, options);
    if (progress_line) {
      std::cerr << "\r\033[K" << std::flush;
    }
    healthy = healthy && check.healthy();
    if (context.global.json) {
      reports.push_back(to_json(check));
    } else {
      print_text(context, check);
    }
  }
  if (context.global.json) {
    context.emit_json({{"healthy", healthy}, {"databases", reports}});
  }
  context.exit_code = healthy ? 0 : 1;
}

} // namespace

void setup_shard_check(CLI::App& app, Context& context) {
  auto flags = std::make_shared<ShardCheckFlags>();
  auto* command = app.add_subcommand(
      "shard-check", "Audit sharded databases: lint, reachability, schema skew, misplaced rows, distribution");
  command->add_option("--database", flags->databases, "Only this database (repeatable)");
  command->add_option("--table", flags->tables, "Only this sharded table (repeatable)");
  command->add_option("--sample", flags->sample, "Sample keys shown per misplaced group (default 5)")
      ->check(whole_number(0, 10000));
  command->add_option("--jobs", flags->jobs, "Shards scanned at once (default: all)")->check(whole_number(1, 256));
  command->footer(
      "Streams the shard-key columns of every sharded table from every shard (COPY; never loads a\n"
      "table into memory), resolves each key and counts rows living on the wrong shard.\n"
      "Examples:\n  grant shard-check\n  grant shard-check --database orders --table orders --sample 10 --json\n"
      "Exit codes: 0 all well, 1 problems found, 2 config error.");
  command->callback([flags, &context] { run_shard_check(*flags, context); });
}

} // namespace grant::cli
