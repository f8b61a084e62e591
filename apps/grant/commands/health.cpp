#include <grant/commands.hpp>
#include <grant/context.hpp>
#include <grant/flag_checks.hpp>

#include <grant/error.hpp>
#include <grant/health/json.hpp>
#include <grant/health/prometheus.hpp>
#include <grant/health/report.hpp>
#include <grant/health/text.hpp>
#include <grant/health/watch.hpp>
#include <grant/registry/registry.hpp>
#include <grant/util/text.hpp>

#include <atomic>
#include <csignal>
#include <iostream>
#include <optional>

namespace grant::cli {

namespace {

struct HealthOptions {
  std::string format = "text";
  std::optional<int> timeout_ms;
  std::optional<int> max_lag_ms;
  std::optional<int> watch_seconds;
  std::vector<std::string> databases;
  std::vector<std::string> shards;
};

std::atomic<bool> g_interrupted{false};

void on_interrupt(int) {
  g_interrupted = true;
}

// Re-checks until SIGINT, printing only changes of state; an interrupt is how it ends (exit 0).
void run_watch(const std::vector<const config::Database*>& databases, const health::CheckOptions& check,
               const HealthOptions& options, Context& context) {
  const bool json = context.global.json || options.format == "json";
  if (options.format == "prometheus") {
    throw ConfigError("--watch prints changes of state as text or JSON lines, not Prometheus", "--format",
                      "drop --watch and run the prometheus format from a timer instead");
  }
  g_interrupted = false;
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  health::watch(databases, check, std::chrono::seconds(*options.watch_seconds), g_interrupted,
                [&](const health::Change& change) {
                  std::cout << (json ? util::json_text(health::to_json(change))
                                     : util::printable(health::to_text(change, context.color_stdout()), "\n\t",
                                                       context.color_stdout()))
                            << std::endl;
                });
  context.exit_code = 0;
}

void run_health(const HealthOptions& options, Context& context) {
  const auto& config = context.config();
  const auto databases = registry::select_databases(config, options.databases);
  health::CheckOptions check;
  check.timeout_ms = options.timeout_ms;
  check.max_lag_ms = options.max_lag_ms;
  check.shards = options.shards;
  if (options.watch_seconds) {
    run_watch(databases, check, options, context);
    return;
  }
  const auto report = health::check(databases, check);

  if (context.global.json || options.format == "json") {
    context.emit_json(health::to_json(report));
  } else if (options.format == "prometheus") {
    std::cout << health::to_prometheus(report) << std::flush;
  } else if (!context.global.quiet) {
    std::cout << util::printable(health::to_text(report, context.color_stdout()), "\n\t", context.color_stdout())
              << std::flush;
  }
  context.exit_code = report.status == health::Status::healthy ? 0 : 1;
}

} // namespace

void setup_health(CLI::App& app, Context& context) {
  auto* command = app.add_subcommand(
      "health", "Probe every writer, replica and shard: reachable, latency, role, replication lag, connections");
  auto options = std::make_shared<HealthOptions>();
  command->add_option("--format", options->format, "text (default), json (the contract's document) or prometheus")
      ->check(CLI::IsMember({"text", "json", "prometheus"}));
  command
      ->add_option("--timeout", options->timeout_ms,
                   "Bound per endpoint in ms, even against a server that never answers (default: the "
                   "database's health.timeout_ms, 2000)")
      ->check(whole_number(1, 3'600'000));
  command
      ->add_option("--max-lag", options->max_lag_ms,
                   "Replica lag in ms past which it is degraded (default: health.max_lag_ms, 5000)")
      ->check(whole_number(0, 86'400'000));
  command
      ->add_option("--watch", options->watch_seconds,
                   "Re-check every SECONDS and print only changes of state, with timestamps, until Ctrl-C")
      ->check(whole_number(1, 86'400));
  command->add_option("--database", options->databases, "Only this database (repeatable; default: all)");
  command->add_option("--shard", options->shards, "Only this shard (repeatable; default: all)");
  command->footer("Examples:\n"
                  "  grant health\n"
                  "  grant health --database orders --timeout 1000\n"
                  "  grant health --format json --max-lag 2000\n"
                  "  grant health --format prometheus > /var/lib/node_exporter/textfile/grant.prom\n"
                  "  grant health --watch 5             # one line per change of state; Ctrl-C ends it (exit 0)\n"
                  "Exit codes: 0 every endpoint healthy, 1 one is degraded (lag, role mismatch, connections over\n"
                  "90%, in-doubt transactions) or down, 2 usage or config error.");
  command->callback([options, &context] { run_health(*options, context); });
}

} // namespace grant::cli
