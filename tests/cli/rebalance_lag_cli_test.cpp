// grant rebalance pauses its copy while a replica of a shard lags past health.max_lag_ms. The
// lag is real: shard s0 lives on the test writer server, whose streaming replica stops replaying
// (pg_wal_replay_pause) while the copy runs, and catches up once it resumes.
#include "support/pg_session.hpp"
#include "support/support.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <chrono>
#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_rebalance_lag_cli_test {

using grant::test::contains;
using grant::test::pg_execute;
using grant::test::pg_scalar;
using Json = nlohmann::json;

namespace {

/// Pauses WAL replay on the test replica until destroyed, whatever the test does meanwhile.
class ReplayPaused {
public:
  ReplayPaused() { pg_execute(grant::test::replica_url(), "SELECT pg_wal_replay_pause()"); }
  ~ReplayPaused() { resume(); }
  ReplayPaused(const ReplayPaused&) = delete;
  ReplayPaused& operator=(const ReplayPaused&) = delete;
  void resume() {
    if (m_paused) {
      m_paused = false;
      pg_execute(grant::test::replica_url(), "SELECT pg_wal_replay_resume()");
    }
  }

private:
  bool m_paused = true;
};

Json config(const std::vector<std::string>& urls, int modulo) {
  Json shards = Json::array();
  for (int i = 0; i < modulo; ++i) {
    shards.push_back({{"name", "s" + std::to_string(i)}, {"url", urls.at(static_cast<std::size_t>(i))}});
  }
  return {{"databases",
           {{"orders",
             {{"shards", shards},
              {"migrations", "db/migrate/orders"},
              {"health", {{"max_lag_ms", 300}}},
              {"sharding", {{"key", "user_id"}, {"tables", {"t"}}, {"resolver", {{"type", "modulo"}}}}}}}}}};
}

} // namespace

TEST_CASE("rebalance: the copy pauses while a replica of a shard lags past max_lag_ms") {
  grant::test::TempDir dir;
  // s0 on the writer server (it has the streaming replica), s1 and the new s2 on shard servers.
  const std::vector<std::string> urls{grant::test::fresh_database(grant::test::writer_url(), "rblag"),
                                      grant::test::fresh_database(grant::test::shard_url(0), "rblag"),
                                      grant::test::fresh_database(grant::test::shard_url(1), "rblag")};
  dir.write("db/migrate/orders/1_t.sql",
            "-- grant:up\nCREATE TABLE t (user_id bigint, id bigint, note text, PRIMARY KEY (user_id, id));\n"
            "-- grant:down\nDROP TABLE t;\n");
  dir.write("grant.json", config(urls, 2).dump());
  dir.write("target.json", config(urls, 3).dump());
  REQUIRE(grant::test::run_grant({"migrate", "-q"}, dir.path()).exit_code == 0);
  REQUIRE(grant::test::run_grant({"--config", "target.json", "migrate", "-q"}, dir.path()).exit_code == 0);
  // modulo 2: even users on s0, odd on s1; 3000 users, a third of them moving to s2 under modulo 3.
  pg_execute(urls[0], "INSERT INTO t SELECT 2 * g, 1, 'n' FROM generate_series(0, 1499) g");
  pg_execute(urls[1], "INSERT INTO t SELECT 2 * g + 1, 1, 'n' FROM generate_series(0, 1499) g");
  const auto moving = pg_scalar(urls[0], "SELECT count(*) FROM t WHERE user_id % 3 = 2") + "+" +
                      pg_scalar(urls[1], "SELECT count(*) FROM t WHERE user_id % 3 = 2");

  ReplayPaused paused;
  // WAL the replica does not replay: its replay_lag grows past 300 ms.
  pg_execute(urls[0], "CREATE TABLE lag_maker (x int); INSERT INTO lag_maker VALUES (1)");
  // Until the writer sees it (the standby's feedback can come late on a loaded machine): the copy
  // of 2,000 rows takes well under a second, its first lag check must already see the lag.
  const auto lag_seen_by = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  std::string writer_lag = "0";
  while (std::chrono::steady_clock::now() < lag_seen_by) {
    writer_lag = pg_scalar(urls[0], "SELECT COALESCE(max(extract(epoch FROM replay_lag) * 1000), 0)::bigint "
                                    "FROM pg_stat_replication");
    if (std::stoll(writer_lag) > 300) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CAPTURE(writer_lag); // the writer never saw its replica lag when this fails
  REQUIRE(std::stoll(writer_lag) > 300);
  const auto output = dir / "copy.log";
  const int pid = grant::test::spawn_grant(
      {"--config", "grant.json", "rebalance", "--database", "orders", "--target", "target.json", "--batch-size", "50"},
      dir.path(), output);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::string log;
  while (std::chrono::steady_clock::now() < deadline) {
    log = grant::test::read_file(output);
    if (contains(log, "paused: a replica of orders/s0 lags")) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK_MESSAGE(contains(log, "paused: a replica of orders/s0 lags"), log);
  CHECK(contains(log, "(max_lag_ms 300)"));
  // Still paused a second later: the copy waits for the replica, it does not finish.
  CHECK_FALSE(grant::test::wait_exit(pid, std::chrono::milliseconds(1500)).has_value());
  const auto copied_while_paused = std::stoll(pg_scalar(urls[2], "SELECT count(*) FROM t"));

  paused.resume();
  const auto code = grant::test::wait_exit(pid, std::chrono::seconds(60));
  REQUIRE_MESSAGE(code.has_value(), grant::test::read_file(output));
  CHECK_MESSAGE(*code == 0, grant::test::read_file(output));
  const auto copied = std::stoll(pg_scalar(urls[2], "SELECT count(*) FROM t"));
  CHECK(copied_while_paused < copied);
  CHECK(std::to_string(copied) == std::to_string(std::stoll(moving.substr(0, moving.find('+'))) +
                                                 std::stoll(moving.substr(moving.find('+') + 1))));
  // Undo, so that the fresh databases hold no grant objects.
  CHECK(grant::test::run_grant({"rebalance", "--database", "orders", "--target", "target.json", "--abort", "-q"},
                               dir.path())
            .exit_code == 0);
}

} // namespace grant_test_rebalance_lag_cli_test
