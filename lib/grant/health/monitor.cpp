#include <grant/health/monitor.hpp>

#include <algorithm>

namespace grant::health {

std::string_view availability_name(Availability availability) {
  switch (availability) {
  case Availability::up:
    return "up";
  case Availability::down:
    return "down";
  case Availability::unknown:
    break;
  }
  return "unknown";
}

bool passed(const EndpointHealth& check) {
  return check.status != Status::down;
}

bool observe(Tracked& tracked, EndpointHealth check, std::chrono::system_clock::time_point at) {
  const bool ok = passed(check);
  tracked.failures = ok ? 0 : tracked.failures + 1;
  tracked.successes = ok ? tracked.successes + 1 : 0;
  if (ok) {
    tracked.last_passed = check;
  }
  if (ok && check.lag && check.lag->state != LagState::unknown && check.lag->seconds) {
    tracked.measured_lag_ms = *check.lag->seconds * 1000.0;
    tracked.lag_unmeasured = 0;
  } else if (tracked.target.endpoint.role == registry::Role::reading) {
    ++tracked.lag_unmeasured;
  }
  tracked.latest = std::move(check);
  tracked.checked_at = at;

  auto next = tracked.availability;
  switch (tracked.availability) {
  case Availability::unknown:
    next = ok ? Availability::up : Availability::down;
    break;
  case Availability::up:
    if (tracked.failures >= tracked.hysteresis.fall) {
      next = Availability::down;
    }
    break;
  case Availability::down:
    if (tracked.successes >= tracked.hysteresis.rise) {
      next = Availability::up;
    }
    break;
  }
  if (next == tracked.availability) {
    return false;
  }
  tracked.availability = next;
  tracked.since = at;
  return true;
}

bool takes_writes(const Tracked& tracked) {
  if (tracked.availability != Availability::up || !tracked.last_passed ||
      tracked.target.endpoint.role != registry::Role::writing) {
    return false;
  }
  const auto& probe = tracked.last_passed->probe;
  if (probe.in_recovery) {
    return !*probe.in_recovery;
  }
  return probe.writable.value_or(false); // SQLite
}

std::optional<double> lag_ms(const Tracked& tracked) {
  if (tracked.lag_unmeasured >= tracked.hysteresis.fall) {
    return std::nullopt;
  }
  return tracked.measured_lag_ms;
}

ReadVerdict read_verdict(const Tracked& tracked, std::optional<int> max_lag_ms) {
  switch (tracked.availability) {
  case Availability::unknown:
    return ReadVerdict::unknown;
  case Availability::down:
    return ReadVerdict::down;
  case Availability::up:
    break;
  }
  if (!tracked.last_passed) {
    return ReadVerdict::unknown;
  }
  if (tracked.target.endpoint.role != registry::Role::reading ||
      !tracked.last_passed->probe.in_recovery.value_or(false)) {
    return ReadVerdict::not_in_recovery;
  }
  const auto lag = lag_ms(tracked);
  if (!lag) {
    return ReadVerdict::lag_unknown;
  }
  return *lag <= max_lag_ms.value_or(tracked.target.max_lag_ms) ? ReadVerdict::takes : ReadVerdict::lagging;
}

bool takes_reads(const Tracked& tracked, std::optional<int> max_lag_ms) {
  return read_verdict(tracked, max_lag_ms) == ReadVerdict::takes;
}

std::string_view shown_status(const Tracked& tracked) {
  switch (tracked.availability) {
  case Availability::unknown:
    return "unknown";
  case Availability::down:
    return "down";
  case Availability::up:
    break;
  }
  if (!tracked.latest || !passed(*tracked.latest)) {
    return "degraded"; // still taking traffic, but its newest check failed
  }
  return status_name(tracked.latest->status);
}

std::string_view MonitorState::status() const {
  const auto rank = [](std::string_view status) {
    return status == "down" ? 3 : status == "unknown" ? 2 : status == "degraded" ? 1 : 0;
  };
  std::string_view worst = "healthy";
  for (const auto& tracked : endpoints) {
    const auto shown = shown_status(tracked);
    if (rank(shown) > rank(worst)) {
      worst = shown;
    }
  }
  return worst;
}

const Tracked* MonitorState::find(std::string_view database, std::string_view shard, std::string_view replica) const {
  for (const auto& tracked : endpoints) {
    const auto& endpoint = tracked.target.endpoint;
    if (endpoint.database == database && endpoint.shard == shard && endpoint.replica == replica) {
      return &tracked;
    }
  }
  return nullptr;
}

Monitor::Monitor(const std::vector<const config::Database*>& databases, const CheckOptions& check,
                 MonitorOptions options)
    : m_targets(targets_of(databases, check)), m_options(std::move(options)) {
  auto initial = std::make_shared<MonitorState>();
  initial->started_at = std::chrono::system_clock::now();
  for (const auto& target : m_targets) {
    Hysteresis hysteresis;
    for (const auto* database : databases) {
      if (database->name == target.endpoint.database) {
        hysteresis = {database->health.fall, database->health.rise};
      }
    }
    m_sessions.push_back(std::make_shared<ProbeSession>());
    Tracked tracked;
    tracked.target = target;
    tracked.hysteresis = hysteresis;
    tracked.since = initial->started_at;
    initial->endpoints.push_back(std::move(tracked));
  }
  m_state = std::move(initial);
}

Monitor::~Monitor() {
  stop();
}

std::shared_ptr<const MonitorState> Monitor::state() const {
  std::lock_guard lock(m_state_mutex);
  return m_state;
}

void Monitor::round() {
  const auto before = state();
  const auto report = check(m_targets, m_options.jobs, &m_sessions);
  auto next = std::make_shared<MonitorState>(*before);
  next->rounds = before->rounds + 1;
  next->checked_at = report.checked_at;
  std::vector<Transition> transitions;
  for (std::size_t i = 0; i < next->endpoints.size() && i < report.endpoints.size(); ++i) {
    auto& tracked = next->endpoints[i];
    const auto from = tracked.availability;
    if (observe(tracked, report.endpoints[i], report.checked_at)) {
      transitions.push_back(
          {report.checked_at, tracked.target.endpoint, from, tracked.availability, report.endpoints[i].reasons});
    }
  }
  {
    std::lock_guard lock(m_state_mutex);
    m_state = next;
  }
  m_published.fetch_add(1, std::memory_order_release);
  if (m_options.on_transition) {
    for (const auto& transition : transitions) {
      m_options.on_transition(transition);
    }
  }
  if (m_options.on_round) {
    m_options.on_round(*next);
  }
}

void Monitor::check_now() {
  round();
}

void Monitor::start() {
  std::lock_guard lock(m_run_mutex);
  if (m_thread.joinable()) {
    return;
  }
  m_stop = false;
  m_thread = std::thread([this] { run(); });
}

void Monitor::stop() {
  {
    std::lock_guard lock(m_run_mutex);
    m_stop = true;
  }
  m_wake.notify_all();
  if (m_thread.joinable() && m_thread.get_id() != std::this_thread::get_id()) {
    m_thread.join();
  }
}

void Monitor::run() {
  for (;;) {
    const auto next = std::chrono::steady_clock::now() + m_options.interval;
    {
      std::lock_guard lock(m_run_mutex);
      if (m_stop) {
        return;
      }
    }
    round();
    std::unique_lock lock(m_run_mutex);
    if (m_wake.wait_until(lock, next, [this] { return m_stop; })) {
      return;
    }
  }
}

} // namespace grant::health
