// `grant rebalance` end to end through the binary: add a shard to a consistent-hash ring, split
// a range, drain a shard, modulo 2 -> 3, and a composite shard key. Each runs every phase (plan, copy with an
// application writing on the old config, resumed copy, cutover, the fence, cleanup) and then
// holds every shard to the model under the target config (rebalance_rig.hpp).
#include "rebalance_rig.hpp"

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_rebalance_cli_test {

using rb::contains;
using rb::Json;
using rb::Pk;
using rb::Rig;
using rb::Writer;

namespace {

/// Every line the command wrote to stderr with --json is a JSON document (progress events).
void check_json_lines(const std::string& err) {
  std::istringstream in(err);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) {
      continue;
    }
    CAPTURE(line);
    CHECK(Json::accept(line));
  }
}

/// Rows the model holds whose key moves: what cleanup deletes from the old shards.
std::uint64_t moving_rows(Rig& rig) {
  std::uint64_t n = 0;
  for (const auto& [where, rows] : rig.expected_moves()) {
    n += rows;
  }
  return n;
}

/// After cutover: writes to moved keys on their old shards are fenced, new keys included; the
/// others work, and so do writes on the new shards. Returns how many rows a stale application
/// managed to insert on an old shard for a key that belongs elsewhere: none.
std::uint64_t probe_fence(Rig& rig, std::int64_t max_user, std::mt19937& rng, bool late_item = false) {
  std::optional<Pk> moved;
  std::optional<Pk> stayed;
  std::optional<Pk> moved_item;
  {
    std::lock_guard lock(rig.model.mutex);
    for (const auto& [pk, row] : rig.model.tables["orders"]) {
      (rig.moves(pk) ? moved : stayed) = pk;
    }
    for (const auto& [pk, row] : rig.model.tables["order_items"]) {
      if (rig.moves(pk) && (!moved || pk[0] != (*moved)[0])) {
        moved_item = pk;
      }
    }
  }
  REQUIRE(moved);
  REQUIRE(stayed);
  const auto& user = (*moved)[0];
  const auto new_shard = "s" + std::to_string(rig.target_owner(*moved));
  const int old_shard = rig.old_owner(*moved);
  rb::expect_fenced(rig, old_shard,
                    "UPDATE orders SET amount = amount + 1 WHERE user_id = " + user + " AND id = " + (*moved)[1],
                    new_shard);
  rb::expect_fenced(rig, old_shard, "DELETE FROM orders WHERE user_id = " + user + " AND id = " + (*moved)[1],
                    new_shard);
  rb::expect_fenced(rig, old_shard,
                    "INSERT INTO orders (user_id, id, note, amount) VALUES (" + user + ", " +
                        std::to_string(rig.next_id++) + ", 'stale', 1)",
                    new_shard);
  if (moved_item) {
    rb::expect_fenced(rig, rig.old_owner(*moved_item),
                      "UPDATE order_items SET qty = qty + 1 WHERE user_id = " + (*moved_item)[0] +
                          " AND order_id = " + (*moved_item)[1] + " AND n = " + (*moved_item)[2],
                      "s" + std::to_string(rig.target_owner(*moved_item)));
  }

  // An update changing a staying row's key to one placed elsewhere is refused too.
  if (rig.target_owner(*moved) != rig.old_owner(*stayed)) {
    rb::expect_fenced(rig, rig.old_owner(*stayed),
                      "UPDATE orders SET user_id = " + user + " WHERE user_id = " + (*stayed)[0] +
                          " AND id = " + (*stayed)[1],
                      new_shard);
  }
  // A key that did not move keeps working on its shard.
  {
    pqxx::connection connection(rig.fleet.url(rig.old_owner(*stayed)));
    pqxx::work work(connection);
    const auto result =
        work.exec("UPDATE orders SET amount = 4242, note = 'after cutover' WHERE user_id = " + (*stayed)[0] +
                  " AND id = " + (*stayed)[1]);
    work.commit();
    CHECK(result.affected_rows() == 1);
    std::lock_guard lock(rig.model.mutex);
    rig.model.tables["orders"][*stayed] = {std::string("after cutover"), std::string("4242")};
  }
  // An application on the target config writes the moved key on its new shard.
  {
    pqxx::connection connection(rig.fleet.url(rig.target_owner(*moved)));
    pqxx::work work(connection);
    const auto result = work.exec("UPDATE orders SET amount = 777, note = 'on the new shard' WHERE user_id = " + user +
                                  " AND id = " + (*moved)[1]);
    const auto id = std::to_string(rig.next_id++);
    work.exec("INSERT INTO orders (user_id, id, note, amount) VALUES (" + user + ", " + id + ", 'new', 5)");
    work.commit();
    CHECK(result.affected_rows() == 1);
    std::lock_guard lock(rig.model.mutex);
    rig.model.tables["orders"][*moved] = {std::string("on the new shard"), std::string("777")};
    rig.model.tables["orders"][{user, id}] = {std::string("new"), std::string("5")};
  }
  // A stale application inserts keys nobody had yet, on the shard the old config picks: refused
  // (GR001) where the target config places the key elsewhere, whether or not it ever existed;
  // a new key that stays on its shard goes in.
  bool refused_new = false;
  bool stayed_new = false;
  for (int tries = 0; tries < 10000 && !(refused_new && stayed_new); ++tries) {
    const auto candidate = std::to_string(1 + static_cast<std::int64_t>(rng() % static_cast<unsigned>(max_user)));
    const bool moves = rig.moves({candidate});
    {
      std::lock_guard lock(rig.model.mutex);
      const auto& orders = rig.model.tables["orders"];
      const auto at = orders.lower_bound({candidate});
      if ((moves ? refused_new : stayed_new) || (at != orders.end() && at->first[0] == candidate)) {
        continue;
      }
    }
    const auto id = std::to_string(rig.next_id++);
    const auto insert =
        "INSERT INTO orders (user_id, id, note, amount) VALUES (" + candidate + ", " + id + ", 'late', 9)";
    if (moves) {
      rb::expect_fenced(rig, rig.old_owner({candidate}), insert, "s" + std::to_string(rig.target_owner({candidate})));
      if (late_item) {
        rb::expect_fenced(rig, rig.old_owner({candidate}),
                          "INSERT INTO order_items (user_id, order_id, n, qty) VALUES (" + candidate + ", " + id +
                              ", 1, 3)",
                          "s" + std::to_string(rig.target_owner({candidate})));
      }
      refused_new = true;
      continue;
    }
    pqxx::connection connection(rig.fleet.url(rig.old_owner({candidate})));
    pqxx::work work(connection);
    work.exec(insert);
    work.commit();
    std::lock_guard lock(rig.model.mutex);
    rig.model.tables["orders"][{candidate, id}] = {std::string("late"), std::string("9")};
    stayed_new = true;
  }
  CHECK(refused_new);
  CHECK(stayed_new);
  return 0;
}

/// Every phase in order, with a writer on the old config during the first copy. The stale insert
/// after cutover adds an item to its order with `late_item`.
void run_all_phases(Rig& rig, std::int64_t max_user, unsigned seed, bool late_item = true) {
  std::mt19937 rng(seed);
  const auto plan = rig.rebalance_ok({"--plan"});
  rig.check_plan(plan);
  rig.check_no_objects(); // the plan writes nothing
  const auto text_plan = rig.rebalance({"--plan"}, false);
  INFO(text_plan.out, text_plan.err);
  CHECK(text_plan.exit_code == 0);
  CHECK(contains(text_plan.out, "orders"));
  CHECK(contains(text_plan.out, "order_items"));

  {
    Writer writer(rig, seed + 1, max_user + max_user / 10);
    REQUIRE(writer.wait_ops(40));
    // Throttled so that the copy takes about a second, the writer writing all along.
    const auto copy = rig.rebalance({"--batch-size", "200", "--max-rows-per-sec", "3000"});
    INFO(copy.out, copy.err);
    REQUIRE(copy.exit_code == 0);
    check_json_lines(copy.err);
    const auto document = Rig::parse_document(copy.out);
    CHECK(document.at("database") == "orders");
    CHECK(document.at("phase") == "copied");
    CHECK(document.at("rows_copied").get<std::uint64_t>() > 0);
    CHECK(document.at("backlog").get<std::uint64_t>() < 1000);
    // More writes after the copy caught up: captured, applied by the next run.
    REQUIRE(writer.wait_ops(writer.ops() + 40));
    writer.stop();
    CHECK(writer.errors() == std::vector<std::string>{});
    MESSAGE("writer: ", writer.ops(), " writes during the copy");
  }
  auto status = rig.rebalance_ok({"--status"});
  CHECK(status.at("phase") == "copied");
  CHECK(status.at("started") == true);
  CHECK(status.at("prepared_in_doubt") == 0);
  CHECK_FALSE(status.at("shards").empty());

  const auto resumed = rig.rebalance_ok({"--batch-size", "200"});
  CHECK(resumed.at("phase") == "copied");
  CHECK(resumed.at("backlog") == 0);
  CHECK(resumed.at("changes_applied").get<std::uint64_t>() > 0);

  const auto expected_deleted = moving_rows(rig);
  const auto cutover = rig.rebalance_ok({"--cutover"});
  CHECK(cutover.at("phase") == "cut_over");
  REQUIRE_FALSE(cutover.at("shards").empty());
  double max_pause = 0;
  for (const auto& shard : cutover.at("shards")) {
    CHECK(shard.at("already") == false);
    max_pause = std::max(max_pause, shard.at("pause_ms").get<double>());
  }
  CHECK(cutover.at("max_pause_ms").get<double>() == doctest::Approx(max_pause));
  const auto again = rig.rebalance_ok({"--cutover"});
  for (const auto& shard : again.at("shards")) {
    CHECK(shard.at("already") == true);
  }
  status = rig.rebalance_ok({"--status"});
  CHECK(status.at("phase") == "cut_over");

  const auto late = probe_fence(rig, max_user, rng, late_item);

  const auto cleanup = rig.rebalance_ok({"--cleanup"});
  CHECK(cleanup.at("phase") == "done");
  // A row moved late is deleted from its old shard too, and counted in both.
  CHECK(cleanup.at("rows_deleted") == expected_deleted + late);
  CHECK(cleanup.at("rows_moved_late") == late);
  status = rig.rebalance_ok({"--status"});
  CHECK(status.at("phase") == "none");
  rig.verify_final();
}

Json ring(int virtual_nodes = 160) {
  return {{"type", "consistent_hash"}, {"virtual_nodes", virtual_nodes}};
}

Json ranges(const std::vector<std::tuple<std::string, std::optional<int>, std::optional<int>>>& spans) {
  Json list = Json::array();
  for (const auto& [shard, from, to] : spans) {
    list.push_back({{"shard", shard}, {"from", from ? Json(*from) : Json()}, {"to", to ? Json(*to) : Json()}});
  }
  return {{"type", "range"}, {"ranges", list}};
}

} // namespace

TEST_CASE("rebalance: add a shard to a consistent-hash ring (2 -> 3)") {
  Rig rig(3, "rb_add");
  rig.configure(rig.database(rig.shards({0, 1}), ring()), rig.database(rig.shards({0, 1, 2}), ring()));
  std::mt19937 rng(11);
  rig.seed_orders(1200, 100000, rng);
  // Only rows moving to the new shard move.
  for (const auto& [where, rows] : rig.expected_moves()) {
    CHECK(std::get<2>(where) == "s2");
  }
  run_all_phases(rig, 100000, 11);
}

TEST_CASE("rebalance: split a range ([500, 1000) of s0 to a new s2)") {
  Rig rig(3, "rb_split");
  rig.configure(rig.database(rig.shards({0, 1}), ranges({{"s0", std::nullopt, 1000}, {"s1", 1000, std::nullopt}})),
                rig.database(rig.shards({0, 1, 2}),
                             ranges({{"s0", std::nullopt, 500}, {"s2", 500, 1000}, {"s1", 1000, std::nullopt}})));
  std::mt19937 rng(12);
  rig.seed_orders(900, 1999, rng);
  const auto moves = rig.expected_moves();
  REQUIRE_FALSE(moves.empty());
  for (const auto& [where, rows] : moves) {
    CHECK(std::get<1>(where) == "s0");
    CHECK(std::get<2>(where) == "s2");
  }
  run_all_phases(rig, 1999, 12);
}

TEST_CASE("rebalance: drain a shard (3 -> 2, every row of s2 goes elsewhere)") {
  Rig rig(3, "rb_drain");
  rig.configure(rig.database(rig.shards({0, 1, 2}), ring()), rig.database(rig.shards({0, 1}), ring()));
  std::mt19937 rng(13);
  rig.seed_orders(1200, 100000, rng);
  std::uint64_t from_s2 = 0;
  for (const auto& [where, rows] : rig.expected_moves()) {
    CHECK(std::get<1>(where) == "s2");
    from_s2 += rows;
  }
  CHECK(from_s2 == rig.count(2, "orders") + rig.count(2, "order_items"));
  run_all_phases(rig, 100000, 13);
  CHECK(rig.count(2, "orders") == 0);
  CHECK(rig.count(2, "order_items") == 0);
}

TEST_CASE("rebalance: modulo 2 -> 3 (rows move both ways between the old shards, and to the new one)") {
  Rig rig(3, "rb_modulo");
  const Json modulo{{"type", "modulo"}};
  rig.configure(rig.database(rig.shards({0, 1}), modulo), rig.database(rig.shards({0, 1, 2}), modulo));
  std::mt19937 rng(16);
  rig.seed_orders(1000, 100000, rng);
  std::set<std::pair<std::string, std::string>> directions;
  for (const auto& [where, rows] : rig.expected_moves()) {
    directions.insert({std::get<1>(where), std::get<2>(where)});
  }
  CHECK(directions.count({"s0", "s1"}) == 1);
  CHECK(directions.count({"s1", "s0"}) == 1);
  CHECK(directions.count({"s0", "s2"}) == 1);
  run_all_phases(rig, 100000, 16);
}

TEST_CASE("rebalance: a composite shard key (tenant, user_id), tenants with quotes, commas, braces") {
  const std::vector<rb::TableSpec> tables{{"accounts", {"tenant", "user_id", "id"}, 2, {"balance"}}};
  Rig rig(
      3, "rb_composite", tables,
      {{"1_accounts.sql", "-- grant:up\nCREATE TABLE accounts (tenant text, user_id bigint, id bigint, balance int, "
                          "PRIMARY KEY (tenant, user_id, id));\n-- grant:down\nDROP TABLE accounts;\n"}});
  const Json key{"tenant", "user_id"};
  rig.configure(rig.database(rig.shards({0, 1}), ring(), key), rig.database(rig.shards({0, 1, 2}), ring(), key));
  // Tenants that an array literal or a quoted string must escape.
  const std::vector<std::string> tenants{"acme", "o'brien",     "a,b",      "x\"y",       "back\\slash", "{brace}",
                                         "NULL", "caf\xc3\xa9", " spaced ", "semi;colon", "tenant-7",    "tenant-8"};
  pqxx::connection quoting(rig.fleet.url(0));
  std::map<int, std::vector<std::string>> values;
  {
    std::lock_guard lock(rig.model.mutex);
    for (int i = 0; i < 2000; ++i) {
      const Pk pk{tenants[static_cast<std::size_t>(i) % tenants.size()], std::to_string(i % 97), std::to_string(i)};
      values[rig.old_owner(pk, 2)].push_back("(" + quoting.quote(pk[0]) + ", " + pk[1] + ", " + pk[2] + ", " +
                                             std::to_string(i * 3) + ")");
      rig.model.tables["accounts"][pk] = {std::to_string(i * 3)};
    }
  }
  for (const auto& [shard, list] : values) {
    rig.insert_values(shard, "accounts (tenant, user_id, id, balance)", list);
  }
  rig.check_plan(rig.rebalance_ok({"--plan"}));
  CHECK(rig.rebalance_ok({"--batch-size", "300"}).at("phase") == "copied");
  CHECK(rig.rebalance_ok({"--cutover"}).at("phase") == "cut_over");
  std::uint64_t expected_deleted = 0;
  for (const auto& [where, rows] : rig.expected_moves()) {
    expected_deleted += rows;
  }
  // A moved key of each tenant is fenced on its old shard; a key that stayed is not.
  std::map<std::string, Pk> moved;
  std::optional<Pk> stayed;
  for (const auto& [pk, row] : rig.model.tables["accounts"]) {
    if (rig.moves(pk, 2)) {
      moved[pk[0]] = pk;
    } else {
      stayed = pk;
    }
  }
  CHECK(moved.size() == tenants.size());
  REQUIRE(stayed);
  for (const auto& [tenant, pk] : moved) {
    CAPTURE(tenant);
    rb::expect_fenced(rig, rig.old_owner(pk, 2),
                      "UPDATE accounts SET balance = 0 WHERE tenant = " + quoting.quote(pk[0]) +
                          " AND user_id = " + pk[1] + " AND id = " + pk[2],
                      "s" + std::to_string(rig.target_owner(pk, 2)));
  }
  rig.fleet.execute(rig.old_owner(*stayed, 2),
                    "UPDATE accounts SET balance = -1 WHERE tenant = " + quoting.quote((*stayed)[0]) +
                        " AND user_id = " + (*stayed)[1] + " AND id = " + (*stayed)[2]);
  rig.model.tables["accounts"][*stayed] = {std::string("-1")};
  const auto cleanup = rig.rebalance_ok({"--cleanup"});
  CHECK(cleanup.at("rows_deleted") == expected_deleted);
  rig.verify_final();
}

// After cutover a stale application inserts an order and its item for a key nobody had, on
// the shard the old config picks (the fence knows only keys that existed). Cleanup must move
// both (it once fenced the key after moving the order, then took the item for moved already
// and deleted it).
TEST_CASE("rebalance: a stale application's new order and its items are refused on the old shard after cutover") {
  Rig rig(3, "rb_late");
  rig.configure(rig.database(rig.shards({0, 1}), ring()), rig.database(rig.shards({0, 1, 2}), ring()));
  std::mt19937 rng(15);
  rig.seed_orders(300, 100000, rng);
  run_all_phases(rig, 100000, 15, true);
}

} // namespace grant_test_rebalance_cli_test
