// What the `grant rebalance` end-to-end tests share: a fleet of fresh shard databases with an
// old and a target config over them, an in-memory model of every row, a writer thread that
// writes the way an application still on the old config does (straight to the shard the old
// config's resolver picks), and the final comparison of the shards with the model.
//
// Shard names are "sN" and shard sN is the fleet's database N, in both configs.
#pragma once

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
using Row = std::vector<Value>;        ///< the value columns, as text (nullopt = NULL)
using Pk = std::vector<std::string>;   ///< the primary key columns, as text
using Clock = std::chrono::steady_clock;
using grant::test::contains;
using grant::test::RunResult;

/// The test servers' password: it must never show in grant's output.
inline std::string password() { return grant::test::server_env("GRANT_TEST_PG_PASSWORD"); }

struct TableSpec {
  std::string name;
  std::vector<std::string> pk;     ///< the first `key_parts` of them are the shard key
  std::size_t key_parts = 1;
  std::vector<std::string> values; ///< the other columns
};

/// orders and order_items, sharded by user_id.
inline std::vector<TableSpec> orders_tables() {
  return {{"orders", {"user_id", "id"}, 1, {"note", "amount"}},
          {"order_items", {"user_id", "order_id", "n"}, 1, {"qty"}}};
}

inline const char* k_orders_migration =
    "-- grant:up\n"
    "CREATE TABLE orders (user_id bigint, id bigint, note text, amount int, PRIMARY KEY (user_id, id));\n"
    "-- grant:down\n"
    "DROP TABLE orders;\n";
inline const char* k_items_migration =
    "-- grant:up\n"
    "CREATE TABLE order_items (user_id bigint, order_id bigint, n int, qty int,\n"
    "  PRIMARY KEY (user_id, order_id, n),\n"
    "  FOREIGN KEY (user_id, order_id) REFERENCES orders ON DELETE CASCADE);\n"
    "-- grant:down\n"
    "DROP TABLE order_items;\n";

/// Every row the shards should hold, per table, by primary key.
struct Model {
  std::mutex mutex;
  std::map<std::string, std::map<Pk, Row>> tables;

  std::size_t size() {
    std::lock_guard lock(mutex);
    std::size_t n = 0;
    for (const auto& [name, rows] : tables) {
      n += rows.size();
    }
    return n;
  }
};

/// A note with the characters that trip text encodings: quotes, tab, newline, backslash, UTF-8.
inline Value random_note(std::mt19937& rng) {
  static const std::vector<std::string> parts{"plain", "it's", "tab\there", "line\nbreak", "back\\slash",
                                              "caf\xc3\xa9", "\"quoted\"", "comma,semi;", "  spaces  ", "\\N"};
  if (rng() % 10 == 0) {
    return std::nullopt;
  }
  return parts[rng() % parts.size()] + "-" + std::to_string(rng() % 100000);
}

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
inline Outcome run_binary(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                          std::optional<std::chrono::microseconds> kill_at = std::nullopt,
                          std::chrono::seconds timeout = std::chrono::seconds(240)) {
  static std::atomic<int> counter{0};
  const auto stem = cwd / (".run-" + std::to_string(counter++));
  const auto out_path = stem.string() + ".out";
  const auto err_path = stem.string() + ".err";
  std::vector<std::string> storage{GRANT_BINARY};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : storage) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  const auto started = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(null, 0);
    dup2(out, 1);
    dup2(err, 2);
    if (chdir(cwd.c_str()) != 0) {
      _exit(126);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  Outcome outcome;
  const auto kill_deadline = kill_at ? started + *kill_at : Clock::time_point::max();
  const auto hard_deadline = started + timeout;
  int status = 0;
  bool reaped = false;
  while (!reaped) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      reaped = true;
      break;
    }
    const auto now = Clock::now();
    if (now >= kill_deadline || now >= hard_deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      reaped = true;
      outcome.killed = now >= kill_deadline;
      if (!outcome.killed) {
        FAIL_CHECK("grant " << args.back() << " still running after " << timeout.count() << " s: killed");
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(kill_at ? 200 : 2000));
  }
  outcome.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (outcome.killed && !WIFSIGNALED(status)) {
    outcome.killed = false; // it exited on its own in the last instant
  }
  outcome.out = grant::test::read_file(out_path);
  outcome.err = grant::test::read_file(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return outcome;
}

/// One sharded database over a fleet: an old config (old.json) and a target (target.json).
class Rig {
public:
  Rig(int databases, const std::string& prefix, std::vector<TableSpec> table_specs = orders_tables(),
      std::vector<std::pair<std::string, std::string>> migrations = {{"1_orders.sql", k_orders_migration},
                                                                       {"2_order_items.sql", k_items_migration}})
      : fleet(databases, prefix), tables(std::move(table_specs)) {
    for (const auto& [name, text] : migrations) {
      fleet.file(name, text);
    }
    const auto migrated = fleet.grant({"migrate"});
    INFO(migrated.out, migrated.err);
    REQUIRE(migrated.exit_code == 0);
    for (const auto& table : tables) {
      model.tables[table.name];
    }
  }

  grant::test::ShardFleet fleet;
  std::vector<TableSpec> tables;
  Model model;

  /// {"name": "sN", "url": ...} for each N.
  Json shards(std::initializer_list<int> indexes) const {
    Json out = Json::array();
    for (const int i : indexes) {
      out.push_back({{"name", "s" + std::to_string(i)}, {"url", fleet.url(i)}});
    }
    return out;
  }

  /// The database entry for a config: shards, the migrations folder, `sharding`.
  Json database(Json shard_list, Json resolver, Json key = "user_id") const {
    Json names = Json::array();
    for (const auto& table : tables) {
      names.push_back(table.name);
    }
    return {{"shards", std::move(shard_list)},
            {"migrations", "db/migrate/orders"},
            {"sharding", {{"key", std::move(key)}, {"tables", names}, {"resolver", std::move(resolver)}}}};
  }

  /// Writes old.json and target.json and builds both resolvers.
  void configure(const Json& old_database, const Json& target_database) {
    m_old = load("old.json", old_database);
    m_target = load("target.json", target_database);
    m_old_resolver = grant::shard::make_resolver(*m_old.find("orders"));
    m_target_resolver = grant::shard::make_resolver(*m_target.find("orders"));
  }
  /// Rewrites target.json only (the resolvers keep what configure() built).
  void write_target(const Json& target_database) const {
    fleet.dir.write("target.json", Json{{"databases", {{"orders", target_database}}}}.dump(2));
  }

  const grant::shard::Resolver& old_resolver() const { return *m_old_resolver; }
  const grant::shard::Resolver& target_resolver() const { return *m_target_resolver; }

  static grant::shard::Key key_of(const Pk& pk, std::size_t parts) {
    std::vector<std::string_view> views(pk.begin(), pk.begin() + static_cast<std::ptrdiff_t>(parts));
    return grant::shard::Key::from_text(views);
  }
  static int index_of(const std::string& shard_name) { return std::stoi(shard_name.substr(1)); }
  /// The fleet database that owns `pk` under the old / target config.
  int old_owner(const Pk& pk, std::size_t parts = 1) const {
    return index_of(m_old_resolver->resolve_name(key_of(pk, parts)));
  }
  int target_owner(const Pk& pk, std::size_t parts = 1) const {
    return index_of(m_target_resolver->resolve_name(key_of(pk, parts)));
  }
  bool moves(const Pk& pk, std::size_t parts = 1) const { return old_owner(pk, parts) != target_owner(pk, parts); }

  /// `grant --config old.json [--json] rebalance --database orders --target target.json ARGS`.
  Outcome rebalance(const std::vector<std::string>& args, bool json = true,
                    std::optional<std::chrono::microseconds> kill_at = std::nullopt) const {
    std::vector<std::string> full{"--config", "old.json"};
    if (json) {
      full.push_back("--json");
    }
    for (const auto* part : {"rebalance", "--database", "orders", "--target", "target.json"}) {
      full.emplace_back(part);
    }
    full.insert(full.end(), args.begin(), args.end());
    auto outcome = run_binary(full, fleet.dir.path(), kill_at);
    CHECK_FALSE(contains(outcome.out + outcome.err, password()));
    return outcome;
  }
  /// The same, to completion: exit 0 and its JSON document.
  Json rebalance_ok(const std::vector<std::string>& args) const {
    const auto outcome = rebalance(args);
    INFO("rebalance ", Json(args).dump(), " -> ", outcome.exit_code, "\nstdout: ", outcome.out,
         "\nstderr: ", outcome.err);
    REQUIRE(outcome.exit_code == 0);
    return parse_document(outcome.out);
  }
  static Json parse_document(const std::string& text) {
    try {
      return Json::parse(text);
    } catch (const std::exception& error) {
      FAIL("stdout is not one JSON document (" << error.what() << "): " << text);
    }
    return {};
  }

  Outcome grant(const std::vector<std::string>& args) const {
    auto outcome = run_binary(args, fleet.dir.path());
    CHECK_FALSE(contains(outcome.out + outcome.err, password()));
    return outcome;
  }

  /// Seeds `users` users with 1..3 orders each and 0..2 items per order, each on the shard the
  /// old config picks, into the model too. Integer keys spread over [1, max_user].
  void seed_orders(int users, std::int64_t max_user, std::mt19937& rng) {
    std::set<std::int64_t> chosen;
    std::uniform_int_distribution<std::int64_t> pick(1, max_user);
    while (static_cast<int>(chosen.size()) < users) {
      chosen.insert(pick(rng));
    }
    std::map<int, std::vector<std::string>> orders;
    std::map<int, std::vector<std::string>> items;
    pqxx::connection quoting(fleet.url(0));
    std::lock_guard lock(model.mutex);
    for (const auto user : chosen) {
      const int shard = old_owner({std::to_string(user)});
      const int count = 1 + static_cast<int>(rng() % 3);
      for (int o = 0; o < count; ++o) {
        const auto id = next_id++;
        const auto note = random_note(rng);
        const auto amount = static_cast<int>(rng() % 10000);
        orders[shard].push_back("(" + std::to_string(user) + "," + std::to_string(id) + "," +
                                (note ? quoting.quote(*note) : "NULL") + "," + std::to_string(amount) + ")");
        model.tables["orders"][{std::to_string(user), std::to_string(id)}] = {note, std::to_string(amount)};
        const int n_items = static_cast<int>(rng() % 3);
        for (int n = 1; n <= n_items; ++n) {
          const auto qty = static_cast<int>(1 + rng() % 50);
          items[shard].push_back("(" + std::to_string(user) + "," + std::to_string(id) + "," + std::to_string(n) +
                                 "," + std::to_string(qty) + ")");
          model.tables["order_items"][{std::to_string(user), std::to_string(id), std::to_string(n)}] = {
              std::to_string(qty)};
        }
      }
    }
    for (auto& [shard, values] : orders) {
      insert_values(shard, "orders (user_id, id, note, amount)", values);
    }
    for (auto& [shard, values] : items) {
      insert_values(shard, "order_items (user_id, order_id, n, qty)", values);
    }
  }

  void insert_values(int shard, const std::string& into, const std::vector<std::string>& values) const {
    pqxx::connection connection(fleet.url(shard));
    pqxx::work work(connection);
    for (std::size_t at = 0; at < values.size(); at += 500) {
      std::string sql = "INSERT INTO " + into + " VALUES ";
      for (std::size_t i = at; i < std::min(values.size(), at + 500); ++i) {
        sql += (i == at ? "" : ",") + values[i];
      }
      work.exec(sql);
    }
    work.commit();
  }

  /// What the plan should report: rows per (table, from, to) among the model's rows.
  std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> expected_moves() {
    std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> out;
    std::lock_guard lock(model.mutex);
    for (const auto& table : tables) {
      for (const auto& [pk, row] : model.tables[table.name]) {
        const auto from = old_owner(pk, table.key_parts);
        const auto to = target_owner(pk, table.key_parts);
        if (from != to) {
          ++out[{table.name, "s" + std::to_string(from), "s" + std::to_string(to)}];
        }
      }
    }
    return out;
  }

  /// Checks a --plan document against the model.
  void check_plan(const Json& plan) {
    const auto expected = expected_moves();
    std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> reported;
    std::uint64_t moving = 0;
    for (const auto& move : plan.at("moves")) {
      const std::tuple<std::string, std::string, std::string> where{move.at("table"), move.at("from"), move.at("to")};
      CHECK_MESSAGE(reported.count(where) == 0, "one entry per (table, from, to): ", move.dump());
      reported[where] = move.at("rows").get<std::uint64_t>();
      CHECK(move.at("bytes").get<std::uint64_t>() > 0);
    }
    for (const auto& [where, rows] : expected) {
      moving += rows;
    }
    CHECK(reported == expected);
    CHECK(plan.at("database") == "orders");
    CHECK(plan.at("unowned").empty());
    CHECK(plan.at("rows_moving").get<std::uint64_t>() == moving);
    CHECK(plan.at("rows_scanned").get<std::uint64_t>() == model.size());
    CHECK(plan.at("bytes_moving").get<std::uint64_t>() > 0);
  }

  /// Objects grant installed (named grant_rebalance*) in one database, as "kind name" lines.
  std::vector<std::string> grant_objects(int db) const {
    pqxx::connection connection(fleet.url(db));
    pqxx::nontransaction work(connection);
    std::vector<std::string> out;
    const auto rows = work.exec(
        "SELECT 'relation ' || relname FROM pg_class WHERE relname LIKE 'grant\\_rebalance%' "
        "UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE proname LIKE 'grant\\_rebalance%' "
        "UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgname LIKE 'grant\\_rebalance%'");
    for (const auto& row : rows) {
      out.emplace_back(row[0].c_str());
    }
    return out;
  }
  int prepared_xacts(int db) const {
    return std::stoi(
        fleet.scalar(db, "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()"));
  }
  std::uint64_t count(int db, const std::string& table) const {
    return std::stoull(fleet.scalar(db, "SELECT count(*) FROM " + table));
  }

  /// Every row of `table` in one database.
  std::map<Pk, Row> read_table(int db, const TableSpec& table) const {
    std::string select = "SELECT ";
    bool first = true;
    for (const auto* columns : {&table.pk, &table.values}) {
      for (const auto& column : *columns) {
        select += (first ? "" : ", ") + column + "::text";
        first = false;
      }
    }
    pqxx::connection connection(fleet.url(db));
    pqxx::nontransaction work(connection);
    std::map<Pk, Row> out;
    for (const auto& row : work.exec(select + " FROM " + table.name)) {
      Pk pk;
      Row values;
      for (std::size_t i = 0; i < table.pk.size(); ++i) {
        pk.emplace_back(row[static_cast<int>(i)].c_str());
      }
      for (std::size_t i = table.pk.size(); i < row.size(); ++i) {
        const auto field = row[static_cast<int>(i)];
        values.push_back(field.is_null() ? Value() : Value(field.c_str()));
      }
      out[pk] = values;
    }
    return out;
  }

  /// The final state: every fleet database against the model under the TARGET config (or the
  /// old one, after --abort). Zero rows lost, duplicated or misplaced, values equal, nothing
  /// prepared, no grant_rebalance* object, and shard-check agrees.
  void verify_final(bool under_target = true) {
    const auto owner = [&](const Pk& pk, std::size_t parts) {
      return under_target ? target_owner(pk, parts) : old_owner(pk, parts);
    };
    std::lock_guard lock(model.mutex);
    for (const auto& table : tables) {
      CAPTURE(table.name);
      std::map<Pk, int> seen;
      std::size_t misplaced = 0;
      std::size_t wrong_value = 0;
      std::size_t unexpected = 0;
      std::vector<std::string> samples;
      const auto& expected = model.tables[table.name];
      for (int db = 0; db < fleet.size(); ++db) {
        for (const auto& [pk, values] : read_table(db, table)) {
          ++seen[pk];
          const auto it = expected.find(pk);
          if (it == expected.end()) {
            ++unexpected;
            if (samples.size() < 5) {
              samples.push_back("s" + std::to_string(db) + " holds a row the model lacks: " + Json(pk).dump());
            }
            continue;
          }
          if (owner(pk, table.key_parts) != db) {
            ++misplaced;
            if (samples.size() < 5) {
              samples.push_back("s" + std::to_string(db) + " holds " + Json(pk).dump() + " of s" +
                                std::to_string(owner(pk, table.key_parts)));
            }
          }
          if (values != it->second) {
            ++wrong_value;
            if (samples.size() < 5) {
              Json got = Json::array();
              Json want = Json::array();
              for (const auto& v : values) {
                got.push_back(v ? Json(*v) : Json());
              }
              for (const auto& v : it->second) {
                want.push_back(v ? Json(*v) : Json());
              }
              samples.push_back("s" + std::to_string(db) + " " + Json(pk).dump() + " = " + got.dump() +
                                ", model " + want.dump());
            }
          }
        }
      }
      std::size_t lost = 0;
      std::size_t duplicated = 0;
      for (const auto& [pk, values] : expected) {
        const auto it = seen.find(pk);
        if (it == seen.end()) {
          ++lost;
          if (samples.size() < 5) {
            samples.push_back("lost " + Json(pk).dump() + " (belongs on s" +
                              std::to_string(owner(pk, table.key_parts)) + ")");
          }
        } else if (it->second > 1) {
          ++duplicated;
        }
      }
      INFO("model rows: ", expected.size(), "; samples:\n", [&] {
        std::string text;
        for (const auto& s : samples) {
          text += "  " + s + "\n";
        }
        return text;
      }());
      CHECK(lost == 0);
      CHECK(duplicated == 0);
      CHECK(misplaced == 0);
      CHECK(wrong_value == 0);
      CHECK(unexpected == 0);
    }
    for (int db = 0; db < fleet.size(); ++db) {
      CAPTURE(db);
      CHECK(prepared_xacts(db) == 0);
      CHECK(grant_objects(db) == std::vector<std::string>{});
    }
    const auto check =
        grant({"--config", under_target ? "target.json" : "old.json", "shard-check", "--database", "orders"});
    INFO("shard-check: ", check.out, check.err);
    CHECK(check.exit_code == 0);
  }

  /// No database of the fleet holds a grant_rebalance* object.
  void check_no_objects() const {
    for (int db = 0; db < fleet.size(); ++db) {
      CAPTURE(db);
      CHECK(grant_objects(db) == std::vector<std::string>{});
    }
  }

  std::atomic<std::int64_t> next_id{1};

private:
  grant::config::Config load(const std::string& name, const Json& database) const {
    const auto text = Json{{"databases", {{"orders", database}}}}.dump(2);
    const auto path = fleet.dir.write(name, text);
    return grant::config::parse(text, path, grant::config::process_env());
  }

  grant::config::Config m_old;
  grant::config::Config m_target;
  std::unique_ptr<grant::shard::Resolver> m_old_resolver;
  std::unique_ptr<grant::shard::Resolver> m_target_resolver;
};

/// An application still on the old config: inserts, updates and deletes orders and items of
/// random users, each in its own transaction on the shard the old config picks, at most
/// `ops_per_sec` a second, and records what committed in the model. Without `new_children`,
/// items are only written for orders that existed when the writer started (a new order gets
/// none): the copy then never meets an item whose order exists only in the captured changes.
class Writer {
public:
  Writer(Rig& rig, unsigned seed, std::int64_t max_user, bool new_children = true, int ops_per_sec = 400)
      : m_rig(rig), m_rng(seed), m_max_user(max_user), m_new_children(new_children),
        m_first_new_id(rig.next_id.load()), m_period(std::chrono::microseconds(1000000 / ops_per_sec)),
        m_users(users_of(rig)), m_thread([this] { run(); }) {}
  ~Writer() { stop(); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void stop() {
    m_stop = true;
    if (m_thread.joinable()) {
      m_thread.join();
    }
  }
  int ops() const { return m_ops; }
  /// From now on, no items for orders created after the writer started.
  void stop_new_children() { m_new_children = false; }
  /// Writes the fence refused (SQLSTATE GR001).
  int fenced() const { return m_fenced; }
  /// Transactions aborted as deadlock victims (SQLSTATE 40P01); an application retries them.
  int deadlocks() const { return m_deadlocks; }
  /// Waits (polling) until at least `n` writes committed, up to `timeout`.
  bool wait_ops(int n, std::chrono::seconds timeout = std::chrono::seconds(30)) const {
    const auto deadline = Clock::now() + timeout;
    while (m_ops < n && Clock::now() < deadline && !m_failed) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return m_ops >= n;
  }
  std::vector<std::string> errors() const {
    std::lock_guard lock(m_errors_mutex);
    return m_errors;
  }

private:
  void run() {
    auto next = Clock::now();
    while (!m_stop && !m_failed) {
      try {
        step();
        ++m_ops;
      } catch (const pqxx::sql_error& error) {
        if (error.sqlstate() == "GR001") {
          ++m_fenced; // refused by the fence after cutover: rolled back, the model is right
        } else {
          std::lock_guard lock(m_errors_mutex);
          m_errors.emplace_back(error.what());
          m_failed = true;
        }
      } catch (const pqxx::deadlock_detected&) {
        ++m_deadlocks; // a deadlock victim against the cutover's locks: rolled back, the model is right
      } catch (const std::exception& error) {
        std::lock_guard lock(m_errors_mutex);
        m_errors.emplace_back(error.what());
        m_failed = true; // the outcome of the last write is unknown: the model can no longer be trusted
      }
      next += m_period;
      std::this_thread::sleep_until(next);
    }
  }

  pqxx::connection& connection(int shard) {
    auto& slot = m_connections[shard];
    if (!slot) {
      slot = std::make_unique<pqxx::connection>(m_rig.fleet.url(shard));
    }
    return *slot;
  }

  static std::vector<std::int64_t> users_of(Rig& rig) {
    std::set<std::int64_t> users;
    std::lock_guard lock(rig.model.mutex);
    for (const auto& [pk, row] : rig.model.tables["orders"]) {
      users.insert(std::stoll(pk[0]));
    }
    return {users.begin(), users.end()};
  }

  void step() {
    // Mostly users the shards hold rows of (updates, deletes, the fence), sometimes a new one.
    const bool known = !m_users.empty() && m_rng() % 5 != 0;
    const std::int64_t user = known ? m_users[m_rng() % m_users.size()]
                                    : std::uniform_int_distribution<std::int64_t>(1, m_max_user)(m_rng);
    if (!known) {
      m_users.push_back(user);
    }
    const auto user_text = std::to_string(user);
    const int shard = m_rig.old_owner({user_text});
    auto& model = m_rig.model;
    // An order of this user, if the model has one (the writer is the only one changing the model now).
    std::optional<Pk> order;
    {
      std::lock_guard lock(model.mutex);
      auto& orders = model.tables["orders"];
      // Pks compare as text: {user} sorts right before every pk of that user.
      for (auto at = orders.lower_bound({user_text}); at != orders.end() && at->first[0] == user_text; ++at) {
        order = at->first;
        if (m_rng() % 2 == 0) {
          break;
        }
      }
    }
    const int op = static_cast<int>(m_rng() % 10);
    pqxx::work work(connection(shard));
    if (!order || op < 3) {
      const auto id = m_rig.next_id++;
      const auto note = random_note(m_rng);
      const auto amount = static_cast<int>(m_rng() % 10000);
      const int n_items = m_new_children ? static_cast<int>(m_rng() % 3) : 0;
      std::vector<int> qty;
      work.exec_params("INSERT INTO orders (user_id, id, note, amount) VALUES ($1, $2, $3, $4)", user, id,
                       note ? note->c_str() : nullptr, amount);
      for (int n = 1; n <= n_items; ++n) {
        qty.push_back(static_cast<int>(1 + m_rng() % 50));
        work.exec_params("INSERT INTO order_items (user_id, order_id, n, qty) VALUES ($1, $2, $3, $4)", user, id, n,
                         qty.back());
      }
      work.commit();
      std::lock_guard lock(model.mutex);
      model.tables["orders"][{user_text, std::to_string(id)}] = {note, std::to_string(amount)};
      for (int n = 1; n <= n_items; ++n) {
        model.tables["order_items"][{user_text, std::to_string(id), std::to_string(n)}] = {
            std::to_string(qty[static_cast<std::size_t>(n - 1)])};
      }
      return;
    }
    const auto& id = (*order)[1];
    if (op < 6) { // update the order
      const auto note = random_note(m_rng);
      const auto amount = static_cast<int>(m_rng() % 10000);
      const auto result = work.exec_params("UPDATE orders SET note = $3, amount = $4 WHERE user_id = $1 AND id = $2",
                                           user, std::stoll(id), note ? note->c_str() : nullptr, amount);
      work.commit();
      if (result.affected_rows() == 1) {
        std::lock_guard lock(model.mutex);
        model.tables["orders"][*order] = {note, std::to_string(amount)};
      }
    } else if (op < 8 && (m_new_children || std::stoll(id) < m_first_new_id)) { // add or update an item
      const auto qty = static_cast<int>(1 + m_rng() % 50);
      const auto n = static_cast<int>(1 + m_rng() % 3);
      work.exec_params("INSERT INTO order_items (user_id, order_id, n, qty) VALUES ($1, $2, $3, $4) "
                       "ON CONFLICT (user_id, order_id, n) DO UPDATE SET qty = excluded.qty",
                       user, std::stoll(id), n, qty);
      work.commit();
      std::lock_guard lock(model.mutex);
      model.tables["order_items"][{user_text, id, std::to_string(n)}] = {std::to_string(qty)};
    } else if (op < 9) { // delete the order (its items go by cascade)
      work.exec_params("DELETE FROM orders WHERE user_id = $1 AND id = $2", user, std::stoll(id));
      work.commit();
      std::lock_guard lock(model.mutex);
      model.tables["orders"].erase(*order);
      auto& items = model.tables["order_items"];
      for (auto at = items.lower_bound({user_text, id}); at != items.end() && at->first[0] == user_text &&
                                                         at->first[1] == id;) {
        at = items.erase(at);
      }
    } else { // delete one item
      const auto n = static_cast<int>(1 + m_rng() % 3);
      work.exec_params("DELETE FROM order_items WHERE user_id = $1 AND order_id = $2 AND n = $3", user,
                       std::stoll(id), n);
      work.commit();
      std::lock_guard lock(model.mutex);
      model.tables["order_items"].erase({user_text, id, std::to_string(n)});
    }
  }

  Rig& m_rig;
  std::mt19937 m_rng;
  std::int64_t m_max_user;
  std::atomic<bool> m_new_children;
  std::int64_t m_first_new_id;
  std::chrono::microseconds m_period;
  std::vector<std::int64_t> m_users; ///< users the writer may pick again
  std::map<int, std::unique_ptr<pqxx::connection>> m_connections;
  std::atomic<bool> m_stop{false};
  std::atomic<bool> m_failed{false};
  std::atomic<int> m_ops{0};
  std::atomic<int> m_fenced{0};
  std::atomic<int> m_deadlocks{0};
  mutable std::mutex m_errors_mutex;
  std::vector<std::string> m_errors;
  std::thread m_thread; // last: starts once the rest is built
};

/// A fenced write: fails with SQLSTATE GR001 naming the new shard and saying to reload.
inline void expect_fenced(const Rig& rig, int old_shard, const std::string& sql, const std::string& new_shard) {
  CAPTURE(sql);
  CAPTURE(old_shard);
  pqxx::connection connection(rig.fleet.url(old_shard));
  pqxx::work work(connection);
  try {
    work.exec(sql);
    work.commit();
    FAIL_CHECK("the write on the old shard s" << old_shard << " went through after cutover");
  } catch (const pqxx::sql_error& error) {
    INFO("error: ", error.what());
    CHECK(error.sqlstate() == "GR001");
    CHECK(contains(error.what(), new_shard));
    CHECK(contains(error.what(), "reload the grant config"));
  }
}

} // namespace rb
