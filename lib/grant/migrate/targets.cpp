// Which targets a command runs on, what it loads for them, and the checks before anything
// changes: the selection by --database/--shard, the workload, --jobs and the preflight.
#include <grant/migrate/targets.hpp>

#include <grant/db/cancel.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>

namespace grant::migrate {

std::vector<Target> select_targets(const config::Config& config, const std::vector<std::string>& databases,
                                   const std::vector<std::string>& shards) {
  std::vector<Target> out;
  bool shard_matched = shards.empty();
  for (const auto* db : registry::select_databases(config, databases)) {
    if (!shards.empty() && !db->is_sharded()) {
      if (!databases.empty()) {
        registry::writers_of(*db, shards); // throws the "not sharded" error
      }
      continue;
    }
    std::vector<std::string> wanted = shards;
    if (!shards.empty() && databases.empty()) {
      // Without --database, --shard picks the shards of that name wherever they exist.
      wanted.erase(std::remove_if(wanted.begin(), wanted.end(),
                                  [&](const std::string& name) { return db->find_shard(name) == nullptr; }),
                   wanted.end());
      if (wanted.empty()) {
        continue;
      }
    }
    for (auto& endpoint : registry::writers_of(*db, wanted)) {
      shard_matched = true;
      out.push_back({db, std::move(endpoint)});
    }
  }
  if (!shard_matched) {
    throw ConfigError("no database has a shard named " + util::join(shards, ", "), "--shard",
                      "run `grant config check` to see the shard names");
  }
  return out;
}

Workload prepare(const std::vector<Target>& targets) {
  Workload work;
  work.targets = targets;
  for (const auto& target : targets) {
    if (!work.files.count(target.database->name)) {
      work.files[target.database->name] = load_migrations(target.database->migrations);
    }
  }
  return work;
}

void refuse_empty_migrations(const Workload& work, const std::optional<std::string>& up_to) {
  for (const auto& [database, files] : work.files) {
    for (const auto& file : files) {
      if (file.empty && (!up_to || compare_versions(file.version, *up_to) <= 0)) {
        const bool whole_file = file.format == FileFormat::golang_migrate || file.format == FileFormat::flyway;
        throw ConfigError("migration " + file.display_name() + " has an empty up section (database " + database +
                              "): nothing was applied",
                          file.up.file.string() + (whole_file ? "" : ":" + std::to_string(file.up.first_line - 1)),
                          "write its up section or delete it");
      }
    }
  }
}

int exit_code_of(const std::vector<TargetResult>& results) {
  int code = 0;
  for (const auto& result : results) {
    code = std::max(code, result.exit_code);
  }
  return code;
}

int effective_jobs(int requested, std::size_t targets) {
  if (requested > 0) {
    return requested;
  }
  return static_cast<int>(std::clamp<std::size_t>(targets, 1, 8));
}

void preflight(registry::Registry& registry, const std::vector<Target>& targets, const RunOptions& options,
               const EventSink& events, bool refuse_replicas) {
  const auto deadline = std::chrono::steady_clock::now() + options.wait;
  const auto check = [&](const Target& target) -> std::string {
    const auto& url = target.endpoint.url;
    if (url.sqlite_file_missing()) {
      return {}; // a SQLite file is never a replica, and opening it here would create it
    }
    bool told = false;
    while (true) {
      try {
        auto connection = registry.checkout(target.endpoint);
        if (refuse_replicas && connection->in_recovery()) {
          return "refusing to migrate " + target.label() + ": the server is in recovery (a read replica)";
        }
        return {};
      } catch (const db::DbError& error) {
        if (std::chrono::steady_clock::now() >= deadline) {
          throw;
        }
        if (!told && events) {
          events({Event::Kind::waiting_server,
                  target.label(),
                  {},
                  0,
                  "waiting up to " + std::to_string(options.wait.count()) +
                      " s for the server to accept connections (" + error.what() + ")"});
          told = true;
        }
        db::cancel::sleep_for(std::chrono::milliseconds(250), target.label());
      }
    }
  };
  const auto problems =
      fan_out<Target, std::string>(targets, effective_jobs(options.jobs, targets.size()), [&](const Target& target) {
        try {
          return check(target);
        } catch (const db::DbError& error) {
          // A server that answered and refused (a wrong password, no such database): the adapter's hint.
          return std::string("!") + error.what() + '\x1f' + (error.connection_lost() ? "" : error.hint());
        } catch (const Error& error) {
          return std::string("!") + error.what() + '\x1f';
        }
      });
  for (std::size_t i = 0; i < problems.size(); ++i) {
    if (problems[i].empty()) {
      continue;
    }
    if (problems[i].front() == '!') {
      const auto split = problems[i].rfind('\x1f');
      const auto hint = problems[i].substr(split + 1);
      throw db::DbError(problems[i].substr(1, split - 1), {targets[i].label(), {}, {}, 0, true, 0},
                        options.wait.count() > 0 ? "the server did not come up within --wait"
                        : hint.empty()           ? "check the server, or pass --wait SECONDS to wait for it"
                                                 : hint);
    }
    throw ConfigError(problems[i], targets[i].label(),
                      "point the database's url at the writer (primary); replicas are never migrated");
  }
}

} // namespace grant::migrate
