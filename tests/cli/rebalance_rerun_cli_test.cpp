// `grant rebalance` run by automation that retries phases blindly: a phase that has finished
// exits 0 and says so (text and --json), a target that moves nothing installs nothing, and the
// cutover of several source shards runs them at once, one failing without harming the others
// (rebalance_rig.hpp).
#include "rebalance_rig.hpp"

#include "support/fault_proxy.hpp"

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_rebalance_rerun_cli_test {

using grant::test::FaultProxy;
using rb::contains;
using rb::Json;
using rb::Rig;

namespace {

Json ring() {
  return {{"type", "consistent_hash"}, {"virtual_nodes", 160}};
}

int fence_triggers(const Rig& rig, int db) {
  return std::stoi(rig.fleet.scalar(db, "SELECT count(*) FROM pg_trigger WHERE tgname = 'grant_rebalance_fence'"));
}

} // namespace

TEST_CASE("rebalance: re-running a phase that has finished exits 0 and says so") {
  Rig rig(3, "rb_rerun");
  rig.configure(rig.database(rig.shards({0, 1}), ring()), rig.database(rig.shards({0, 1, 2}), ring()));
  std::mt19937 rng(71);
  rig.seed_orders(200, 100000, rng);
  CHECK(rig.rebalance_ok({}).at("already_done") == false);
  CHECK(rig.rebalance_ok({"--cutover"}).at("already_done") == false);
  // Before cleanup, a cutover re-run reports every shard as cut over earlier.
  const auto again = rig.rebalance_ok({"--cutover"});
  for (const auto& shard : again.at("shards")) {
    CHECK(shard.at("already") == true);
  }
  const auto cleaned = rig.rebalance_ok({"--cleanup"});
  CHECK(cleaned.at("already_done") == false);
  rig.verify_final();

  SUBCASE("cleanup, cutover and copy after the end") {
    for (const auto& phase : std::vector<std::vector<std::string>>{{"--cleanup"}, {"--cutover"}, {}}) {
      CAPTURE(Json(phase).dump());
      const auto document = rig.rebalance_ok(phase);
      CHECK(document.at("already_done") == true);
      CHECK(document.at("nothing_moves") == false);
      CHECK(document.at("phase") == "done");
      CHECK(document.at("finished").at("outcome") == "cleaned_up");
      rig.check_no_objects();
    }
    const auto text = rig.rebalance({"--cleanup"}, false);
    CHECK(text.exit_code == 0);
    CHECK(contains(text.out, "orders: nothing to clean up: the rebalance towards this target was finished and "
                             "cleaned up at "));
    const auto status = rig.rebalance_ok({"--status"});
    CHECK(status.at("phase") == "none");
    CHECK(status.at("started") == false);
    CHECK(status.at("finished").at("outcome") == "cleaned_up");
    const auto status_text = rig.rebalance({"--status"}, false);
    CHECK(status_text.exit_code == 0);
    CHECK(contains(status_text.out, "orders: no rebalance in progress; the one towards this target finished and "
                                    "was cleaned up at "));
    MESSAGE("--status after the end: ", status_text.out);
    const auto undo = rig.rebalance({"--abort"});
    CHECK(undo.exit_code == 2);
    CHECK(contains(undo.err, "the last one towards this target was cleaned up"));
    rig.verify_final();
  }
  SUBCASE("the record is on every shard of both configs") {
    for (int db = 0; db < 3; ++db) {
      CHECK(rig.fleet.scalar(db, "SELECT outcome FROM grant_rebalance_finished WHERE database = 'orders'") ==
            "cleaned_up");
    }
  }
}

TEST_CASE("rebalance: re-running an abort that has finished exits 0; a cutover after it is refused") {
  Rig rig(3, "rb_reabort");
  rig.configure(rig.database(rig.shards({0, 1}), ring()), rig.database(rig.shards({0, 1, 2}), ring()));
  std::mt19937 rng(72);
  rig.seed_orders(150, 100000, rng);
  rig.rebalance_ok({});
  CHECK(rig.rebalance_ok({"--abort"}).at("already_done") == false);
  const auto again = rig.rebalance_ok({"--abort"});
  CHECK(again.at("already_done") == true);
  CHECK(again.at("finished").at("outcome") == "aborted");
  CHECK(rig.rebalance_ok({"--status"}).at("finished").at("outcome") == "aborted");
  const auto cutover = rig.rebalance({"--cutover"});
  CHECK(cutover.exit_code == 2);
  CHECK(contains(cutover.err, "the last one towards this target was aborted"));
  rig.verify_final(false);
  // A copy after an abort starts the rebalance again.
  CHECK(rig.rebalance_ok({}).at("already_done") == false);
  rig.rebalance_ok({"--cutover"});
  rig.rebalance_ok({"--cleanup"});
  rig.verify_final();
}

TEST_CASE("rebalance: a target that moves nothing says so and installs nothing") {
  Rig rig(2, "rb_same");
  // The same shards and resolver, written again: no key changes shard.
  rig.configure(rig.database(rig.shards({0, 1}), ring()), rig.database(rig.shards({0, 1}), ring()));
  std::mt19937 rng(73);
  rig.seed_orders(100, 100000, rng);
  for (const auto& phase : std::vector<std::vector<std::string>>{{}, {"--cutover"}, {"--cleanup"}, {"--abort"}}) {
    CAPTURE(Json(phase).dump());
    const auto document = rig.rebalance_ok(phase);
    CHECK(document.at("already_done") == true);
    CHECK(document.at("nothing_moves") == true);
    rig.check_no_objects();
  }
  const auto text = rig.rebalance({}, false);
  CHECK(text.exit_code == 0);
  CHECK(contains(text.out, "nothing to copy: the target has the same shards and sharding"));
  CHECK(rig.rebalance_ok({"--status"}).at("nothing_moves") == true);
  CHECK(contains(rig.rebalance({"--status"}, false).out, "no rebalance in progress; the target config moves no row"));
  rig.verify_final();
}

// Two source shards cut over at once, each in its own two-phase commit with its own bound: one
// whose server goes silent is given up (named in the error) while the other is cut over, and the
// run takes one bound, not two. The re-run finishes the first.
TEST_CASE("rebalance: cutovers of several source shards run at once; one failing leaves the others cut over") {
  // Long enough that start-up on a loaded machine stays well under one bound: one shard after
  // the other can never take less than two.
  constexpr int k_bound_s = 5;
  Rig rig(3, "rb_parallel");
  FaultProxy proxy0(rig.fleet.url(0));
  FaultProxy proxy1(rig.fleet.url(1));
  auto old_database = rig.database(rig.shards({0, 1}), ring());
  auto target = rig.database(rig.shards({0, 1, 2}), ring());
  old_database["shards"][0]["url"] = proxy0.url();
  old_database["shards"][1]["url"] = proxy1.url();
  target["shards"][0]["url"] = proxy0.url();
  target["shards"][1]["url"] = proxy1.url();
  rig.configure(old_database, target);
  std::mt19937 rng(74);
  rig.seed_orders(300, 100000, rng);
  rig.rebalance_ok({"--batch-size", "200"});

  // LOCK TABLE goes to a source only from its own cutover (PREPARE goes to every participant).
  SUBCASE("both silent at their LOCK: the run takes one bound") {
    proxy0.add_rule("LOCK TABLE", FaultProxy::Action::stall, 1);
    proxy1.add_rule("LOCK TABLE", FaultProxy::Action::stall, 1);
    const auto run = rig.rebalance({"--cutover", "--cutover-timeout", std::to_string(k_bound_s)}, false);
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "the cutover of orders/s0 failed"));
    CHECK(contains(run.err, "the cutover of orders/s1 failed"));
    MESSAGE("two silent source shards, --cutover-timeout ", k_bound_s, " s: the cutover run took ", run.seconds, " s");
    // One after the other would take two bounds and the start-up.
    CHECK(run.seconds < 2 * k_bound_s);
  }
  SUBCASE("s0 silent at its LOCK, s1 cut over") {
    proxy0.add_rule("LOCK TABLE", FaultProxy::Action::stall, 1);
    const auto run = rig.rebalance({"--cutover", "--cutover-timeout", std::to_string(k_bound_s)}, false);
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "the cutover of orders/s0 failed"));
    CHECK(contains(run.err, "no reply from orders/s0 within"));
    CHECK(contains(run.err, "(cut over: s1)"));
    const auto status = rig.rebalance_ok({"--status"});
    CHECK(status.at("shards").at(0).at("phase") == "copied");
    CHECK(status.at("shards").at(1).at("phase") == "cut_over");
    CHECK(fence_triggers(rig, 0) == 0);
    CHECK(fence_triggers(rig, 1) == 2);
  }
  proxy0.clear_rules();
  proxy1.clear_rules();
  proxy0.release();
  proxy1.release();
  const auto finished = rig.rebalance_ok({"--cutover"});
  CHECK(finished.at("phase") == "cut_over");
  for (int db = 0; db < 3; ++db) {
    CHECK(rig.prepared_xacts(db) == 0);
  }
  CHECK(fence_triggers(rig, 0) == 2);
  CHECK(fence_triggers(rig, 1) == 2);
  rig.rebalance_ok({"--cleanup"});
  rig.verify_final();
}

} // namespace grant_test_rebalance_rerun_cli_test
