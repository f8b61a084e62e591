// `grant rebalance` edge cases with one precise setup each: an application creating an order
// with its items behind the copy's scan, and a stale insert after cutover colliding with the new
// shard's row (rebalance_rig.hpp).
#include "rebalance_rig.hpp"

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_rebalance_edges_cli_test {

using rb::contains;
using rb::Json;
using rb::Pk;
using rb::Rig;

namespace {

Json ring() {
  return {{"type", "consistent_hash"}, {"virtual_nodes", 160}};
}

} // namespace

// The copy scans orders, then order_items. An order an application creates (with its items)
// behind the orders scan's position reaches the new shard only through the captured changes,
// applied after every table's scan; the items scan meets its items first.
TEST_CASE("rebalance: the copy meets an item whose order was created during the copy") {
  Rig rig(3, "rb_fk");
  rig.configure(rig.database(rig.shards({0, 1}), ring()), rig.database(rig.shards({0, 1, 2}), ring()));
  std::mt19937 rng(14);
  rig.seed_orders(150, 100000, rng);
  // Throttled: the orders scan of each source takes a few seconds.
  std::vector<std::string> args{"--config",    "old.json",     "rebalance", "--database",         "orders", "--target",
                                "target.json", "--batch-size", "20",        "--max-rows-per-sec", "60"};
  const auto log = rig.fleet.dir / "copy.log";
  const int pid = grant::test::spawn_grant(args, rig.fleet.dir.path(), log);
  // Once the scan has passed its first page, a new order and item for the smallest moving user
  // of each source shard, who sorts before anything left to scan.
  const auto deadline = rb::Clock::now() + std::chrono::seconds(30);
  bool copying = false;
  std::string last_status;
  while (!copying && rb::Clock::now() < deadline) {
    const auto status = rig.rebalance({"--status"});
    last_status = status.out + status.err;
    if (status.exit_code == 0) {
      const auto document = Rig::parse_document(status.out);
      for (const auto& shard : document.at("shards")) {
        copying = copying || shard.at("rows_copied").get<std::uint64_t>() > 0;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  INFO("status: ", last_status, "\ncopy: ", grant::test::read_file(log));
  REQUIRE(copying);
  for (int source = 0; source < 2; ++source) {
    for (std::int64_t user = 1; user < 100000; ++user) {
      const Pk pk{std::to_string(user)};
      if (rig.old_owner(pk) == source && rig.moves(pk)) {
        const auto id = std::to_string(rig.next_id++);
        rig.fleet.execute(source, "BEGIN; INSERT INTO orders VALUES (" + pk[0] + ", " + id +
                                      ", 'new', 1); INSERT INTO order_items VALUES (" + pk[0] + ", " + id +
                                      ", 1, 2); COMMIT");
        rig.model.tables["orders"][{pk[0], id}] = {std::string("new"), std::string("1")};
        rig.model.tables["order_items"][{pk[0], id, "1"}] = {std::string("2")};
        break;
      }
    }
  }
  const auto code = grant::test::wait_exit(pid, std::chrono::seconds(120));
  INFO(grant::test::read_file(log));
  REQUIRE(code == 0);
  rig.rebalance_ok({});
  rig.rebalance_ok({"--cutover"});
  rig.rebalance_ok({"--cleanup"});
  rig.verify_final();
}

// After cutover, an application on the target config inserts a new order on the new shard; a
// stale one on the old config tries the same key (same primary key, and another) on the old
// shard: refused (GR001), the key having never existed, so cleanup has nothing late to move.
TEST_CASE("rebalance: a stale insert of a key nobody had is refused on the old shard") {
  Rig rig(3, "rb_conflict");
  rig.configure(rig.database(rig.shards({0, 1}), ring()), rig.database(rig.shards({0, 1, 2}), ring()));
  std::mt19937 rng(17);
  rig.seed_orders(200, 100000, rng);
  const auto copy = rig.rebalance({"--jobs", "1", "--batch-size", "50"}, false);
  INFO(copy.out, copy.err);
  REQUIRE(copy.exit_code == 0);
  CHECK(contains(copy.out + copy.err, "--cutover"));
  const auto cutover = rig.rebalance({"--cutover", "--jobs", "1"}, false);
  REQUIRE(cutover.exit_code == 0);
  std::int64_t user = 200000;
  while (!rig.moves({std::to_string(user)})) {
    ++user;
  }
  const auto key = std::to_string(user);
  const int old_shard = rig.old_owner({key});
  const int new_shard = rig.target_owner({key});
  rig.fleet.execute(new_shard, "INSERT INTO orders VALUES (" + key + ", 1, 'target app', 1)");
  rb::expect_fenced(rig, old_shard, "INSERT INTO orders VALUES (" + key + ", 1, 'stale app', 2)",
                    "s" + std::to_string(new_shard));
  rb::expect_fenced(rig, old_shard, "INSERT INTO orders VALUES (" + key + ", 2, 'stale app', 3)",
                    "s" + std::to_string(new_shard));
  rig.model.tables["orders"][{key, "1"}] = {std::string("target app"), std::string("1")};
  const auto text_status = rig.rebalance({"--status"}, false);
  CHECK(text_status.exit_code == 0);
  CHECK(contains(text_status.out, "cut_over"));
  const auto cleanup = rig.rebalance_ok({"--cleanup"});
  CHECK(cleanup.at("rows_moved_late") == 0);
  CHECK(cleanup.at("rows_conflicting") == 0);
  rig.verify_final();
}

} // namespace grant_test_rebalance_edges_cli_test
