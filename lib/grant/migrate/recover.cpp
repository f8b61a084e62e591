#include <grant/migrate/atomic.hpp>

#include <grant/db/engine.hpp>
#include <grant/db/sqlstate.hpp>
#include <grant/migrate/lock.hpp>
#include <grant/twophase/recovery.hpp>
#include <grant/util/strings.hpp>

#include <map>
#include <set>

namespace grant::migrate {

namespace {

// The coordinator of a transaction, connected once per recover run.
struct Coordinator {
  registry::PooledConnection connection;
  std::unique_ptr<twophase::DecisionLog> log;
  std::string error; ///< why it could not be reached
};

registry::Endpoint coordinator_endpoint(const config::Database& database, const twophase::Gid& gid) {
  if (gid.legacy || gid.coordinator.empty()) {
    return registry::writers_of(database).front(); // grant 0.1 kept decisions on the first shard
  }
  if (database.find_shard(gid.coordinator) == nullptr) {
    throw ConfigError("the transaction " + gid.text() + " was coordinated by shard " +
                          util::in_quotes(gid.coordinator) + ", which the config no longer has",
                      database.key_path + ".shards", "put the shard back in the config and run grant recover again");
  }
  return registry::writers_of(database, {gid.coordinator}).front();
}

void refuse_live_run(db::Connection& connection, const Target& target) {
  // A live --atomic run holds the migration lock on every shard until it has committed;
  // resolving its prepared transactions under it could split the shards.
  try {
    MigrationLock::acquire(connection, target.endpoint.url, target.database->migrations_table,
                           std::chrono::milliseconds(2000), {}); // a killed run's sessions take a moment to end
  } catch (const db::DbError& error) {
    if (error.sqlstate() != db::sqlstate::k_lock_not_available) {
      throw;
    }
    throw Error(
        ErrorKind::database,
        "a grant run is still working on " + target.label() + " (it holds the migration lock): " + error.what(),
        target.label(),
        "let it finish: it commits or rolls back its own prepared transactions; run grant recover once it has exited");
  }
}

twophase::Mode mode_of(const RecoverOptions& options) {
  return options.force_commit  ? twophase::Mode::commit
         : options.force_abort ? twophase::Mode::abort
                               : twophase::Mode::by_decision;
}

} // namespace

void refuse_in_doubt(db::Connection& connection, const Target& target) {
  const auto count = twophase::count_in_doubt(connection, target.database->name);
  if (count != 0) {
    throw db::DbError(target.label() + " has " + std::to_string(count) +
                          " in-doubt prepared transaction(s) left by an interrupted --atomic run",
                      {target.label(), {}, {}, 0, false, 0},
                      "run `grant recover` to resolve them (all shards agree), then run grant again");
  }
}

std::vector<InDoubt> recover(registry::Registry& registry, const std::vector<Target>& targets,
                             const RecoverOptions& options) {
  std::vector<InDoubt> out;
  std::map<std::string, Coordinator> coordinators;                             // by endpoint label
  std::map<std::string, std::set<std::string>> selected;                       // database -> target labels
  std::map<std::string, std::pair<const config::Database*, std::string>> keys; // decision key -> (db, coordinator)
  std::set<std::string> unfinished;                                            // keys with an item not done
  for (const auto& target : targets) {
    if (!db::traits_for(target.endpoint.url).prepared_transactions) {
      continue;
    }
    selected[target.database->name].insert(target.label());
    auto connection = registry.checkout(target.endpoint);
    refuse_live_run(*connection, target);
    const auto scope = std::string(twophase::k_gid_prefix) + target.database->name + ":";
    for (const auto& prepared : twophase::list_prepared(*connection)) {
      if (!util::starts_with(prepared.gid, scope)) {
        continue; // another database of the config that shares this server database
      }
      InDoubt item;
      item.database = target.database->name;
      item.target = target.label();
      item.gid = prepared.gid;
      item.prepared_at = prepared.prepared_at;
      const auto gid = twophase::parse_gid(prepared.gid);
      if (!gid) {
        item.action = "refuse";
        item.error = "not a transaction id grant writes; resolve it by hand (COMMIT PREPARED or ROLLBACK PREPARED)";
        out.push_back(std::move(item));
        continue;
      }
      try {
        const auto endpoint = coordinator_endpoint(*target.database, *gid);
        item.coordinator = endpoint.label();
        auto& coordinator = coordinators[endpoint.label()];
        if (!coordinator.log && coordinator.error.empty()) {
          try {
            coordinator.connection = registry.checkout(endpoint);
            coordinator.log = std::make_unique<twophase::DecisionLog>(*coordinator.connection);
          } catch (const Error& error) {
            coordinator.error = util::redact_secrets(error.what());
          }
        }
        if (!coordinator.log) {
          throw Error(ErrorKind::database,
                      "cannot reach coordinator " + endpoint.label() + " to read the decision (" + coordinator.error +
                          "); nothing was done: committing or rolling back without it could split the shards",
                      endpoint.label(), "bring " + endpoint.label() + " back and run grant recover again");
        }
        keys[gid->decision_key()] = {target.database, endpoint.label()};
        const auto resolution =
            twophase::resolve(*connection, *gid, *coordinator.log, mode_of(options), options.force, options.dry_run);
        item.decision = resolution.decision == twophase::Decision::none ? "" : twophase::to_string(resolution.decision);
        item.action = resolution.action;
        if (resolution.action == "refuse") {
          item.error = resolution.reason;
        } else {
          item.done = !options.dry_run;
        }
      } catch (const Error& error) {
        item.action = item.action.empty() ? "refuse" : item.action;
        item.error = util::redact_secrets(error.what());
      }
      if (!item.done) {
        unfinished.insert(gid->decision_key());
      }
      out.push_back(std::move(item));
    }
  }
  if (options.dry_run) {
    return out;
  }
  // A decision row goes once every participant is finished, which is known only when every
  // shard of its database was looked at.
  for (const auto& [key, owner] : keys) {
    const auto& [database, coordinator_label] = owner;
    if (unfinished.count(key) || selected[database->name].size() != registry::writers_of(*database).size()) {
      continue;
    }
    try {
      coordinators[coordinator_label].log->forget(key);
    } catch (const Error&) {
    }
  }
  return out;
}

} // namespace grant::migrate
