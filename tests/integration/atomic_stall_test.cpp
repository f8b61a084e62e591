// `migrate --atomic` with one shard gone silent (the fault proxy stalls its PREPARE TRANSACTION)
// while an application writes the migrated table on the other shards: the other shards' locks
// are released within the bound (--lock-timeout, default 5 s), the run names the silent shard
// (exit 3), and once it answers `grant recover` and a re-run converge.
#include "support/fault_proxy.hpp"
#include "support/fleet.hpp"

#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_atomic_stall_test {

using grant::test::contains;
using grant::test::FaultProxy;
using grant::test::ShardFleet;

namespace {

using Clock = std::chrono::steady_clock;

/// Inserts into orders on shards 0 and 1, one row per transaction, and keeps the longest write.
class TableWriter {
public:
  explicit TableWriter(const ShardFleet& fleet) : m_fleet(fleet), m_thread([this] { run(); }) {}
  ~TableWriter() { stop(); }
  TableWriter(const TableWriter&) = delete;
  TableWriter& operator=(const TableWriter&) = delete;

  void stop() {
    m_stop = true;
    if (m_thread.joinable()) {
      m_thread.join();
    }
  }
  double longest_ms() const { return m_longest_ms; }
  long long committed(int shard) const { return m_committed[shard]; }
  int ops() const { return m_ops; }
  const std::string& error() const { return m_error; }

private:
  void run() {
    try {
      pqxx::connection shard0(m_fleet.url(0));
      pqxx::connection shard1(m_fleet.url(1));
      pqxx::connection* connections[] = {&shard0, &shard1};
      long long id = 1000;
      while (!m_stop) {
        const int shard = static_cast<int>(id % 2);
        const auto started = Clock::now();
        pqxx::work work(*connections[shard]);
        work.exec("INSERT INTO orders (id) VALUES (" + std::to_string(id++) + ")");
        work.commit();
        m_longest_ms =
            std::max(m_longest_ms.load(), std::chrono::duration<double, std::milli>(Clock::now() - started).count());
        ++m_committed[shard];
        ++m_ops;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    } catch (const std::exception& error) {
      m_error = error.what();
    }
  }

  const ShardFleet& m_fleet;
  std::atomic<bool> m_stop{false};
  std::atomic<double> m_longest_ms{0};
  std::atomic<long long> m_committed[2] = {0, 0};
  std::atomic<int> m_ops{0};
  std::string m_error;
  std::thread m_thread;
};

long long rows(const ShardFleet& fleet, int shard) {
  return std::stoll(fleet.scalar(shard, "SELECT count(*) FROM orders"));
}

} // namespace

TEST_CASE("twophase::a silent shard at PREPARE holds the other shards' locks no longer than the bound") {
  struct Bound {
    std::vector<std::string> flags;
    long long ms;
  };
  for (const auto& bound : {Bound{{"--lock-timeout", "2"}, 2000}, Bound{{}, 5000}}) {
    CAPTURE(bound.ms);
    ShardFleet fleet(3, "atomic_stall");
    fleet.file("1_orders.sql", grant::test::table_migration("orders"));
    REQUIRE(fleet.grant({"migrate"}).exit_code == 0);
    // ACCESS EXCLUSIVE on orders until the transaction ends: the writer waits for it.
    fleet.file("2_note.sql", "-- grant:up\nALTER TABLE orders ADD COLUMN note text;\n-- grant:down\n"
                             "ALTER TABLE orders DROP COLUMN note;\n");
    FaultProxy proxy(fleet.url(2));
    fleet.route(2, proxy.url());
    proxy.add_rule("PREPARE TRANSACTION", FaultProxy::Action::stall, 1);

    TableWriter writer(fleet);
    while (writer.ops() < 20 && writer.error().empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::vector<std::string> args{"migrate", "--atomic"};
    args.insert(args.end(), bound.flags.begin(), bound.flags.end());
    const auto run = fleet.grant(args);
    std::this_thread::sleep_for(std::chrono::milliseconds(300)); // the writer gets some writes in after
    writer.stop();
    INFO(run.out, run.err);
    CHECK(writer.error() == "");
    CHECK(proxy.fired() == 1);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "no reply from orders/s2 within " + std::to_string(bound.ms) + " ms"));
    MESSAGE("bound ", bound.ms, " ms: the writer's longest write on s0/s1 took ", writer.longest_ms(), " ms");
    CHECK(writer.longest_ms() < static_cast<double>(bound.ms + 1000));
    // Rolled back on the shards that answered, before the report.
    for (int i = 0; i < 2; ++i) {
      CHECK(fleet.prepared(i) == 0);
      CHECK(fleet.applied_count(i) == 1);
      CHECK(rows(fleet, i) == 1 + writer.committed(i)); // nothing lost, nothing twice
    }

    proxy.clear_rules();
    proxy.release();
    auto again = fleet.grant({"recover"});
    INFO(again.out, again.err);
    CHECK(again.exit_code == 0);
    again = fleet.grant({"migrate", "--atomic"});
    INFO(again.out, again.err);
    CHECK(again.exit_code == 0);
    for (int i = 0; i < 3; ++i) {
      CHECK(fleet.prepared(i) == 0);
      CHECK(fleet.applied_count(i) == 2);
    }
  }
}

} // namespace grant_test_atomic_stall_test
