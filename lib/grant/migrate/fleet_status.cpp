#include <grant/migrate/fleet_status.hpp>

#include <algorithm>

namespace grant::migrate {

namespace {

// What two targets must share to be reported as one.
std::string state_of(const TargetStatus& status) {
  if (!status.reachable) {
    return "unreachable";
  }
  std::string key = "at " + status.plan.current_version + " applied";
  for (const auto& row : status.plan.applied) {
    key += " " + row.version;
  }
  key += " pending";
  for (const auto* migration : status.plan.pending) {
    key += " " + migration->version;
  }
  return key + " in_doubt " + std::to_string(status.in_doubt);
}

} // namespace

std::map<std::string, std::map<std::string, std::string>> version_skew(const std::vector<TargetStatus>& statuses) {
  std::map<std::string, std::map<std::string, std::string>> by_database;
  for (const auto& status : statuses) {
    if (status.target.database->is_sharded() && status.reachable) {
      by_database[status.target.database->name][status.target.endpoint.shard] = status.plan.current_version;
    }
  }
  std::map<std::string, std::map<std::string, std::string>> skewed;
  for (const auto& [database, versions] : by_database) {
    const auto& first = versions.begin()->second;
    if (std::any_of(versions.begin(), versions.end(), [&](const auto& entry) { return entry.second != first; })) {
      skewed[database] = versions;
    }
  }
  return skewed;
}

std::vector<std::pair<std::string, std::vector<std::string>>>
skew_groups(const std::map<std::string, std::string>& shard_versions) {
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  for (const auto& [shard, version] : shard_versions) {
    auto group =
        std::find_if(groups.begin(), groups.end(), [&wanted = version](const auto& g) { return g.first == wanted; });
    if (group == groups.end()) {
      groups.push_back({version, {}});
      group = std::prev(groups.end());
    }
    group->second.push_back(shard);
  }
  std::stable_sort(groups.begin(), groups.end(),
                   [](const auto& a, const auto& b) { return a.second.size() > b.second.size(); });
  return groups;
}

std::vector<DatabaseSummary> summarize_fleet(const std::vector<TargetStatus>& statuses) {
  std::vector<DatabaseSummary> out;
  for (const auto& status : statuses) {
    const auto& name = status.target.database->name;
    auto summary = std::find_if(out.begin(), out.end(), [&](const DatabaseSummary& s) { return s.database == name; });
    if (summary == out.end()) {
      out.push_back({});
      summary = std::prev(out.end());
      summary->database = name;
      summary->sharded = status.target.database->is_sharded();
    }
    summary->targets.push_back(&status);
  }
  const auto skew = version_skew(statuses);
  for (auto& summary : out) {
    std::vector<std::string> states;
    for (const auto* target : summary.targets) {
      states.push_back(state_of(*target));
    }
    std::size_t best = 0;
    std::size_t best_count = 0;
    for (std::size_t i = 0; i < states.size(); ++i) {
      const auto count = static_cast<std::size_t>(std::count(states.begin(), states.end(), states[i]));
      if (count > best_count) {
        best = i;
        best_count = count;
      }
    }
    summary.common = summary.targets[best];
    summary.agreeing = best_count;
    for (std::size_t i = 0; i < states.size(); ++i) {
      if (states[i] != states[best]) {
        summary.differing.push_back(summary.targets[i]);
      }
    }
    if (const auto found = skew.find(summary.database); found != skew.end()) {
      summary.version_skew = found->second;
    }
    for (const auto* file : summary.common->plan.files) {
      if (file->empty) {
        summary.empty.push_back(file);
      }
    }
  }
  return out;
}

} // namespace grant::migrate
