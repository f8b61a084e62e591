// `grant rebalance` under the faults machines and networks produce: SIGKILL at random instants
// of the copy (with an application writing), of the cutover and of the cleanup, each followed by
// re-running the phase to completion; and the connection to the new shard dropped at COMMIT
// PREPARED during the cutover (support/fault_proxy.hpp). After each, every shard is held to the
// model under the target config (rebalance_rig.hpp).
#include "rebalance_rig.hpp"

#include "support/fault_proxy.hpp"

#include <cstdlib>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_rebalance_faults_cli_test {

using grant::test::FaultProxy;
using rb::contains;
using rb::Json;
using rb::Outcome;
using rb::Rig;
using rb::Writer;

namespace {

Json ring() {
  return {{"type", "consistent_hash"}, {"virtual_nodes", 160}};
}

Json ranges(const Json& list) {
  return {{"type", "range"}, {"ranges", list}};
}

unsigned test_seed() {
  if (const char* text = std::getenv("GRANT_TEST_SEED"); text != nullptr && *text != '\0') {
    return static_cast<unsigned>(std::stoul(text));
  }
  return std::random_device{}();
}

struct KillStats {
  int trials = 0;
  int killed = 0;
  std::map<std::string, int> killed_per_phase;
};

/// A cleanup killed after its last commit has finished: the re-run says it was done (exit 0,
/// "already_done"); verify_final() judges whether it really is over.
bool ended(const std::string& phase, const Outcome& run) {
  if (phase == "cleanup" && run.exit_code == 0 && contains(run.out, "\"already_done\":true")) {
    MESSAGE("a cleanup killed at its very end had finished: the re-run says so (exit 0, already done)");
    return true;
  }
  return false;
}

/// Runs `args` up to `kills` times, each SIGKILLed at a random instant in [low, high]; a run
/// that finishes first must have succeeded, and ends the trials of this phase. Then once more to
/// completion. Returns how long the last run took.
double kill_then_finish(Rig& rig, const std::string& phase, const std::vector<std::string>& args, int kills,
                        std::chrono::microseconds low, std::chrono::microseconds high, std::mt19937& rng,
                        KillStats& stats) {
  std::uniform_int_distribution<std::int64_t> instant(low.count(), std::max(low.count(), high.count()));
  for (int k = 0; k < kills; ++k) {
    const auto at = std::chrono::microseconds(instant(rng));
    const auto run = rig.rebalance(args, true, at);
    ++stats.trials;
    if (run.killed) {
      ++stats.killed;
      ++stats.killed_per_phase[phase];
      continue;
    }
    INFO(phase, " finished before its kill at ", at.count(), " us: exit ", run.exit_code, "\n", run.out, run.err);
    if (ended(phase, run)) {
      return run.seconds;
    }
    REQUIRE(run.exit_code == 0);
    if (phase == "cleanup") {
      return run.seconds; // done: there is nothing left to re-run
    }
    break;
  }
  const auto last = rig.rebalance(args);
  INFO(phase, " after the kills: exit ", last.exit_code, "\n", last.out, last.err);
  if (ended(phase, last)) {
    return last.seconds;
  }
  REQUIRE(last.exit_code == 0);
  return last.seconds;
}

} // namespace

TEST_CASE("rebalance: SIGKILL at random instants of copy, cutover and cleanup") {
  const auto seed = test_seed();
  MESSAGE("seed ", seed, " (GRANT_TEST_SEED=", seed, " repeats it)");
  std::mt19937 rng(seed);
  KillStats stats;
  // Where a run spends its time beyond starting and connecting, learnt from the runs so far.
  double cutover_seconds = 0.4;
  double cleanup_seconds = 0.4;

  struct Layout {
    std::string name;
    std::vector<int> old_shards;
    Json old_resolver;
    std::vector<int> target_shards;
    Json target_resolver;
    std::int64_t max_user;
  };
  const std::vector<Layout> layouts{
      {"add a shard", {0, 1}, ring(), {0, 1, 2}, ring(), 100000},
      {"split a range",
       {0, 1},
       ranges(Json::array(
           {{{"shard", "s0"}, {"from", nullptr}, {"to", 1000}}, {{"shard", "s1"}, {"from", 1000}, {"to", nullptr}}})),
       {0, 1, 2},
       ranges(Json::array({{{"shard", "s0"}, {"from", nullptr}, {"to", 500}},
                           {{"shard", "s2"}, {"from", 500}, {"to", 1000}},
                           {{"shard", "s1"}, {"from", 1000}, {"to", nullptr}}})),
       1999},
      {"drain a shard", {0, 1, 2}, ring(), {0, 1}, ring(), 100000},
  };
  const auto window = [](double seconds) {
    return std::chrono::microseconds(static_cast<std::int64_t>(seconds * 1.2e6));
  };
  int deadlocks = 0;
  for (int round = 0; round < 2 * static_cast<int>(layouts.size()); ++round) {
    const auto& layout = layouts[static_cast<std::size_t>(round) % layouts.size()];
    CAPTURE(layout.name);
    Rig rig(3, "rb_kill");
    const auto list = [&](const std::vector<int>& indexes) {
      Json out = Json::array();
      for (const int i : indexes) {
        out.push_back({{"name", "s" + std::to_string(i)}, {"url", rig.fleet.url(i)}});
      }
      return out;
    };
    rig.configure(rig.database(list(layout.old_shards), layout.old_resolver),
                  rig.database(list(layout.target_shards), layout.target_resolver));
    rig.seed_orders(layout.max_user < 5000 ? 700 : 900, layout.max_user, rng);

    // Copy: throttled and in small batches so that the kills land mid-copy; then the cutover.
    // A writer on the old config runs all along: during the cutover it meets the write pause,
    // then the fence for moved keys (GR001, rolled back); what it inserts for new keys on an
    // old shard, the cleanup moves. It stops before the cleanup, as applications switch to the
    // target config.
    {
      Writer writer(rig, rng(), layout.max_user + layout.max_user / 10);
      REQUIRE(writer.wait_ops(20));
      kill_then_finish(rig, "copy", {"--batch-size", "200", "--max-rows-per-sec", "2000"}, 5,
                       std::chrono::milliseconds(20), std::chrono::milliseconds(900), rng, stats);
      // The writes since the last run are captured; the next run applies them.
      CHECK(rig.rebalance_ok({}).at("phase") == "copied");
      CHECK(writer.fenced() == 0);
      // The cutover is short: kill anywhere from start-up to a little past the last full
      // run's length.
      cutover_seconds = kill_then_finish(rig, "cutover", {"--cutover"}, 4, std::chrono::milliseconds(1),
                                         window(cutover_seconds), rng, stats);
      {
        INFO("writer errors: ", Json(writer.errors()).dump());
        REQUIRE(writer.wait_ops(writer.ops() + 40));
      }
      writer.stop();
      CHECK(writer.errors() == std::vector<std::string>{});
      // An application transaction can be the victim of a deadlock with the cutover's table
      // locks (it rolls back; applications retry): counted and reported, not a failure here.
      MESSAGE(layout.name, ": writer ", writer.ops(), " writes, ", writer.fenced(), " fenced after cutover, ",
              writer.deadlocks(), " deadlock victims");
      deadlocks += writer.deadlocks();
    }
    const auto status = rig.rebalance_ok({"--status"});
    CHECK(status.at("phase") == "cut_over");
    CHECK(status.at("prepared_in_doubt") == 0);
    cleanup_seconds = kill_then_finish(rig, "cleanup", {"--cleanup"}, 4, std::chrono::milliseconds(1),
                                       window(cleanup_seconds), rng, stats);
    rig.verify_final();
  }
  MESSAGE(deadlocks, " writer transactions were deadlock victims of grant's locks");
  MESSAGE(stats.trials, " kill trials, ", stats.killed, " landed before the run ended (copy ",
          stats.killed_per_phase["copy"], ", cutover ", stats.killed_per_phase["cutover"], ", cleanup ",
          stats.killed_per_phase["cleanup"], ")");
  CHECK(stats.trials >= 20);
  CHECK(stats.killed_per_phase["copy"] >= 5);
  CHECK(stats.killed_per_phase["cutover"] >= 2);
  CHECK(stats.killed_per_phase["cleanup"] >= 2);
}

TEST_CASE("rebalance: the new shard's connection drops at COMMIT PREPARED during cutover") {
  for (const auto action : {FaultProxy::Action::drop_before, FaultProxy::Action::drop_after}) {
    const bool before = action == FaultProxy::Action::drop_before;
    CAPTURE(before);
    Rig rig(3, "rb_proxy");
    FaultProxy proxy(rig.fleet.url(2));
    auto target = rig.database(rig.shards({0, 1, 2}), ring());
    target["shards"][2]["url"] = proxy.url();
    rig.configure(rig.database(rig.shards({0, 1}), ring()), target);
    std::mt19937 rng(31);
    rig.seed_orders(400, 100000, rng);
    {
      Writer writer(rig, 32, 110000);
      REQUIRE(writer.wait_ops(20));
      CHECK(rig.rebalance_ok({"--batch-size", "200"}).at("phase") == "copied");
      writer.stop();
      CHECK(writer.errors() == std::vector<std::string>{});
    }

    proxy.add_rule("COMMIT PREPARED", action, -1);
    const auto failed = rig.rebalance({"--cutover"}, false);
    INFO(failed.out, failed.err);
    CHECK(proxy.fired() >= 1);
    CHECK(failed.exit_code == 3);
    CHECK(contains(failed.err, "s2"));
    // What is left in doubt, --status counts.
    int prepared = 0;
    for (int db = 0; db < rig.fleet.size(); ++db) {
      prepared += rig.prepared_xacts(db);
    }
    if (before) {
      CHECK(rig.prepared_xacts(2) >= 1); // s2 never saw its COMMIT PREPARED
    }
    const auto status = rig.rebalance_ok({"--status"});
    CHECK(status.at("prepared_in_doubt") == prepared);

    proxy.clear_rules();
    const auto finished = rig.rebalance_ok({"--cutover"});
    CHECK(finished.at("phase") == "cut_over");
    for (int db = 0; db < rig.fleet.size(); ++db) {
      CHECK(rig.prepared_xacts(db) == 0);
    }
    CHECK(rig.rebalance_ok({"--status"}).at("phase") == "cut_over");
    rig.rebalance_ok({"--cleanup"});
    rig.verify_final();
  }
}

// A resumed copy beside an application transaction that holds a row lock on orders. It once
// re-installed the capture triggers (DROP TRIGGER + CREATE TRIGGER: ACCESS EXCLUSIVE on each
// table, no lock_timeout), waited for that transaction to end, and every other session's reads
// and writes of orders queued behind it; with the writer running, the same locks, taken table
// by table, deadlocked with inserts into order_items (which lock order_items, then orders for the
// foreign key check).
TEST_CASE("rebalance: a resumed copy neither waits for an open application transaction nor blocks readers") {
  Rig rig(3, "rb_lock");
  rig.configure(rig.database(rig.shards({0, 1}), ring()), rig.database(rig.shards({0, 1, 2}), ring()));
  std::mt19937 rng(33);
  rig.seed_orders(200, 100000, rng);
  rig.rebalance_ok({});
  std::optional<rb::Pk> stayed;
  for (const auto& [pk, row] : rig.model.tables["orders"]) {
    if (!rig.moves(pk) && rig.old_owner(pk) == 0) {
      stayed = pk;
    }
  }
  REQUIRE(stayed);
  pqxx::connection app(rig.fleet.url(0));
  pqxx::work open(app);
  open.exec("UPDATE orders SET amount = 1 WHERE user_id = " + (*stayed)[0] + " AND id = " + (*stayed)[1]);
  std::vector<std::string> args{"--config", "old.json", "rebalance", "--database", "orders", "--target", "target.json"};
  const int pid = grant::test::spawn_grant(args, rig.fleet.dir.path(), rig.fleet.dir / "resume.log");
  // Meanwhile another application reads orders.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  {
    pqxx::connection reader(rig.fleet.url(0));
    pqxx::work read(reader);
    read.exec("SET LOCAL statement_timeout = '3s'");
    CHECK_NOTHROW(read.exec("SELECT count(*) FROM orders"));
  }
  const auto code = grant::test::wait_exit(pid, std::chrono::seconds(5));
  INFO(grant::test::read_file(rig.fleet.dir / "resume.log"));
  CHECK(code == std::optional<int>(0));
  open.commit();
  rig.model.tables["orders"][*stayed] = {rig.model.tables["orders"][*stayed][0], std::string("1")};
  if (!code) {
    CHECK(grant::test::wait_exit(pid, std::chrono::seconds(30)) == std::optional<int>(0));
  }
  rig.rebalance_ok({});
  rig.rebalance_ok({"--cutover"});
  rig.rebalance_ok({"--cleanup"});
  rig.verify_final();
}

} // namespace grant_test_rebalance_faults_cli_test
