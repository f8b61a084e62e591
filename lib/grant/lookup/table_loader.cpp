#include <grant/lookup/table_loader.hpp>

namespace grant::lookup {

shard::LookupLoader table_loader(registry::Registry& registry) {
  return [&registry](const config::ResolverSettings& settings) {
    const auto& table = settings.params.at("table");
    const auto database = table.at("database").get<std::string>();
    auto connection = registry.writer(database).checkout();
    const auto sql = "SELECT " + connection->quote_identifier(table.at("key_column").get<std::string>()) + ", " +
                     connection->quote_identifier(table.at("shard_column").get<std::string>()) + " FROM " +
                     connection->quote_qualified(table.at("name").get<std::string>());
    shard::LookupRows rows;
    connection->stream(sql, [&](const db::RowView& row) {
      if (!row.nulls[0] && !row.nulls[1]) {
        rows.emplace_back(std::string(row.fields[0]), std::string(row.fields[1]));
      }
    });
    return rows;
  };
}

} // namespace grant::lookup
