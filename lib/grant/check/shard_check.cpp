#include <grant/check/shard_check.hpp>

#include <grant/check/schema_skew.hpp>

#include <grant/lookup/table_loader.hpp>
#include <grant/migrate/tracking.hpp>
#include <grant/shard/heavy_hitters.hpp>
#include <grant/util/parallel_for.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iterator>
#include <map>
#include <mutex>
#include <set>

namespace grant::check {

using shard::HeavyHitters;
using shard::Key;
using shard::KeyError;
using shard::LintIssue;
using shard::Resolver;

namespace {

struct TableScan {
  std::map<std::pair<std::size_t, std::size_t>, Misplaced> misplaced; // (found, belongs) -> rows
  std::uint64_t rows = 0;
  std::uint64_t null_keys = 0;
  HeavyHitters heavy{256};
  std::string error;
  std::string resolver_error; ///< the resolver itself failed (a lookup table unreadable or invalid)
};

// Thrown out of the row callback to stop a scan when the resolver, not the shard, fails.
struct ResolverFailed {
  std::string message;
};

constexpr std::size_t k_unowned = static_cast<std::size_t>(-1);

void scan_table(ShardState& shard, const Resolver& resolver, const config::Database& database, const std::string& table,
                const CheckOptions& options, std::atomic<std::uint64_t>& progress, TableScan& scan) {
  auto& connection = *shard.connection;
  const auto& columns = *shard.tables.at(table);
  std::string select = "SELECT ";
  for (std::size_t i = 0; i < database.sharding->key.size(); ++i) {
    const auto& column = database.sharding->key[i];
    if (std::none_of(columns.begin(), columns.end(), [&](const auto& c) { return c.first == column; })) {
      scan.error = "table " + table + " on shard " + shard.name + " has no shard-key column " + column;
      return;
    }
    select += (i > 0 ? ", " : "") + connection.quote_identifier(column);
  }
  select += " FROM " + connection.quote_qualified(table);
  Key key;
  std::uint64_t since_report = 0;
  connection.stream(select, [&](const db::RowView& row) {
    ++scan.rows;
    if (++since_report == 16384) {
      progress += since_report;
      since_report = 0;
      if (options.on_progress) {
        options.on_progress(progress.load());
      }
    }
    if (std::find(row.nulls.begin(), row.nulls.end(), true) != row.nulls.end()) {
      ++scan.null_keys;
      return;
    }
    std::size_t owner = k_unowned;
    bool parsed = true;
    try {
      key.assign_text(row.fields);
    } catch (const KeyError&) {
      parsed = false; // e.g. an empty string key: no shard can own it
    }
    if (parsed) {
      try {
        owner = resolver.resolve(key);
      } catch (const KeyError&) {
        owner = k_unowned;
      } catch (const Error& error) {
        throw ResolverFailed{util::redact_secrets(error.what()) +
                             (error.where().empty() ? "" : " (" + util::redact_secrets(error.where()) + ")")};
      }
      scan.heavy.add(key.bytes());
    }
    if (owner == shard.index) {
      return;
    }
    auto& entry = scan.misplaced[{shard.index, owner}];
    if (entry.rows++ < options.samples) {
      std::vector<std::string> raw;
      for (const auto field : row.fields) {
        raw.push_back(util::in_quotes(field)); // an empty key shows as ''
      }
      entry.samples.push_back(parsed ? key.to_display() : raw.size() == 1 ? raw[0] : "(" + util::join(raw, ", ") + ")");
    }
  });
  progress += since_report;
}

} // namespace

bool DatabaseCheck::healthy() const {
  const bool reachable = std::all_of(reach.begin(), reach.end(), [](const ShardReach& r) { return r.ok; });
  return lint.empty() && reachable && schema.empty() && misplaced.empty() && errors.empty();
}

DatabaseCheck check_database(registry::Registry& registry, const config::Config& config,
                             const config::Database& database, const CheckOptions& options) {
  DatabaseCheck report;
  report.database = database.name;
  report.lint = shard::lint(config);
  report.lint.erase(std::remove_if(report.lint.begin(), report.lint.end(),
                                   [&](const LintIssue& issue) {
                                     return !util::starts_with(issue.key_path, database.key_path + ".") &&
                                            issue.key_path != database.key_path;
                                   }),
                    report.lint.end());
  if (!database.sharding) {
    report.lint.push_back({"sharded database " + database.name + " has no sharding block, so keys cannot be resolved",
                           database.key_path + ".sharding", "add \"sharding\": {\"key\": ..., \"resolver\": ...}"});
  }
  std::vector<std::string> tables = database.sharding ? database.sharding->tables : std::vector<std::string>{};
  if (!options.tables.empty()) {
    for (const auto& table : options.tables) {
      if (std::find(tables.begin(), tables.end(), table) == tables.end()) {
        throw ConfigError(
            "table " + util::in_quotes(table) + " is not a sharded table of " + database.name, "--table " + table,
            tables.empty() ? "list it in sharding.tables" : "sharded tables: " + util::join(tables, ", "));
      }
    }
    tables = options.tables;
  }
  std::unique_ptr<Resolver> resolver;
  if (report.lint.empty() && database.sharding) {
    resolver = shard::make_resolver(database, lookup::table_loader(registry));
    report.resolver = resolver->type();
  }

  // Connect, read migrations and table columns: one thread per shard.
  std::vector<ShardState> shards(database.shards.size());
  report.reach.resize(database.shards.size());
  const auto endpoints = registry::writers_of(database);
  util::parallel_for(shards.size(), static_cast<int>(shards.size()), [&](std::size_t i) {
    auto& shard = shards[i];
    shard.index = i;
    shard.name = database.shards[i].name;
    auto& reach = report.reach[i];
    reach.shard = shard.name;
    const auto start = std::chrono::steady_clock::now();
    if (endpoints[i].url.sqlite_file_missing()) {
      // Opening would create it: shard-check writes nothing.
      reach.ok = false;
      reach.detail = "no such file: " + endpoints[i].url.sqlite_path.string();
      return;
    }
    try {
      shard.connection = registry.checkout(endpoints[i]);
      reach.detail = shard.connection->server_version();
      reach.ok = true;
      migrate::Tracker tracker(*shard.connection, database.migrations_table);
      for (const auto& row : tracker.applied()) {
        shard.migrations[row.version] = row.checksum;
      }
      for (const auto& table : tables) {
        auto columns = shard.connection->engine().table_columns(*shard.connection, table);
        shard.tables[table] = columns.empty() ? std::nullopt : std::optional<Columns>(std::move(columns));
      }
    } catch (const Error& error) {
      reach.ok = false;
      reach.detail = util::redact_secrets(error.what());
      shard.connection = {};
    }
    reach.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  });
  compare_schemas(database, shards, tables, report);
  if (!resolver) {
    return report;
  }

  // Placement: every (table, shard) pair, shards in parallel.
  const auto scan_start = std::chrono::steady_clock::now();
  std::atomic<std::uint64_t> progress{0};
  std::vector<std::vector<TableScan>> scans(tables.size(), std::vector<TableScan>(shards.size()));
  std::vector<std::pair<std::size_t, std::size_t>> work; // (table, shard)
  for (std::size_t t = 0; t < tables.size(); ++t) {
    for (std::size_t s = 0; s < shards.size(); ++s) {
      if (shards[s].connection && shards[s].tables.at(tables[t])) {
        work.emplace_back(t, s);
      }
    }
  }
  std::vector<std::mutex> shard_busy(shards.size()); // a shard's one connection scans one table at a time
  const auto jobs = options.jobs > 0 ? options.jobs : static_cast<int>(shards.size());
  util::parallel_for(work.size(), jobs, [&](std::size_t w) {
    const auto [t, s] = work[w];
    std::lock_guard busy(shard_busy[s]);
    try {
      scan_table(shards[s], *resolver, database, tables[t], options, progress, scans[t][s]);
    } catch (const ResolverFailed& failure) {
      scans[t][s].resolver_error = failure.message;
    } catch (const Error& error) {
      scans[t][s].error = shards[s].name + ": scanning " + tables[t] + " failed: " + util::redact_secrets(error.what());
    }
  });
  report.scan_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - scan_start).count();

  for (std::size_t t = 0; t < tables.size(); ++t) {
    Distribution distribution;
    distribution.table = tables[t];
    HeavyHitters merged(256);
    std::uint64_t total = 0;
    std::uint64_t max_rows = 0;
    std::size_t counted_shards = 0;
    for (std::size_t s = 0; s < shards.size(); ++s) {
      auto& scan = scans[t][s];
      if (!scan.error.empty()) {
        report.errors.push_back(scan.error);
      }
      // The same failure hits every scan: report it once.
      if (!scan.resolver_error.empty() &&
          std::find(report.errors.begin(), report.errors.end(), scan.resolver_error) == report.errors.end()) {
        report.errors.push_back(scan.resolver_error);
      }
      for (auto& [owners, misplaced] : scan.misplaced) {
        misplaced.table = tables[t];
        misplaced.found_on = shards[owners.first].name;
        misplaced.belongs_on = owners.second == k_unowned ? "" : shards[owners.second].name;
        report.misplaced.push_back(std::move(misplaced));
      }
      report.rows_scanned += scan.rows;
      distribution.null_keys += scan.null_keys;
      // A shard that could not be scanned (no such table, no key column) holds unknown rows, not 0.
      if (shards[s].connection && shards[s].tables.at(tables[t]) && scan.error.empty() && scan.resolver_error.empty()) {
        distribution.rows_per_shard.emplace_back(shards[s].name, scan.rows);
        total += scan.rows;
        max_rows = std::max(max_rows, scan.rows);
        ++counted_shards;
      }
      merged.merge(scan.heavy);
    }
    distribution.skew =
        total == 0 ? 0.0
                   : static_cast<double>(max_rows) / (static_cast<double>(total) / static_cast<double>(counted_shards));
    for (const auto& entry : merged.top(options.heavy_keys)) {
      if (entry.count < 2) {
        break; // a key seen once is not heavy; with all keys distinct there are none
      }
      distribution.heaviest.push_back({shard::describe_canonical(entry.bytes), entry.count, entry.undercount});
    }
    report.distribution.push_back(std::move(distribution));
  }
  return report;
}

} // namespace grant::check
