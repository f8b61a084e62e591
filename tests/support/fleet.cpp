#include "support/fleet.hpp"

#include "support/pg_session.hpp"

namespace grant::test {

ShardFleet::ShardFleet(int shards, const std::string& prefix, bool sharding) {
  nlohmann::json list = nlohmann::json::array();
  for (int i = 0; i < shards; ++i) {
    m_urls.push_back(fresh_database(shard_url(i % 4), prefix));
    list.push_back({{"name", "s" + std::to_string(i)}, {"url", m_urls.back()}});
  }
  m_config["databases"]["orders"] = {{"shards", list}, {"migrations", "db/migrate/orders"}};
  if (sharding) {
    m_config["databases"]["orders"]["sharding"] = {{"key", "user_id"}, {"resolver", {{"type", "modulo"}}}};
  }
  save();
  std::filesystem::create_directories(dir / "db/migrate/orders");
}

void ShardFleet::save() const {
  dir.write("grant.json", m_config.dump(2));
}

void ShardFleet::route(int index, const std::string& url) {
  m_config["databases"]["orders"]["shards"][static_cast<std::size_t>(index)]["url"] = url;
  save();
}

void ShardFleet::file(const std::string& name, const std::string& text) const {
  dir.write("db/migrate/orders/" + name, text);
}

RunResult ShardFleet::grant(const std::vector<std::string>& args,
                            const std::map<std::string, std::optional<std::string>>& env) const {
  return run_grant(args, dir.path(), env);
}

std::string ShardFleet::scalar(int shard, const std::string& sql) const {
  return pg_scalar(url(shard), sql);
}

void ShardFleet::execute(int shard, const std::string& sql) const {
  pg_execute(url(shard), sql);
}

bool ShardFleet::has_table(int shard, const std::string& name) const {
  return scalar(shard, "SELECT to_regclass('" + name + "') IS NOT NULL") == "t";
}

int ShardFleet::applied_count(int shard) const {
  return has_table(shard, "schema_migrations") ? std::stoi(scalar(shard, "SELECT count(*) FROM schema_migrations")) : 0;
}

int ShardFleet::prepared(int shard) const {
  return std::stoi(scalar(shard, "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database() "
                                 "AND gid LIKE 'grant:%'"));
}

int ShardFleet::decisions(int shard) const {
  return has_table(shard, "grant_atomic_decisions")
             ? std::stoi(scalar(shard, "SELECT count(*) FROM grant_atomic_decisions"))
             : 0;
}

std::string table_migration(const std::string& table) {
  return "-- grant:up\nCREATE TABLE " + table + " (id bigint PRIMARY KEY);\nINSERT INTO " + table +
         " VALUES (1);\n-- grant:down\nDROP TABLE " + table + ";\n";
}

} // namespace grant::test
