#pragma once

#include <grant/health/monitor.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace grant::serve {

/// One HTTP answer.
struct Answer {
  int status = 404;
  std::string content_type = "application/json";
  std::string body;
};

/// Everything `grant serve` answers from: one published monitor state and the documents rendered
/// from it once (the /health JSON, the /metrics text). Immutable: requests share it without locks
/// and never reach a database.
class View {
public:
  explicit View(std::shared_ptr<const health::MonitorState> state);

  /// The answer to GET `path` (`lag`: the raw value of the ?lag= parameter, if given):
  ///   /health                          200 when every endpoint is healthy, else 503; the JSON document
  ///   /metrics                         200; Prometheus text
  ///   /writer/DB[/SHARD]               200 when the writer takes writes (all shards' writers when
  ///                                    SHARD is left out of a sharded database), else 503
  ///   /replica/DB[/SHARD][/NAME]?lag=MS 200 when that replica, or without NAME any replica (of
  ///                                    every shard, when SHARD is left out), takes reads: up, in
  ///                                    recovery, lag known and at most MS (default: health.max_lag_ms)
  /// An unknown database, shard, replica or path is 404; a bad ?lag= is 400.
  Answer answer(std::string_view path, std::optional<std::string_view> lag) const;

  const health::MonitorState& state() const { return *m_state; }

private:
  Answer writer(std::string_view database, std::optional<std::string_view> shard) const;
  Answer replica(std::string_view database, std::optional<std::string_view> shard, std::optional<std::string_view> name,
                 std::optional<int> max_lag_ms) const;

  std::shared_ptr<const health::MonitorState> m_state;
  std::string m_health_body;
  bool m_healthy = false;
  std::string m_metrics_body;
};

} // namespace grant::serve
