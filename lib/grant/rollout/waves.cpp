// The waves of a rollout: a canary, then cumulative counts or shares of each database's shards.
#include <grant/rollout/rollout.hpp>

#include <grant/db/connection.hpp>
#include <grant/db/engine.hpp>
#include <grant/error.hpp>
#include <grant/registry/registry.hpp>
#include <grant/util/parallel_for.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <cmath>
#include <map>

namespace grant::rollout {

namespace {

// A wave's cumulative size for a database of `total` shards: "3" is 3, "10%" is ceil(10% of total).
std::size_t cumulative(const std::string& spec, std::size_t total, const std::string& source) {
  const auto bad = [&spec, &source](const std::string& why) {
    return ConfigError(source + ": " + util::in_quotes(spec) + " " + why, source,
                       "write counts or shares of each database's shards, growing, ending at 100%: "
                       "--waves 1,10%,50%,100%");
  };
  const bool share = !spec.empty() && spec.back() == '%';
  const auto digits = share ? spec.substr(0, spec.size() - 1) : spec;
  if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos) {
    throw bad("is not a count or a share");
  }
  const auto value = std::stoul(digits);
  if (value == 0) {
    throw bad("is empty: a wave takes at least one shard");
  }
  if (share) {
    if (value > 100) {
      throw bad("is more than 100%");
    }
    return static_cast<std::size_t>(std::ceil(static_cast<double>(value) * static_cast<double>(total) / 100.0));
  }
  return value;
}

std::vector<migrate::Target> ordered(registry::Registry& registry, std::vector<migrate::Target> shards,
                                     const std::string& order) {
  if (order == "name") {
    std::stable_sort(shards.begin(), shards.end(), [](const migrate::Target& a, const migrate::Target& b) {
      return a.endpoint.shard < b.endpoint.shard;
    });
  } else if (order == "size") {
    const auto sizes = util::parallel_map(shards, 8, [&registry](const migrate::Target& target) {
      try {
        auto connection = registry.checkout(target.endpoint);
        return connection->engine().database_bytes(*connection, target.endpoint.url).value_or(0);
      } catch (const Error& error) {
        throw Error(ErrorKind::database,
                    "--order size: cannot read the size of " + target.label() + ": " +
                        util::redact_secrets(error.what()),
                    target.label(), "drop --order size, or bring the shard back first");
      }
    });
    std::vector<std::size_t> index(shards.size());
    for (std::size_t i = 0; i < index.size(); ++i) {
      index[i] = i;
    }
    std::stable_sort(index.begin(), index.end(),
                     [&sizes](std::size_t a, std::size_t b) { return sizes[a] < sizes[b]; });
    std::vector<migrate::Target> out;
    for (const auto i : index) {
      out.push_back(shards[i]);
    }
    return out;
  } else if (order != "config") {
    throw ConfigError("--order " + util::in_quotes(order) + " is not config, name or size", "--order");
  }
  return shards;
}

// One database's targets cut into waves (some may be empty when it has few shards).
std::vector<std::vector<migrate::Target>> cut(registry::Registry& registry, const config::Database& database,
                                              std::vector<migrate::Target> targets, const Options& options) {
  std::vector<std::vector<migrate::Target>> out;
  if (!database.is_sharded()) {
    if (!options.canary.empty() && !options.canary_from_config) {
      throw ConfigError(options.sources.canary + " names shards, and database " + database.name + " is not sharded",
                        options.sources.canary, "select the sharded database with --database, or use --waves");
    }
    out.push_back(std::move(targets));
    return out;
  }
  targets = ordered(registry, std::move(targets), options.order);
  const auto total = targets.size();
  std::vector<migrate::Target> canary;
  for (const auto& name : options.canary) {
    const auto found = std::find_if(targets.begin(), targets.end(),
                                    [&name](const migrate::Target& t) { return t.endpoint.shard == name; });
    if (found == targets.end()) {
      std::vector<std::string> names;
      for (const auto& shard : database.shards) {
        names.push_back(shard.name);
      }
      throw ConfigError(options.sources.canary + " " + util::in_quotes(name) + ": database " + database.name +
                            " has no such shard" +
                            (database.find_shard(name) ? " among the selected ones (--shard)" : ""),
                        options.sources.canary, "its shards: " + util::join(names, ", "));
    }
    canary.push_back(*found);
    targets.erase(found);
  }
  std::size_t done = 0;
  if (!canary.empty()) {
    done = canary.size();
    out.push_back(std::move(canary));
  }
  const std::vector<std::string> specs = options.waves.empty() ? std::vector<std::string>{"100%"} : options.waves;
  std::size_t previous = 0;
  for (const auto& spec : specs) {
    const auto upto = cumulative(spec, total, options.sources.waves);
    if (upto > total) {
      throw ConfigError(options.sources.waves + ": " + util::in_quotes(spec) + " asks for " + std::to_string(upto) +
                            " shards, and database " + database.name + " has " + std::to_string(total),
                        options.sources.waves, "use a share (50%) or a smaller count");
    }
    if (upto < previous) {
      throw ConfigError(options.sources.waves + ": " + util::in_quotes(spec) + " is smaller than the wave before it",
                        options.sources.waves, "each wave is a running total: --waves 1,10%,50%,100%");
    }
    previous = upto;
    std::vector<migrate::Target> wave;
    while (done < upto) {
      wave.push_back(targets[done - (total - targets.size())]);
      ++done;
    }
    out.push_back(std::move(wave));
  }
  if (done < total) {
    throw ConfigError(options.sources.waves + " " + util::join(options.waves, ",") + " leaves " +
                          std::to_string(total - done) + " of the " + std::to_string(total) + " shards of database " +
                          database.name + " out",
                      options.sources.waves, "end the waves at 100%");
  }
  return out;
}

} // namespace

std::string Wave::label() const {
  std::vector<std::string> names;
  for (const auto& target : targets) {
    names.push_back(target.label());
  }
  return "wave " + std::to_string(number) + " (" + util::join(names, ", ") + ")";
}

std::vector<Wave> make_waves(registry::Registry& registry, const std::vector<migrate::Target>& targets,
                             const Options& options) {
  if (options.gate_command) {
    check_command(*options.gate_command, options.sources.gate_command);
  }
  // Each database in config order, its waves side by side: wave i is every database's i-th.
  std::vector<const config::Database*> databases;
  std::map<const config::Database*, std::vector<migrate::Target>> by_database;
  for (const auto& target : targets) {
    if (by_database.count(target.database) == 0) {
      databases.push_back(target.database);
    }
    by_database[target.database].push_back(target);
  }
  std::vector<Wave> waves;
  for (const auto* database : databases) {
    const auto cuts = cut(registry, *database, by_database[database], options);
    for (std::size_t i = 0; i < cuts.size(); ++i) {
      if (waves.size() <= i) {
        waves.push_back(Wave{static_cast<int>(i) + 1, {}});
      }
      waves[i].targets.insert(waves[i].targets.end(), cuts[i].begin(), cuts[i].end());
    }
  }
  std::vector<Wave> out;
  for (auto& wave : waves) {
    if (!wave.targets.empty()) {
      wave.number = static_cast<int>(out.size()) + 1;
      out.push_back(std::move(wave));
    }
  }
  return out;
}

} // namespace grant::rollout
