// `grant rebalance` refusing what it must not do (exit 2, nothing installed, the message says
// what to run), unreachable shards (exit 3 naming the shard, no password), a plan that finds
// rows the target would own on no shard (exit 1), a second rebalance while one runs, and
// --abort putting every shard back as it was.
#include "rebalance_rig.hpp"

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_rebalance_refusals_cli_test {

using rb::contains;
using rb::Json;
using rb::Outcome;
using rb::Pk;
using rb::Rig;

namespace {

void refused(const Outcome& run, const std::vector<std::string>& parts) {
  INFO("exit ", run.exit_code, "\nstdout: ", run.out, "\nstderr: ", run.err);
  CHECK(run.exit_code == 2);
  CHECK(contains(run.err, "grant: error: "));
  for (const auto& part : parts) {
    CHECK_MESSAGE(contains(run.err, part), "stderr should say ", part);
  }
}

Json ring() {
  return {{"type", "consistent_hash"}, {"virtual_nodes", 160}};
}

/// Every row of every table in every database: what --abort must restore.
std::vector<std::map<Pk, rb::Row>> snapshot(const Rig& rig) {
  std::vector<std::map<Pk, rb::Row>> out;
  for (int db = 0; db < rig.fleet.size(); ++db) {
    for (const auto& table : rig.tables) {
      out.push_back(rig.read_table(db, table));
    }
  }
  return out;
}

std::string closed_url(const std::string& database) {
  return "postgres://grant:" + rb::password() + "@127.0.0.1:" + std::to_string(grant::test::closed_port()) + "/" +
         database + "?connect_timeout=2";
}

} // namespace

TEST_CASE("rebalance: phases out of order, a changed key or version skew are refused and touch nothing") {
  Rig rig(3, "rb_refuse");
  const auto old_db = rig.database(rig.shards({0, 1}), ring());
  const auto target_db = rig.database(rig.shards({0, 1, 2}), ring());
  rig.configure(old_db, target_db);
  std::mt19937 rng(21);
  rig.seed_orders(300, 100000, rng);
  const auto before = snapshot(rig);

  // Before any copy: each says to start with the copy.
  refused(rig.rebalance({"--cutover"}), {"grant rebalance --database orders --target"});
  refused(rig.rebalance({"--cleanup"}), {"grant rebalance --database orders --target"});
  rig.check_no_objects();

  auto other_key = target_db;
  other_key["sharding"]["key"] = "id";
  rig.write_target(other_key);
  refused(rig.rebalance({}), {"shard key", "(user_id)", "(id)"});
  refused(rig.rebalance({"--plan"}), {"shard key", "(user_id)", "(id)"});
  rig.check_no_objects();

  // The new shard one migration ahead of the others.
  rig.fleet.file("3_notes.sql",
                 "-- grant:up\nCREATE TABLE notes (id bigint PRIMARY KEY);\n-- grant:down\nDROP TABLE notes;\n");
  const auto ahead = rig.fleet.grant({"migrate", "--database", "orders", "--shard", "s2"});
  REQUIRE(ahead.exit_code == 0);
  rig.write_target(target_db);
  refused(rig.rebalance({}), {"s2", "grant migrate"});
  rig.check_no_objects();
  CHECK(snapshot(rig) == before);
  REQUIRE(rig.fleet.grant({"migrate"}).exit_code == 0); // every shard at the same version again

  // Other sharded tables in the target; a new shard that already holds rows.
  auto fewer_tables = target_db;
  fewer_tables["sharding"]["tables"] = {"orders"};
  rig.write_target(fewer_tables);
  refused(rig.rebalance({}), {"sharded tables"});
  rig.write_target(target_db);
  rig.fleet.execute(2, "INSERT INTO orders VALUES (424242, 1, 'already here', 1)");
  refused(rig.rebalance({}), {"s2", "already holds rows"});
  rig.fleet.execute(2, "DELETE FROM orders");
  rig.check_no_objects();

  SUBCASE("--abort before cutover puts every shard back as it was") {
    const auto copy = rig.rebalance_ok({"--batch-size", "100"});
    CHECK(copy.at("phase") == "copied");
    CHECK(rig.count(2, "orders") > 0);
    refused(rig.rebalance({"--cleanup"}), {"--cutover"});
    // Another target while this one is in progress.
    auto other_target = target_db;
    other_target["sharding"]["resolver"]["virtual_nodes"] = 100;
    rig.write_target(other_target);
    refused(rig.rebalance({}), {"another target"});
    refused(rig.rebalance({"--cutover"}), {"another target"});
    rig.write_target(target_db);
    const auto copied = rig.count(2, "orders") + rig.count(2, "order_items");
    std::uint64_t moving = 0;
    for (const auto& [where, rows] : rig.expected_moves()) {
      moving += rows;
    }
    CHECK(copied == moving);
    const auto abort = rig.rebalance_ok({"--abort"});
    CHECK(abort.at("phase") == "aborted");
    CHECK(abort.at("rows_deleted") == copied);
    CHECK(snapshot(rig) == before);
    rig.check_no_objects();
    for (int db = 0; db < rig.fleet.size(); ++db) {
      CHECK(rig.prepared_xacts(db) == 0);
    }
    CHECK(rig.rebalance_ok({"--status"}).at("phase") == "none");

    // A new rebalance after the abort runs to the end; --abort after cutover is refused.
    rig.rebalance_ok({});
    rig.rebalance_ok({"--cutover"});
    refused(rig.rebalance({"--abort"}), {"--cleanup"});
    refused(rig.rebalance({}), {"already cut over", "--cleanup"});
    rig.rebalance_ok({"--cleanup"});
    rig.verify_final();
  }

  SUBCASE("a second rebalance while one runs is refused, naming who holds it") {
    // Throttled, so that it is still copying while the second one starts.
    std::vector<std::string> args{"--config", "old.json",           "rebalance",   "--database",
                                  "orders",   "--target",           "target.json", "--batch-size",
                                  "10",       "--max-rows-per-sec", "20"};
    grant::test::BackgroundGrant first(args, rig.fleet.dir.path(), rig.fleet.dir / "first.log");
    Json status;
    const auto deadline = rb::Clock::now() + std::chrono::seconds(30);
    while (rb::Clock::now() < deadline) {
      const auto run = rig.rebalance({"--status"});
      if (run.exit_code == 0) {
        status = Rig::parse_document(run.out);
        if (status.at("phase") == "copying" && !status.at("holder").get<std::string>().empty()) {
          break;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    INFO(status.dump(), grant::test::read_file(rig.fleet.dir / "first.log"));
    REQUIRE(status.at("phase") == "copying");
    const auto holder = status.at("holder").get<std::string>();
    CHECK(contains(holder, "pid "));
    const auto second = rig.rebalance({});
    refused(second, {holder});
    refused(rig.rebalance({"--cutover"}), {holder});
    CHECK(first.stop(SIGKILL) == 128 + SIGKILL);
    // The holder is gone: the next run takes over and finishes.
    CHECK(rig.rebalance_ok({}).at("phase") == "copied");
    rig.rebalance_ok({"--abort"});
    CHECK(snapshot(rig) == before);
    rig.check_no_objects();
  }
}

TEST_CASE("rebalance: a table without a primary key is refused, nothing installed") {
  const std::vector<rb::TableSpec> tables{{"events", {"user_id"}, 1, {"payload"}}};
  Rig rig(3, "rb_nopk", tables,
          {{"1_events.sql", "-- grant:up\nCREATE TABLE events (user_id bigint, payload text);\n"
                            "-- grant:down\nDROP TABLE events;\n"}});
  rig.configure(rig.database(rig.shards({0, 1}), ring()), rig.database(rig.shards({0, 1, 2}), ring()));
  for (int user = 1; user <= 50; ++user) {
    rig.fleet.execute(rig.old_owner({std::to_string(user)}),
                      "INSERT INTO events VALUES (" + std::to_string(user) + ", 'x')");
  }
  refused(rig.rebalance({}), {"events", "primary key"});
  rig.check_no_objects();
  CHECK(rig.count(2, "events") == 0);
}

TEST_CASE("rebalance: SQLite shards are refused") {
  grant::test::TempDir dir;
  const auto database = [](const std::vector<std::string>& names) {
    Json list = Json::array();
    for (const auto& name : names) {
      list.push_back({{"name", name}, {"url", "sqlite3:" + name + ".sqlite3"}});
    }
    return Json{
        {"databases",
         {{"orders",
           {{"shards", list}, {"sharding", {{"key", "user_id"}, {"tables", {"orders"}}, {"resolver", ring()}}}}}}}};
  };
  dir.write("old.json", database({"s0", "s1"}).dump(2));
  dir.write("target.json", database({"s0", "s1", "s2"}).dump(2));
  for (const auto* phase : {"--plan", ""}) {
    std::vector<std::string> args{"--config", "old.json", "rebalance",  "--database",
                                  "orders",   "--target", "target.json"};
    if (*phase != '\0') {
      args.emplace_back(phase);
    }
    const auto run = rb::run_binary(args, dir.path());
    refused(run, {"SQLite"});
  }
}

TEST_CASE("rebalance: an unreachable shard exits 3 naming it, without the password") {
  Rig rig(3, "rb_unreachable");
  const auto old_db = rig.database(rig.shards({0, 1}), ring());
  auto target_db = rig.database(rig.shards({0, 1, 2}), ring());
  rig.configure(old_db, target_db);
  std::mt19937 rng(22);
  rig.seed_orders(100, 100000, rng);

  target_db["shards"][2]["url"] = closed_url("orders");
  rig.write_target(target_db);
  for (const auto& args : {std::vector<std::string>{"--plan"}, std::vector<std::string>{}}) {
    const auto run = rig.rebalance(args, false);
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "grant: error: "));
    CHECK(contains(run.err, "s2"));
  }
  rig.check_no_objects(); // the copy found the target down before it installed anything

  // A source shard down. A shard in both configs is reached at the target's URL (the
  // implementation's choice: where it lives on), so a shared shard is down in both files, and a
  // drained one (in old.json only) in old.json.
  auto shared_down = rig.database(rig.shards({0, 1, 2}), ring());
  shared_down["shards"][1]["url"] = closed_url("orders");
  auto old_down = old_db;
  old_down["shards"][1]["url"] = closed_url("orders");
  rig.fleet.dir.write("old.json", Json{{"databases", {{"orders", old_down}}}}.dump(2));
  rig.write_target(shared_down);
  auto run = rig.rebalance({"--plan"}, false);
  {
    INFO(run.out, run.err);
    CHECK(run.exit_code == 3);
    CHECK(contains(run.err, "s1"));
  }
  auto drained_down = rig.database(rig.shards({0, 1, 2}), ring());
  drained_down["shards"][2]["url"] = closed_url("orders");
  rig.fleet.dir.write("old.json", Json{{"databases", {{"orders", drained_down}}}}.dump(2));
  rig.write_target(rig.database(rig.shards({0, 1}), ring()));
  run = rig.rebalance({"--plan"}, false);
  INFO(run.out, run.err);
  CHECK(run.exit_code == 3);
  CHECK(contains(run.err, "s2"));
  rig.check_no_objects();
}

TEST_CASE("rebalance: --plan exits 1 when the target owns no shard for some rows") {
  Rig rig(3, "rb_unowned");
  const auto old_db = rig.database(rig.shards({0, 1}), ring());
  // A lookup without default that maps users 1..40 only.
  Json map = Json::object();
  for (int user = 1; user <= 40; ++user) {
    map[std::to_string(user)] = "s" + std::to_string(user % 3);
  }
  rig.configure(old_db, rig.database(rig.shards({0, 1, 2}), {{"type", "modulo"}}));
  rig.write_target(rig.database(rig.shards({0, 1, 2}), {{"type", "lookup"}, {"map", map}}));
  std::map<std::string, std::uint64_t> unowned_per_shard;
  for (int user = 1; user <= 60; ++user) {
    const auto shard = rig.old_owner({std::to_string(user)});
    rig.fleet.execute(shard, "INSERT INTO orders VALUES (" + std::to_string(user) + ", 1, 'n', 1)");
    if (user > 40) {
      ++unowned_per_shard["s" + std::to_string(shard)];
    }
  }
  const auto run = rig.rebalance({"--plan"});
  INFO(run.out, run.err);
  CHECK(run.exit_code == 1);
  const auto plan = Rig::parse_document(run.out);
  std::map<std::string, std::uint64_t> reported;
  for (const auto& entry : plan.at("unowned")) {
    CHECK(entry.at("table") == "orders");
    reported[entry.at("shard").get<std::string>()] += entry.at("rows").get<std::uint64_t>();
    CHECK_FALSE(entry.at("samples").empty());
  }
  CHECK(reported == unowned_per_shard);
  CHECK(plan.at("rows_scanned") == 60);
  // The copy refuses to start a rebalance that would lose them.
  refused(rig.rebalance({}), {"no shard under the target"});
  rig.check_no_objects();
}

TEST_CASE("rebalance: --abort while an application writes leaves the shards as the old config has them") {
  Rig rig(3, "rb_abort_live");
  rig.configure(rig.database(rig.shards({0, 1}), ring()), rig.database(rig.shards({0, 1, 2}), ring()));
  std::mt19937 rng(23);
  rig.seed_orders(500, 100000, rng);
  {
    rb::Writer writer(rig, 24, 110000);
    REQUIRE(writer.wait_ops(30));
    CHECK(rig.rebalance_ok({"--batch-size", "100", "--max-rows-per-sec", "3000"}).at("phase") == "copied");
    REQUIRE(writer.wait_ops(writer.ops() + 30));
    CHECK(rig.rebalance_ok({"--abort"}).at("phase") == "aborted");
    REQUIRE(writer.wait_ops(writer.ops() + 30));
    writer.stop();
    CHECK(writer.errors() == std::vector<std::string>{});
    CHECK(writer.fenced() == 0);
  }
  CHECK(rig.count(2, "orders") == 0);
  CHECK(rig.count(2, "order_items") == 0);
  rig.verify_final(false);
}

} // namespace grant_test_rebalance_refusals_cli_test
