// The bodies of rebalance_rig.hpp: the rig, the model and the checks of the rebalance tests
// (running the binary is in rebalance_run.cpp, the writer in rebalance_writer.cpp).
#include "rebalance_rig.hpp"

#include "support/pg_session.hpp"

namespace rb {

std::vector<TableSpec> orders_tables() {
  return {{"orders", {"user_id", "id"}, 1, {"note", "amount"}},
          {"order_items", {"user_id", "order_id", "n"}, 1, {"qty"}}};
}

std::size_t Model::size() {
  std::lock_guard lock(mutex);
  std::size_t n = 0;
  for (const auto& [name, rows] : tables) {
    n += rows.size();
  }
  return n;
}

Value random_note(std::mt19937& rng) {
  static const std::vector<std::string> parts{"plain",       "it's",       "tab\there",   "line\nbreak", "back\\slash",
                                              "caf\xc3\xa9", "\"quoted\"", "comma,semi;", "  spaces  ",  "\\N"};
  if (rng() % 10 == 0) {
    return std::nullopt;
  }
  return parts[rng() % parts.size()] + "-" + std::to_string(rng() % 100000);
}

Rig::Rig(int databases, const std::string& prefix, std::vector<TableSpec> table_specs,
         std::vector<std::pair<std::string, std::string>> migrations)
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

Json Rig::shards(std::initializer_list<int> indexes) const {
  Json out = Json::array();
  for (const int i : indexes) {
    out.push_back({{"name", "s" + std::to_string(i)}, {"url", fleet.url(i)}});
  }
  return out;
}

Json Rig::database(Json shard_list, Json resolver, Json key) const {
  Json names = Json::array();
  for (const auto& table : tables) {
    names.push_back(table.name);
  }
  return {{"shards", std::move(shard_list)},
          {"migrations", "db/migrate/orders"},
          {"sharding", {{"key", std::move(key)}, {"tables", names}, {"resolver", std::move(resolver)}}}};
}

void Rig::configure(const Json& old_database, const Json& target_database) {
  m_old = load("old.json", old_database);
  m_target = load("target.json", target_database);
  m_old_resolver = grant::shard::make_resolver(*m_old.find("orders"));
  m_target_resolver = grant::shard::make_resolver(*m_target.find("orders"));
}

void Rig::write_target(const Json& target_database) const {
  fleet.dir.write("target.json", Json{{"databases", {{"orders", target_database}}}}.dump(2));
}

grant::shard::Key Rig::key_of(const Pk& pk, std::size_t parts) {
  std::vector<std::string_view> views(pk.begin(), pk.begin() + static_cast<std::ptrdiff_t>(parts));
  return grant::shard::Key::from_text(views);
}

int Rig::old_owner(const Pk& pk, std::size_t parts) const {
  return index_of(m_old_resolver->resolve_name(key_of(pk, parts)));
}

int Rig::target_owner(const Pk& pk, std::size_t parts) const {
  return index_of(m_target_resolver->resolve_name(key_of(pk, parts)));
}

Outcome Rig::rebalance(const std::vector<std::string>& args, bool json,
                       std::optional<std::chrono::microseconds> kill_at) const {
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

Json Rig::rebalance_ok(const std::vector<std::string>& args) const {
  const auto outcome = rebalance(args);
  INFO("rebalance ", Json(args).dump(), " -> ", outcome.exit_code, "\nstdout: ", outcome.out,
       "\nstderr: ", outcome.err);
  REQUIRE(outcome.exit_code == 0);
  return parse_document(outcome.out);
}

Json Rig::parse_document(const std::string& text) {
  try {
    return Json::parse(text);
  } catch (const std::exception& error) {
    FAIL("stdout is not one JSON document (" << error.what() << "): " << text);
  }
  return {};
}

Outcome Rig::grant(const std::vector<std::string>& args) const {
  auto outcome = run_binary(args, fleet.dir.path());
  CHECK_FALSE(contains(outcome.out + outcome.err, password()));
  return outcome;
}

void Rig::seed_orders(int users, std::int64_t max_user, std::mt19937& rng) {
  std::set<std::int64_t> chosen;
  std::uniform_int_distribution<std::int64_t> pick(1, max_user);
  while (static_cast<int>(chosen.size()) < users) {
    chosen.insert(pick(rng));
  }
  std::map<int, std::vector<std::string>> orders;
  std::map<int, std::vector<std::string>> items;
  const auto quoting = grant::test::pg_session(fleet.url(0));
  std::lock_guard lock(model.mutex);
  for (const auto user : chosen) {
    const int shard = old_owner({std::to_string(user)});
    const int count = 1 + static_cast<int>(rng() % 3);
    for (int o = 0; o < count; ++o) {
      const auto id = next_id++;
      const auto note = random_note(rng);
      const auto amount = static_cast<int>(rng() % 10000);
      orders[shard].push_back("(" + std::to_string(user) + "," + std::to_string(id) + "," +
                              (note ? quoting->quote(*note) : "NULL") + "," + std::to_string(amount) + ")");
      model.tables["orders"][{std::to_string(user), std::to_string(id)}] = {note, std::to_string(amount)};
      const int n_items = static_cast<int>(rng() % 3);
      for (int n = 1; n <= n_items; ++n) {
        const auto qty = static_cast<int>(1 + rng() % 50);
        items[shard].push_back("(" + std::to_string(user) + "," + std::to_string(id) + "," + std::to_string(n) + "," +
                               std::to_string(qty) + ")");
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

void Rig::insert_values(int shard, const std::string& into, const std::vector<std::string>& values) const {
  const auto session = grant::test::pg_session(fleet.url(shard));
  pqxx::work work(*session);
  for (std::size_t at = 0; at < values.size(); at += 500) {
    std::string sql = "INSERT INTO " + into + " VALUES ";
    for (std::size_t i = at; i < std::min(values.size(), at + 500); ++i) {
      sql += (i == at ? "" : ",") + values[i];
    }
    work.exec(sql);
  }
  work.commit();
}

std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> Rig::expected_moves() {
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

void Rig::check_plan(const Json& plan) {
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

std::vector<std::string> Rig::grant_objects(int db) const {
  const auto session = grant::test::pg_session(fleet.url(db));
  pqxx::nontransaction work(*session);
  std::vector<std::string> out;
  const auto rows =
      work.exec("SELECT 'relation ' || relname FROM pg_class WHERE relname LIKE 'grant\\_rebalance%' "
                // The record of how the last rebalance ended stays (docs/commands/rebalance.md).
                "AND relname NOT LIKE 'grant\\_rebalance\\_finished%' "
                "UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE proname LIKE 'grant\\_rebalance%' "
                "UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgname LIKE 'grant\\_rebalance%'");
  for (const auto& row : rows) {
    out.emplace_back(row[0].c_str());
  }
  return out;
}

int Rig::prepared_xacts(int db) const {
  return std::stoi(fleet.scalar(db, "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()"));
}

std::uint64_t Rig::count(int db, const std::string& table) const {
  return std::stoull(fleet.scalar(db, "SELECT count(*) FROM " + table));
}

std::map<Pk, Row> Rig::read_table(int db, const TableSpec& table) const {
  std::string select = "SELECT ";
  bool first = true;
  for (const auto* columns : {&table.pk, &table.values}) {
    for (const auto& column : *columns) {
      select += (first ? "" : ", ") + column + "::text";
      first = false;
    }
  }
  const auto session = grant::test::pg_session(fleet.url(db));
  pqxx::nontransaction work(*session);
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

void Rig::verify_final(bool under_target) {
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
            samples.push_back("s" + std::to_string(db) + " " + Json(pk).dump() + " = " + got.dump() + ", model " +
                              want.dump());
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
          samples.push_back("lost " + Json(pk).dump() + " (belongs on s" + std::to_string(owner(pk, table.key_parts)) +
                            ")");
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

void Rig::check_no_objects() const {
  for (int db = 0; db < fleet.size(); ++db) {
    CAPTURE(db);
    CHECK(grant_objects(db) == std::vector<std::string>{});
  }
}

grant::config::Config Rig::load(const std::string& name, const Json& database) const {
  const auto text = Json{{"databases", {{"orders", database}}}}.dump(2);
  const auto path = fleet.dir.write(name, text);
  return grant::config::parse(text, path, grant::config::process_env());
}

void expect_fenced(const Rig& rig, int old_shard, const std::string& sql, const std::string& new_shard) {
  CAPTURE(sql);
  CAPTURE(old_shard);
  const auto session = grant::test::pg_session(rig.fleet.url(old_shard));
  pqxx::work work(*session);
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
