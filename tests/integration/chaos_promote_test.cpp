// Chaos for the health monitor behind `grant serve`: the replica of a test::PgPair of its own is
// promoted (pg_ctl promote) while the monitor watches it, then the old writer is stopped.
#include <grant/config/load.hpp>
#include <grant/health/monitor.hpp>
#include <grant/serve/server.hpp>

#include "support/pg_pair.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <httplib.h>

#include <chrono>
#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_chaos_promote_test {

using namespace grant;
using namespace std::chrono_literals;

namespace {

// The first state whose newest round started after `after`, waiting at most `bound`.
std::shared_ptr<const health::MonitorState> round_after(const health::Monitor& monitor,
                                                        std::chrono::system_clock::time_point after,
                                                        std::chrono::milliseconds bound) {
  std::shared_ptr<const health::MonitorState> state;
  test::eventually(
      [&] {
        state = monitor.state();
        return state->checked_at && *state->checked_at > after;
      },
      bound);
  REQUIRE_MESSAGE((state->checked_at && *state->checked_at > after),
                  "no monitor round within " << bound.count() << " ms");
  return state;
}

int http_status(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  client.set_read_timeout(2);
  const auto result = client.Get(path.c_str());
  REQUIRE_MESSAGE(result, "no answer for " << path);
  return result->status;
}

} // namespace

TEST_CASE("chaos::promote the replica under the serve monitor, then stop the old writer") {
  test::PgPair pair;
  test::TempDir dir;
  constexpr auto k_interval = 500ms;
  constexpr int k_timeout_ms = 1000;
  const std::string text = R"({"databases": {"analytics": {"url": ")" + pair.writer_url() +
                           R"(", "replicas": [{"name": "r1", "url": ")" + pair.replica_url() +
                           R"("}], "health": {"timeout_ms": 1000, "fall": 1, "rise": 1}}}})";
  const auto config = config::parse(text, dir.write("grant.json", text), config::process_env());
  health::MonitorOptions options;
  options.interval = k_interval;
  health::Monitor monitor({&config.databases.front()}, {}, options);
  serve::Server server(monitor, {{"127.0.0.1", 0}, 2});
  const int port = server.bind();
  std::thread serving([&] { server.run(); });
  monitor.start();
  // One round: the interval, plus the round itself (each probe bounded by its timeout), plus slack.
  const auto k_round_bound = k_interval + std::chrono::milliseconds(k_timeout_ms) + 2s;

  REQUIRE(test::eventually([&] { return http_status(port, "/replica/analytics/r1") == 200; }, 10s));
  CHECK(http_status(port, "/writer/analytics") == 200);

  pair.promote_replica();
  const auto promoted = std::chrono::system_clock::now();
  const auto promoted_steady = std::chrono::steady_clock::now();
  {
    // Any round that started after the promotion sees it.
    const auto state = round_after(monitor, promoted, k_round_bound);
    CHECK(std::chrono::steady_clock::now() - promoted_steady <= k_round_bound);
    const auto* replica = state->find("analytics", "", "r1");
    REQUIRE(replica != nullptr);
    REQUIRE(replica->latest);
    CHECK(replica->latest->probe.reachable);
    CHECK(replica->latest->probe.in_recovery == false);
    CHECK(replica->latest->probe.role_mismatch);
    CHECK(replica->latest->status == health::Status::degraded);
    CHECK(health::read_verdict(*replica) == health::ReadVerdict::not_in_recovery);
    const auto* writer = state->find("analytics", "", "");
    REQUIRE(writer != nullptr);
    CHECK_FALSE(writer->latest->probe.role_mismatch); // the old writer still answers as one
    CHECK(http_status(port, "/replica/analytics/r1") == 503);
    CHECK(http_status(port, "/writer/analytics") == 200);
  }

  pair.stop_writer();
  const auto stopped = std::chrono::system_clock::now();
  {
    const auto state = round_after(monitor, stopped, k_round_bound);
    const auto* writer = state->find("analytics", "", "");
    REQUIRE(writer->latest);
    CHECK_FALSE(writer->latest->probe.reachable);
    CHECK(writer->latest->status == health::Status::down);
    CHECK(writer->availability == health::Availability::down); // fall = 1
    const auto* replica = state->find("analytics", "", "r1");
    REQUIRE(replica->latest);
    REQUIRE(replica->latest->lag);
    CHECK(replica->latest->lag->state == health::LagState::unknown); // never 0
    CHECK_FALSE(replica->latest->lag->seconds.has_value());
    CHECK(http_status(port, "/writer/analytics") == 503);
    CHECK(http_status(port, "/replica/analytics/r1") == 503);
  }
  monitor.stop();
  server.stop();
  serving.join();
}

} // namespace grant_test_chaos_promote_test
