#include <grant/migrate/plan.hpp>

#include <map>

namespace grant::migrate {

const Migration* find_version(const std::vector<Migration>& files, const std::string& version) {
  for (const auto& file : files) {
    if (compare_versions(file.version, version) == 0) {
      return &file;
    }
  }
  return nullptr;
}

const Migration* Plan::file_of(const std::string& version) const {
  for (const auto* file : files) {
    if (compare_versions(file->version, version) == 0) {
      return file;
    }
  }
  return nullptr;
}

Plan make_plan(const std::vector<Migration>& files, std::vector<AppliedMigration> applied) {
  Plan plan;
  plan.applied = std::move(applied);
  for (const auto& file : files) {
    plan.files.push_back(&file);
  }
  const auto is_applied = [&](const std::string& version) {
    for (const auto& row : plan.applied) {
      if (compare_versions(row.version, version) == 0) {
        return true;
      }
    }
    return false;
  };
  if (!plan.applied.empty()) {
    plan.current_version = plan.applied.back().version;
  }
  for (const auto& file : files) {
    if (is_applied(file.version)) {
      continue;
    }
    plan.pending.push_back(&file);
    if (!plan.current_version.empty() && compare_versions(file.version, plan.current_version) < 0) {
      plan.out_of_order.push_back(&file);
    }
  }
  for (const auto& row : plan.applied) {
    const auto* file = plan.file_of(row.version);
    if (file == nullptr) {
      plan.missing_files.push_back(row);
    } else if (row.checksum && !row.checksum->empty() && *row.checksum != file->checksum) {
      plan.drifted.push_back({file, row});
    }
  }
  return plan;
}

} // namespace grant::migrate
