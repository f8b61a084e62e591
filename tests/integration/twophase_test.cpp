// twophase::DistributedTransaction as an application uses it: its own connections to three
// servers, one decision log, work in parallel, all or none.
#include <grant/db/connection.hpp>
#include <grant/twophase/recovery.hpp>
#include <grant/twophase/transaction.hpp>

#include "support/fault_proxy.hpp"
#include "support/fleet.hpp"

#include <doctest/doctest.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_twophase_test {

using namespace grant;
using grant::test::FaultProxy;
using grant::test::ShardFleet;

namespace {

std::unique_ptr<db::Connection> open(const std::string& url) {
  return db::connect(util::parse_database_url(url, {}), {"t", 5000, "grant-test"});
}

} // namespace

TEST_CASE("twophase::DistributedTransaction") {
  ShardFleet fleet(3, "twophase");
  for (int i = 0; i < 3; ++i) {
    fleet.execute(i, "CREATE TABLE ledger (id int PRIMARY KEY, amount int NOT NULL CHECK (amount >= 0))");
  }
  std::vector<std::unique_ptr<db::Connection>> sessions;
  std::vector<twophase::Participant> participants;
  for (int i = 0; i < 3; ++i) {
    sessions.push_back(open(fleet.url(i)));
    participants.push_back({"s" + std::to_string(i), sessions.back().get()});
  }
  twophase::DecisionLog log(*sessions[0]);
  log.ensure();

  SUBCASE("work on every participant commits on all") {
    twophase::DistributedTransaction transaction("ledger", "transfer", {"s0", &log}, participants);
    transaction.begin();
    transaction.run([](std::size_t i, db::Connection& connection) {
      connection.query("INSERT INTO ledger VALUES ($1, 10)", {std::to_string(i)});
    });
    transaction.commit();
    for (int i = 0; i < 3; ++i) {
      CHECK(fleet.scalar(i, "SELECT count(*) FROM ledger") == "1");
      CHECK(fleet.prepared(i) == 0);
    }
    CHECK(fleet.decisions(0) == 0);
    for (const auto state : transaction.states()) {
      CHECK(state == twophase::State::committed);
    }
  }

  SUBCASE("a failing participant rolls every one back, and the error comes out") {
    twophase::DistributedTransaction transaction("ledger", "transfer", {"s0", &log}, participants);
    transaction.begin();
    CHECK_THROWS_AS(transaction.run([](std::size_t i, db::Connection& connection) {
      connection.query("INSERT INTO ledger VALUES (1, $1)", {i == 2 ? "-5" : "5"}); // s2 breaks the CHECK
    }),
                    db::DbError);
    for (int i = 0; i < 3; ++i) {
      CHECK(fleet.scalar(i, "SELECT count(*) FROM ledger") == "0");
      CHECK(fleet.prepared(i) == 0);
    }
  }

  SUBCASE("a participant cut off at COMMIT PREPARED stays in doubt; resolve commits it from the log") {
    FaultProxy proxy(fleet.url(1));
    auto cut = open(proxy.url());
    participants[1].connection = cut.get();
    proxy.add_rule("COMMIT PREPARED", FaultProxy::Action::drop_before, -1);
    std::string gid;
    {
      twophase::DistributedTransaction transaction("ledger", "transfer", {"s0", &log}, participants);
      transaction.begin();
      transaction.run([](std::size_t i, db::Connection& connection) {
        connection.query("INSERT INTO ledger VALUES ($1, 1)", {std::to_string(i)});
      });
      CHECK_THROWS_AS(transaction.commit(), twophase::InDoubtError);
      CHECK(transaction.states()[1] == twophase::State::in_doubt);
      gid = transaction.gid(1);
    } // the destructor must not roll back a participant whose commit decision stands
    CHECK(fleet.prepared(1) == 1);
    CHECK(fleet.scalar(0, "SELECT count(*) FROM ledger") == "1");
    auto fresh = open(fleet.url(1));
    const auto prepared = twophase::list_prepared(*fresh);
    REQUIRE(prepared.size() == 1);
    CHECK(prepared[0].gid == gid);
    const auto resolution =
        twophase::resolve(*fresh, *twophase::parse_gid(gid), log, twophase::Mode::by_decision, false, false);
    CHECK(resolution.action == "commit");
    CHECK(fleet.scalar(1, "SELECT count(*) FROM ledger") == "1");
    CHECK(fleet.prepared(1) == 0);
  }

  SUBCASE("a run of transactions: each decision insert deletes the rows of those that finished before") {
    std::vector<std::string> finished;
    std::vector<std::string> keys;
    for (int round = 0; round < 3; ++round) {
      twophase::Options options;
      options.finished = &finished;
      twophase::DistributedTransaction transaction("ledger", "v" + std::to_string(round), {"s0", &log}, participants,
                                                   std::move(options));
      transaction.execute([&](std::size_t i, db::Connection& connection) {
        connection.query("INSERT INTO ledger VALUES ($1, 1)", {std::to_string(10 * round + static_cast<int>(i))});
        transaction.prepare_with(i, "UPDATE ledger SET amount = amount + 1;");
      });
      keys.push_back(transaction.decision_key());
      CHECK(finished == std::vector<std::string>{keys.back()});
      CHECK(fleet.decisions(0) == 1); // this round's row; the one before went with its insert
      CHECK(log.read(keys.back()) == twophase::Decision::commit);
    }
    log.forget(finished);
    CHECK(fleet.decisions(0) == 0);
    for (int i = 0; i < 3; ++i) {
      CHECK(fleet.scalar(i, "SELECT count(*) || ' ' || sum(amount) FROM ledger") ==
            "3 9"); // 4 + 3 + 2: each round adds a row and 1 to every row
      CHECK(fleet.prepared(i) == 0);
    }
  }

  SUBCASE("a failure in what rides with PREPARE rolls every participant back") {
    twophase::DistributedTransaction transaction("ledger", "bad", {"s0", &log}, participants);
    CHECK_THROWS_AS(transaction.execute([&](std::size_t i, db::Connection& connection) {
      connection.query("INSERT INTO ledger VALUES ($1, 1)", {std::to_string(i)});
      transaction.prepare_with(i, i == 1 ? "UPDATE ledger SET amount = -1;" : "SELECT 1;"); // s1 breaks the CHECK
    }),
                    db::DbError);
    for (int i = 0; i < 3; ++i) {
      CHECK(fleet.scalar(i, "SELECT count(*) FROM ledger") == "0");
      CHECK(fleet.prepared(i) == 0);
      CHECK(sessions[static_cast<std::size_t>(i)]->query("SELECT 1").scalar() == db::Value{"1"}); // usable again
    }
    CHECK(fleet.decisions(0) == 0);
  }

  SUBCASE("settle fences off a late commit decision") {
    CHECK(log.settle("grant:ledger:x@s0", twophase::Decision::abort) == twophase::Decision::abort);
    CHECK_THROWS(log.record_commit("grant:ledger:x@s0"));
    CHECK(log.settle("grant:ledger:x@s0", twophase::Decision::commit) == twophase::Decision::abort);
    CHECK(log.read("grant:ledger:x@s0") == twophase::Decision::abort);
    log.forget("grant:ledger:x@s0");
    CHECK(log.read("grant:ledger:x@s0") == twophase::Decision::none);
  }
}

} // namespace grant_test_twophase_test
