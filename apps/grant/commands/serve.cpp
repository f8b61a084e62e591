#include <grant/commands.hpp>
#include <grant/context.hpp>
#include <grant/flag_checks.hpp>

#include <grant/health/json.hpp>
#include <grant/health/monitor.hpp>
#include <grant/registry/registry.hpp>
#include <grant/serve/server.hpp>
#include <grant/util/text.hpp>

#include <pthread.h>

#include <csignal>
#include <iostream>
#include <optional>
#include <thread>

namespace grant::cli {

namespace {

struct ServeOptions {
  std::string listen = "127.0.0.1:8433";
  int interval_ms = 1000;
  std::optional<int> timeout_ms;
  std::optional<int> max_lag_ms;
  int threads = 8;
  std::vector<std::string> databases;
};

std::string transition_text(const health::Transition& transition) {
  std::string line = health::iso8601_utc(transition.at) + "  " + transition.endpoint.label() + "  " +
                     std::string(health::availability_name(transition.from)) + " -> " +
                     std::string(health::availability_name(transition.to));
  if (!transition.reasons.empty()) {
    line += ": " + transition.reasons.front();
  }
  return line;
}

// SIGINT and SIGTERM go to one waiting thread (blocked everywhere else, the monitor's and the
// HTTP server's threads included, since they inherit the mask), which stops the server.
class StopOnSignal {
public:
  explicit StopOnSignal(serve::Server& server) {
    sigemptyset(&m_set);
    sigaddset(&m_set, SIGINT);
    sigaddset(&m_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &m_set, &m_old);
    m_thread = std::thread([this, &server] {
      int signal = 0;
      sigwait(&m_set, &signal);
      m_signal = signal;
      server.stop();
    });
  }
  ~StopOnSignal() {
    if (m_signal == 0) {
      pthread_kill(m_thread.native_handle(), SIGTERM); // wakes sigwait; the signal stays ours
    }
    m_thread.join();
    pthread_sigmask(SIG_SETMASK, &m_old, nullptr);
  }
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

  int signal() const { return m_signal; }

private:
  sigset_t m_set{};
  sigset_t m_old{};
  std::atomic<int> m_signal{0};
  std::thread m_thread;
};

void run_serve(const ServeOptions& options, Context& context) {
  const auto& config = context.config();
  const auto databases = registry::select_databases(config, options.databases);
  const auto listen = serve::parse_listen(options.listen);
  const bool json = context.global.json;
  const bool quiet = context.global.quiet;

  health::CheckOptions check;
  check.timeout_ms = options.timeout_ms;
  check.max_lag_ms = options.max_lag_ms;
  health::MonitorOptions monitor_options;
  monitor_options.interval = std::chrono::milliseconds(options.interval_ms);
  monitor_options.on_transition = [json, quiet](const health::Transition& transition) {
    if (!quiet) {
      std::cout << (json ? util::json_text(health::to_json(transition)) : util::printable(transition_text(transition)))
                << std::endl;
    }
  };
  health::Monitor monitor(databases, check, monitor_options);
  serve::Server server(monitor, {listen, options.threads});
  StopOnSignal stop_on_signal(server);
  auto bound = listen;
  bound.port = server.bind();
  const auto endpoints = monitor.state()->endpoints.size();
  if (json) {
    std::cout << util::json_text(nlohmann::json{{"listening", "http://" + bound.text()},
                                                {"endpoints", endpoints},
                                                {"interval_ms", options.interval_ms}})
              << std::endl;
  } else if (!quiet) {
    std::cout << "grant serve: listening on http://" << bound.text() << " (" << endpoints
              << " endpoints, checked every " << options.interval_ms << " ms; SIGTERM or Ctrl-C stops)" << std::endl;
  }
  monitor.start();
  server.run();
  monitor.stop();
  if (!json && !quiet) {
    std::cout << "grant serve: stopped" << std::endl;
  }
  context.exit_code = 0;
}

} // namespace

void setup_serve(CLI::App& app, Context& context) {
  auto* command = app.add_subcommand(
      "serve", "HTTP health answers for load balancers and monitoring, from a background health monitor");
  auto options = std::make_shared<ServeOptions>();
  command->add_option("--listen", options->listen, "HOST:PORT to listen on (default 127.0.0.1:8433; port 0 picks one)");
  command
      ->add_option("--interval", options->interval_ms,
                   "Ms from the start of one fleet check to the next (default 1000)")
      ->check(whole_number(10, 3'600'000));
  command
      ->add_option("--timeout", options->timeout_ms,
                   "Bound per endpoint and check in ms (default: the database's health.timeout_ms, 2000)")
      ->check(whole_number(1, 3'600'000));
  command
      ->add_option("--max-lag", options->max_lag_ms,
                   "Default lag bound in ms of /replica/... without ?lag= (default: health.max_lag_ms, 5000)")
      ->check(whole_number(0, 86'400'000));
  command->add_option("--threads", options->threads, "Requests answered at once (default 8)")
      ->check(whole_number(1, 256));
  command->add_option("--database", options->databases, "Only this database (repeatable; default: all)");
  command->footer(
      "Endpoints (GET or HEAD; 200 = usable, 503 = not, 404 = no such database/shard/replica):\n"
      "  /health                        the `grant health --format json` document (200 only when all healthy)\n"
      "  /writer/DB[/SHARD]             the writer is up and not in recovery\n"
      "  /replica/DB[/SHARD][/NAME]?lag=MS\n"
      "                                 that replica (or, without NAME, any) is up, in recovery, lag <= MS\n"
      "  /metrics                       Prometheus text\n"
      "An endpoint takes no traffic until its first check passes; it goes out after health.fall failed\n"
      "checks in a row (default 3) and back after health.rise passed ones (default 2).\n"
      "Examples:\n"
      "  grant serve\n"
      "  grant serve --listen 0.0.0.0:8433 --interval 500 --timeout 1000\n"
      "  curl -fsS http://127.0.0.1:8433/replica/analytics?lag=2000\n"
      "Exit codes: 0 stopped by SIGTERM or SIGINT, 2 usage or config error (or the address cannot be bound).");
  command->callback([options, &context] { run_serve(*options, context); });
}

} // namespace grant::cli
