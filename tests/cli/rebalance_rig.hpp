// What the `grant rebalance` end-to-end tests share: a fleet of fresh shard databases with an
// old and a target config over them, an in-memory model of every row, a writer thread that
// writes the way an application still on the old config does (straight to the shard the old
// config's resolver picks), and the final comparison of the shards with the model.
//
// Shard names are "sN" and shard sN is the fleet's database N, in both configs.
#pragma once

#include "rebalance_writer.hpp"
#include "support/fleet.hpp"
#include "support/support.hpp"

#include <grant/config/load.hpp>
#include <grant/shard/resolver.hpp>

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace rb {

using Json = nlohmann::json;
using Value = std::optional<std::string>;
using Row = std::vector<Value>;      ///< the value columns, as text (nullopt = NULL)
using Pk = std::vector<std::string>; ///< the primary key columns, as text
using Clock = std::chrono::steady_clock;
using grant::test::contains;
using grant::test::RunResult;

/// The test servers' password: it must never show in grant's output.
inline std::string password() {
  return grant::test::server_env("GRANT_TEST_PG_PASSWORD");
}

struct TableSpec {
  std::string name;
  std::vector<std::string> pk; ///< the first `key_parts` of them are the shard key
  std::size_t key_parts = 1;
  std::vector<std::string> values; ///< the other columns
};

/// orders and order_items, sharded by user_id.
std::vector<TableSpec> orders_tables();

inline const char* k_orders_migration =
    "-- grant:up\n"
    "CREATE TABLE orders (user_id bigint, id bigint, note text, amount int, PRIMARY KEY (user_id, id));\n"
    "-- grant:down\n"
    "DROP TABLE orders;\n";
inline const char* k_items_migration = "-- grant:up\n"
                                       "CREATE TABLE order_items (user_id bigint, order_id bigint, n int, qty int,\n"
                                       "  PRIMARY KEY (user_id, order_id, n),\n"
                                       "  FOREIGN KEY (user_id, order_id) REFERENCES orders ON DELETE CASCADE);\n"
                                       "-- grant:down\n"
                                       "DROP TABLE order_items;\n";

/// Every row the shards should hold, per table, by primary key.
struct Model {
  std::mutex mutex;
  std::map<std::string, std::map<Pk, Row>> tables;

  std::size_t size();
};

/// A note with the characters that trip text encodings: quotes, tab, newline, backslash, UTF-8.
Value random_note(std::mt19937& rng);

/// What a run of the binary did; `killed` when the test SIGKILLed it.
struct Outcome {
  bool killed = false;
  int exit_code = -1;
  std::string out;
  std::string err;
  double seconds = 0;
};

/// Runs the built binary with stdout and stderr to files; SIGKILLs it after `kill_at` when given
/// (unless it exits first), and in any case after `timeout` (a hung run fails the test, it does
/// not hang it).
Outcome run_binary(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                   std::optional<std::chrono::microseconds> kill_at = std::nullopt,
                   std::chrono::seconds timeout = std::chrono::seconds(240));

/// One sharded database over a fleet: an old config (old.json) and a target (target.json).
class Rig {
public:
  Rig(int databases, const std::string& prefix, std::vector<TableSpec> table_specs = orders_tables(),
      std::vector<std::pair<std::string, std::string>> migrations = {{"1_orders.sql", k_orders_migration},
                                                                     {"2_order_items.sql", k_items_migration}});

  grant::test::ShardFleet fleet;
  std::vector<TableSpec> tables;
  Model model;

  /// {"name": "sN", "url": ...} for each N.
  Json shards(std::initializer_list<int> indexes) const;

  /// The database entry for a config: shards, the migrations folder, `sharding`.
  Json database(Json shard_list, Json resolver, Json key = "user_id") const;

  /// Writes old.json and target.json and builds both resolvers.
  void configure(const Json& old_database, const Json& target_database);
  /// Rewrites target.json only (the resolvers keep what configure() built).
  void write_target(const Json& target_database) const;

  const grant::shard::Resolver& old_resolver() const { return *m_old_resolver; }
  const grant::shard::Resolver& target_resolver() const { return *m_target_resolver; }

  static grant::shard::Key key_of(const Pk& pk, std::size_t parts);
  static int index_of(const std::string& shard_name) { return std::stoi(shard_name.substr(1)); }
  /// The fleet database that owns `pk` under the old / target config.
  int old_owner(const Pk& pk, std::size_t parts = 1) const;
  int target_owner(const Pk& pk, std::size_t parts = 1) const;
  bool moves(const Pk& pk, std::size_t parts = 1) const { return old_owner(pk, parts) != target_owner(pk, parts); }

  /// `grant --config old.json [--json] rebalance --database orders --target target.json ARGS`.
  Outcome rebalance(const std::vector<std::string>& args, bool json = true,
                    std::optional<std::chrono::microseconds> kill_at = std::nullopt) const;
  /// The same, to completion: exit 0 and its JSON document.
  Json rebalance_ok(const std::vector<std::string>& args) const;
  static Json parse_document(const std::string& text);

  Outcome grant(const std::vector<std::string>& args) const;

  /// Seeds `users` users with 1..3 orders each and 0..2 items per order, each on the shard the
  /// old config picks, into the model too. Integer keys spread over [1, max_user].
  void seed_orders(int users, std::int64_t max_user, std::mt19937& rng);

  void insert_values(int shard, const std::string& into, const std::vector<std::string>& values) const;

  /// What the plan should report: rows per (table, from, to) among the model's rows.
  std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> expected_moves();

  /// Checks a --plan document against the model.
  void check_plan(const Json& plan);

  /// Objects grant installed (named grant_rebalance*) in one database, as "kind name" lines;
  /// not the record of the last rebalance's end (grant_rebalance_finished), which stays.
  std::vector<std::string> grant_objects(int db) const;
  int prepared_xacts(int db) const;
  std::uint64_t count(int db, const std::string& table) const;

  /// Every row of `table` in one database.
  std::map<Pk, Row> read_table(int db, const TableSpec& table) const;

  /// The final state: every fleet database against the model under the TARGET config (or the
  /// old one, after --abort). Zero rows lost, duplicated or misplaced, values equal, nothing
  /// prepared, no grant_rebalance* object, and shard-check agrees.
  void verify_final(bool under_target = true);

  /// No database of the fleet holds a grant_rebalance* object.
  void check_no_objects() const;

  std::atomic<std::int64_t> next_id{1};

private:
  grant::config::Config load(const std::string& name, const Json& database) const;

  grant::config::Config m_old;
  grant::config::Config m_target;
  std::unique_ptr<grant::shard::Resolver> m_old_resolver;
  std::unique_ptr<grant::shard::Resolver> m_target_resolver;
};

/// A fenced write: fails with SQLSTATE GR001 naming the new shard and saying to reload.
void expect_fenced(const Rig& rig, int old_shard, const std::string& sql, const std::string& new_shard);

} // namespace rb
