// grant's routing library from an application: the load balancer, routing by shard key, a
// prevent-writes scope, read-your-writes and a cross-shard transaction, against the servers of
// tests/servers.sh (their URLs come from the GRANT_TEST_PG_* variables it writes).
//
//   source /tmp/grant-pg/env && build/examples/grant-example-routing
#include <grant/config/load.hpp>
#include <grant/db/error.hpp>
#include <grant/health/monitor.hpp>
#include <grant/registry/registry.hpp>
#include <grant/route/router.hpp>
#include <grant/twophase/transaction.hpp>
#include <grant/util/url.hpp>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

using grant::registry::Role;

namespace {

// Every string is a ${VAR}: the config loader reads the environment, and names a missing one.
constexpr const char* k_config = R"({"databases": {
  "app": {
    "url": "${GRANT_TEST_PG_WRITER_URL}",
    "replicas": [{"name": "r1", "url": "${GRANT_TEST_PG_REPLICA_URL}"}],
    "health": {"max_lag_ms": 10000},
    "balancer": {"strategy": "round_robin", "failure_threshold": 3, "cooldown_ms": 2000},
    "routing": {"read_your_writes": "lsn"}
  },
  "orders": {
    "shards": [{"name": "s0", "url": "${GRANT_TEST_PG_SHARD0_URL}"}, {"name": "s1", "url": "${GRANT_TEST_PG_SHARD1_URL}"}],
    "sharding": {"key": "user_id", "resolver": {"type": "modulo"}}
  }
}})";

void say(const std::string& line) {
  std::printf("%s\n", grant::util::redact_secrets(line).c_str());
}

std::string value(const grant::db::Rows& rows) {
  return rows.scalar().value_or("NULL");
}

int run() {
  const auto config = grant::config::parse(k_config, std::filesystem::current_path() / "routing-example.json",
                                           grant::config::process_env());
  grant::registry::Registry registry(config);
  for (const auto& endpoint : grant::registry::endpoints_of(config.databases[0])) {
    say("endpoint " + endpoint.label() + ": " + endpoint.url.redacted());
  }

  // 1. The load balancer, over the health monitor's verdicts (one round, checked now).
  std::vector<const grant::config::Database*> databases{&config.databases[0]};
  grant::health::Monitor monitor(databases, {});
  monitor.check_now();
  grant::route::RouterOptions options;
  options.health = grant::route::from_monitor(monitor);
  grant::route::Router router(registry, options);
  const auto pick = router.balancer("app").pick();
  say("balancer: a read of app goes to " + pick.endpoint->label() +
      (pick.is_writer() ? " (writer, " + std::string(grant::route::fallback_name(pick.fallback)) + ")" : " (replica)"));

  router.with_connection("app", Role::writing, {}, [](grant::route::Session& session) {
    session.execute("CREATE TABLE IF NOT EXISTS example_notes (id bigserial PRIMARY KEY, body text NOT NULL)");
  });

  // 2. Prevent writes: a reading scope refuses a write before it reaches any server.
  router.with_connection("app", Role::reading, {}, [](grant::route::Session& session) {
    try {
      session.execute("INSERT INTO example_notes (body) VALUES ('never')");
      say("prevent-writes: FAILED, the insert went through");
    } catch (const grant::route::WriteRefused& refused) {
      say("prevent-writes: refused " + refused.keyword() + " on " + session.endpoint().label());
    }
  });

  // 3. Read-your-writes: the read right after the write sees it, wherever it is served.
  const auto id = router.with_connection("app", Role::writing, {}, [](grant::route::Session& session) {
    return value(session.query("INSERT INTO example_notes (body) VALUES ('hello') RETURNING id"));
  });
  const auto seen = router.with_connection("app", Role::reading, {}, [&](grant::route::Session& session) {
    const auto found = value(session.query("SELECT count(*) FROM example_notes WHERE id = $1", {id}));
    say(std::string("read-your-writes: note ") + id + " read from " + session.endpoint().label() +
        (session.kept_on_writer() ? " (kept on the writer until the replica replays it)" : "") +
        (found == "1" ? ": found" : ": MISSING"));
    return found == "1";
  });

  // 4. Routing by shard key: each user's rows go to the shard the resolver names.
  for (const auto& shard : {"s0", "s1"}) {
    router.with_connection("orders", Role::writing, shard, [](grant::route::Session& session) {
      session.execute("CREATE TABLE IF NOT EXISTS example_accounts (user_id bigint PRIMARY KEY, balance int NOT NULL "
                      "CHECK (balance >= 0));"
                      "DELETE FROM example_accounts");
    });
  }
  for (const std::int64_t user : {1, 2}) {
    router.with_key("orders", grant::shard::Key::from_integer(user), Role::writing,
                    [&](grant::route::Session& session) {
                      session.query("INSERT INTO example_accounts VALUES ($1, 100)", {std::to_string(user)});
                      say("scoped routing: user " + std::to_string(user) + " lives on " + session.endpoint().label());
                    });
  }

  // 5. A cross-shard transaction: 10 from user 2 (s0) to user 1 (s1), all or none.
  router.across_shards("orders", {}, [](const std::string& shard, grant::db::Connection& connection) {
    connection.query(shard == "s0" ? "UPDATE example_accounts SET balance = balance - 10 WHERE user_id = 2"
                                   : "UPDATE example_accounts SET balance = balance + 10 WHERE user_id = 1");
  });
  std::string balances;
  for (const std::int64_t user : {1, 2}) {
    balances += router.with_key("orders", grant::shard::Key::from_integer(user), Role::reading,
                                [&](grant::route::Session& session) {
                                  return " user " + std::to_string(user) + "=" +
                                         value(session.query("SELECT balance FROM example_accounts WHERE user_id = $1",
                                                             {std::to_string(user)}));
                                });
  }
  say("cross-shard transaction: committed on s0 and s1:" + balances);
  const bool moved = balances == " user 1=110 user 2=90";

  const auto stats = router.stats();
  say("router: " + std::to_string(stats.writes_noted) + " writes noted, " + std::to_string(stats.kept_on_writer) +
      " reads kept on the writer, " + std::to_string(stats.replay_checks) + " replay checks");
  if (!seen || !moved) {
    say("example: FAILED");
    return 1;
  }
  say("example: done");
  return 0;
}

} // namespace

int main() {
  try {
    return run();
  } catch (const grant::twophase::InDoubtError& error) {
    std::fprintf(stderr, "example: in doubt: %s\n", grant::util::redact_secrets(error.what()).c_str());
  } catch (const grant::Error& error) {
    std::fprintf(stderr, "example: error: %s (%s)\n", grant::util::redact_secrets(error.what()).c_str(),
                 grant::util::redact_secrets(error.where()).c_str());
    return error.exit_code();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "example: error: %s\n", grant::util::redact_secrets(error.what()).c_str());
  }
  return 3;
}
