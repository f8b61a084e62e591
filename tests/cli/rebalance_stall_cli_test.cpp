// `rebalance --cutover` with one server gone silent (the fault proxy stalls one statement: the
// connection stays open and nothing more goes either way) at each statement of the cutover's
// two-phase commit, on the source shard and on the new shard, while an application still on the
// old config writes: its longest write stays under --cutover-timeout + 1 s, the run names the
// silent server when it gives up, and a re-run converges (nothing lost or duplicated, nothing
// left prepared, the fence fully installed or absent).
#include "rebalance_rig.hpp"

#include "support/fault_proxy.hpp"

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_rebalance_stall_cli_test {

using grant::test::FaultProxy;
using rb::contains;
using rb::Json;
using rb::Rig;
using rb::Writer;

namespace {

Json ring() {
  return {{"type", "consistent_hash"}, {"virtual_nodes", 160}};
}

struct Stall {
  std::string name;
  int db;            ///< 0: the source shard s0, 2: the new shard s2
  std::string match; ///< the statement that stalls
  int times;         ///< -1: every one (a retry on a fresh session stalls too)
  std::string after; ///< only once this statement went through
  int exit_code;     ///< 3: given up (rolled back or in doubt); 0: finished through a fresh session
};

/// The fence triggers on one database: 0 (absent) or one per sharded table (installed).
int fence_triggers(const Rig& rig, int db) {
  return std::stoi(rig.fleet.scalar(db, "SELECT count(*) FROM pg_trigger WHERE tgname = 'grant_rebalance_fence'"));
}

} // namespace

TEST_CASE("rebalance: a silent server at each statement of the cutover holds writes no longer than the bound") {
  constexpr int k_bound_s = 2;
  const std::vector<Stall> stalls{
      {"LOCK on the source", 0, "LOCK TABLE", 1, "", 3},
      {"the catch-up under the lock on the source", 0, "SELECT seq, table_name", 1, "LOCK TABLE", 3},
      {"PREPARE on the source", 0, "PREPARE TRANSACTION", 1, "", 3},
      {"the decision insert on the source", 0, "(gid, decision) VALUES ($1, 'commit')", 1, "", 0},
      {"COMMIT PREPARED on the source", 0, "COMMIT PREPARED", 1, "", 0},
      {"PREPARE on the new shard", 2, "PREPARE TRANSACTION", 1, "", 3},
      {"COMMIT PREPARED on the new shard, retries too", 2, "COMMIT PREPARED", -1, "", 3},
  };
  std::string figures;
  for (const auto& stall : stalls) {
    CAPTURE(stall.name);
    Rig rig(3, "rb_stall");
    FaultProxy proxy(rig.fleet.url(stall.db));
    auto old_database = rig.database(rig.shards({0, 1}), ring());
    auto target = rig.database(rig.shards({0, 1, 2}), ring());
    if (stall.db == 0) {
      old_database["shards"][0]["url"] = proxy.url();
    }
    target["shards"][stall.db]["url"] = proxy.url();
    rig.configure(old_database, target);
    std::mt19937 rng(41);
    rig.seed_orders(300, 100000, rng);

    // 100 writes/s: at the default 400 the cutover's LOCK TABLE orders, order_items meets a
    // deadlock with item inserts (their foreign key check) often enough to use up its retries.
    Writer writer(rig, 42, 110000, true, 100);
    REQUIRE(writer.wait_ops(20));
    REQUIRE(rig.rebalance_ok({"--batch-size", "200"}).at("phase") == "copied");
    proxy.add_rule(stall.match, FaultProxy::Action::stall, stall.times, stall.after);
    const auto run = rig.rebalance({"--cutover", "--cutover-timeout", std::to_string(k_bound_s)}, false);
    std::this_thread::sleep_for(std::chrono::milliseconds(300)); // writes after the run, too
    writer.stop();
    INFO(run.out, run.err);
    CHECK(writer.errors() == std::vector<std::string>{});
    CHECK(proxy.fired() >= 1);
    CHECK(run.exit_code == stall.exit_code);
    if (stall.exit_code == 3) {
      CHECK(contains(run.err, "no reply from orders/s" + std::to_string(stall.db) + " within"));
    }
    figures += "\n  " + stall.name + ": " + std::to_string(static_cast<int>(writer.longest_ms())) + " ms, exit " +
               std::to_string(run.exit_code) + (run.exit_code == 0 ? "" : ": " + run.err.substr(0, run.err.find('\n')));
    CHECK(writer.longest_ms() < (k_bound_s + 1) * 1000.0);
    for (const int source : {0, 1}) {
      const int fence = fence_triggers(rig, source);
      CHECK((fence == 0 || fence == 2)); // a fence on every table or on none
    }

    proxy.clear_rules();
    proxy.release();
    const auto finished = rig.rebalance_ok({"--cutover"});
    CHECK(finished.at("phase") == "cut_over");
    for (int db = 0; db < rig.fleet.size(); ++db) {
      CHECK(rig.prepared_xacts(db) == 0);
    }
    CHECK(fence_triggers(rig, 0) == 2);
    CHECK(fence_triggers(rig, 1) == 2);
    rig.rebalance_ok({"--cleanup"});
    rig.verify_final();
  }
  MESSAGE("--cutover-timeout ", k_bound_s, " s, the application's longest write during the cutover:", figures);
}

// The cutover's catch-up under the lock writes the last captured changes to the new shard. An
// application transaction on the source that writes a moving key and commits while the
// cutover's LOCK waits for it guarantees there is one to write; the new shard goes silent at it.
// One source shard (s0 splits onto s2), so that the only transaction grant opens on s2 is that
// write block's: every INSERT on s2 after its BEGIN is the catch-up under the lock.
TEST_CASE(
    "rebalance: a silent new shard at the cutover's catch-up under the lock holds writes no longer than the bound") {
  constexpr int k_bound_s = 2;
  Rig rig(3, "rb_tstall");
  FaultProxy proxy(rig.fleet.url(2));
  auto target = rig.database(rig.shards({0, 2}), ring());
  target["shards"][1]["url"] = proxy.url();
  rig.configure(rig.database(rig.shards({0}), ring()), target);
  std::mt19937 rng(61);
  rig.seed_orders(300, 100000, rng);
  Writer writer(rig, 62, 110000, true, 100);
  REQUIRE(writer.wait_ops(20));
  REQUIRE(rig.rebalance_ok({"--batch-size", "200"}).at("phase") == "copied");

  std::string user;
  for (std::int64_t candidate = 200001;; ++candidate) {
    if (rig.old_owner({std::to_string(candidate)}) == 0 && rig.target_owner({std::to_string(candidate)}) == 2) {
      user = std::to_string(candidate);
      break;
    }
  }
  const auto id = std::to_string(rig.next_id++);
  pqxx::connection application(rig.fleet.url(0));
  pqxx::work held(application);
  held.exec("INSERT INTO orders VALUES (" + user + ", " + id + ", 'held', 7)");
  {
    std::lock_guard lock(rig.model.mutex);
    rig.model.tables["orders"][{user, id}] = {std::string("held"), std::string("7")};
  }
  // Only statements inside the write block, whose transaction starts with BEGIN (the catch-up
  // before the block writes to the new shard outside any transaction).
  proxy.add_rule("INSERT INTO", FaultProxy::Action::stall, 1, "BEGIN");
  rb::Outcome run;
  std::thread cutover([&] {
    run = rig.rebalance({"--cutover", "--cutover-timeout", std::to_string(k_bound_s)}, false);
  });
  bool waiting = false;
  for (int i = 0; i < 3000 && !waiting; ++i) {
    waiting = rig.fleet.scalar(0, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND "
                                  "query LIKE 'LOCK TABLE%'") != "0";
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  held.commit();
  cutover.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  writer.stop();
  INFO(run.out, run.err);
  CHECK(waiting);
  CHECK(writer.errors() == std::vector<std::string>{});
  CHECK(proxy.fired() == 1);
  CHECK(run.exit_code == 3);
  CHECK(contains(run.err, "no reply from orders/s2 within"));
  MESSAGE("the new shard silent at the catch-up under the lock, --cutover-timeout ", k_bound_s,
          " s: the application's longest write ", writer.longest_ms(), " ms");
  CHECK(writer.longest_ms() < (k_bound_s + 1) * 1000.0);
  CHECK(fence_triggers(rig, 0) == 0);

  proxy.clear_rules();
  proxy.release();
  CHECK(rig.rebalance_ok({"--cutover"}).at("phase") == "cut_over");
  for (int db = 0; db < rig.fleet.size(); ++db) {
    CHECK(rig.prepared_xacts(db) == 0);
  }
  CHECK(fence_triggers(rig, 0) == 2);
  rig.rebalance_ok({"--cleanup"});
  rig.verify_final();
}

// Cleanup drops grant's triggers in one short transaction whose DROP TRIGGER locks the source
// tables (ACCESS EXCLUSIVE) until its commit. A source silent at the drop, or at that commit
// with the lock held, is given up after --cutover-timeout: grant ends the session on the server
// through a fresh one, which releases the lock, and the re-run finishes.
TEST_CASE("rebalance: a silent source during cleanup holds writes no longer than the bound") {
  constexpr int k_bound_s = 2;
  struct CleanupStall {
    std::string name;
    std::string match;
    std::string after;
  };
  const std::vector<CleanupStall> stalls{
      {"dropping the triggers", "DROP TRIGGER IF EXISTS", ""},
      {"the commit after dropping the triggers (tables locked)", "COMMIT", "DROP TRIGGER IF EXISTS"},
  };
  std::string figures;
  for (const auto& stall : stalls) {
    CAPTURE(stall.name);
    Rig rig(3, "rb_cstall");
    FaultProxy proxy(rig.fleet.url(0));
    auto old_database = rig.database(rig.shards({0, 1}), ring());
    auto target = rig.database(rig.shards({0, 1, 2}), ring());
    old_database["shards"][0]["url"] = proxy.url();
    target["shards"][0]["url"] = proxy.url();
    rig.configure(old_database, target);
    std::mt19937 rng(51);
    rig.seed_orders(300, 100000, rng);
    Writer writer(rig, 52, 110000, true, 100);
    REQUIRE(writer.wait_ops(20));
    REQUIRE(rig.rebalance_ok({"--batch-size", "200"}).at("phase") == "copied");
    REQUIRE(rig.rebalance_ok({"--cutover", "--cutover-timeout", std::to_string(k_bound_s)}).at("phase") == "cut_over");
    // Applications use the target config by cleanup: the writer keeps to keys that stay.
    writer.only_staying_users();
    REQUIRE(writer.wait_ops(writer.ops() + 20));
    const double before = writer.longest_ms();
    proxy.add_rule(stall.match, FaultProxy::Action::stall, 1, stall.after);
    const auto run = rig.rebalance({"--cleanup", "--cutover-timeout", std::to_string(k_bound_s)}, false);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    writer.stop();
    INFO(run.out, run.err);
    CHECK(writer.errors() == std::vector<std::string>{});
    CHECK(proxy.fired() == 1);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "no reply from orders/s0 within"));
    figures += "\n  " + stall.name + ": " + std::to_string(static_cast<int>(writer.longest_ms())) +
               " ms (before the cleanup " + std::to_string(static_cast<int>(before)) + " ms)";
    CHECK(writer.longest_ms() < (k_bound_s + 1) * 1000.0);
    const int fence = fence_triggers(rig, 0);
    CHECK((fence == 0 || fence == 2));

    proxy.clear_rules();
    proxy.release();
    CHECK(rig.rebalance_ok({"--cleanup"}).at("already_done") == false);
    for (int db = 0; db < rig.fleet.size(); ++db) {
      CHECK(rig.prepared_xacts(db) == 0);
    }
    rig.verify_final();
  }
  MESSAGE("cleanup, --cutover-timeout ", k_bound_s, " s, the application's longest write:", figures);
}

// Writers that add captured changes faster than grant applies them: the catch-up before the
// write block cannot bring the backlog under its target. Rather than block writes for longer than
// --cutover-timeout allows, the cutover refuses before taking any lock (exit 3, naming the
// shard); once the writes calm down a re-run cuts over. The flood rewrites rows with their own
// values, so the model of what every shard must hold stays true.
TEST_CASE("rebalance: a cutover behind writers faster than the apply refuses before blocking writes") {
  Rig rig(2, "rb_flood");
  rig.configure(rig.database(rig.shards({0}), ring()), rig.database(rig.shards({0, 1}), ring()));
  std::mt19937 rng(81);
  rig.seed_orders(500, 100000, rng);
  REQUIRE(rig.rebalance_ok({}).at("phase") == "copied");
  std::atomic<bool> stop{false};
  std::atomic<int> floods{0};
  std::thread flood([&] {
    pqxx::connection application(rig.fleet.url(0));
    while (!stop) {
      pqxx::nontransaction(application).exec0("UPDATE orders SET amount = amount");
      ++floods;
    }
  });
  const auto run = rig.rebalance({"--cutover", "--cutover-timeout", "1"}, false);
  stop = true;
  flood.join();
  INFO(run.out, run.err);
  CHECK(floods > 0);
  CHECK(run.exit_code == 3);
  CHECK(contains(run.err, "add changes as fast as grant applies them"));
  CHECK(contains(run.err, "no write was blocked and nothing was cut over"));
  CHECK(contains(run.err, "orders/s0"));
  MESSAGE("writers faster than the apply, --cutover-timeout 1: ", run.err.substr(0, run.err.find('\n')));
  CHECK(fence_triggers(rig, 0) == 0);
  CHECK(rig.rebalance_ok({"--cutover"}).at("phase") == "cut_over");
  CHECK(fence_triggers(rig, 0) == 2);
  rig.rebalance_ok({"--cleanup"});
  rig.verify_final();
}

} // namespace grant_test_rebalance_stall_cli_test
