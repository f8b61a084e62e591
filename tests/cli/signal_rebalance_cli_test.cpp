// Ctrl-C during `grant rebalance`: the copy's running statements are cancelled, the page being
// written rolls back, grant exits 130 saying to re-run the phase, and the re-run resumes from the
// checkpoints to a complete rebalance (rebalance_rig.hpp).
#include "rebalance_rig.hpp"

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_signal_rebalance_cli_test {

using rb::contains;
using rb::Json;
using rb::Rig;

TEST_CASE("signal::rebalance: SIGINT during the copy, then the re-run resumes and the rebalance completes") {
  Rig rig(3, "rb_signal");
  const Json ring{{"type", "consistent_hash"}, {"virtual_nodes", 160}};
  rig.configure(rig.database(rig.shards({0, 1}), ring), rig.database(rig.shards({0, 1, 2}), ring));
  std::mt19937 rng(19);
  rig.seed_orders(150, 100000, rng);
  // Throttled: the copy takes several seconds, most of it asleep in the throttle.
  const std::vector<std::string> args{"--config", "old.json",           "rebalance",   "--database",
                                      "orders",   "--target",           "target.json", "--batch-size",
                                      "20",       "--max-rows-per-sec", "60"};
  const auto log = rig.fleet.dir / "copy.log";
  grant::test::BackgroundGrant copy(args, rig.fleet.dir.path(), log);
  const auto deadline = rb::Clock::now() + std::chrono::seconds(30);
  bool copying = false;
  std::string last_status;
  while (!copying && rb::Clock::now() < deadline) {
    const auto status = rig.rebalance({"--status"});
    last_status = std::to_string(status.exit_code) + " " + status.out + status.err;
    if (status.exit_code == 0) {
      const auto document = Rig::parse_document(status.out); // the loop must not outlive it
      for (const auto& shard : document.at("shards")) {
        copying = copying || shard.at("rows_copied").get<std::uint64_t>() > 0;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE_MESSAGE(copying, "status: " << last_status << "\ncopy: " << grant::test::read_file(log));
  const auto started = rb::Clock::now();
  const auto code = copy.stop(SIGINT, std::chrono::seconds(10));
  const auto text = grant::test::read_file(log);
  REQUIRE_MESSAGE(code.has_value(), "grant still runs 10 s after SIGINT:\n" << text);
  CHECK(rb::Clock::now() - started < std::chrono::seconds(5));
  CHECK_MESSAGE(*code == 130, text);
  CHECK_MESSAGE(contains(text, "grant: interrupted by SIGINT"), text);
  CHECK_MESSAGE(contains(text, "re-run the same phase to resume"), text);
  for (int db = 0; db < 3; ++db) {
    CHECK(rig.prepared_xacts(db) == 0);
  }

  CHECK(rig.rebalance_ok({}).at("phase") == "copied");
  rig.rebalance_ok({"--cutover"});
  rig.rebalance_ok({"--cleanup"});
  rig.verify_final();
}

} // namespace grant_test_signal_rebalance_cli_test
