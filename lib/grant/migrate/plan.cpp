#include <grant/migrate/plan.hpp>

#include <algorithm>
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

namespace {

// golang-migrate's row and Flyway's baseline stand for every file version up to theirs.
std::vector<AppliedMigration> expand_covering_rows(const std::vector<Migration>& files,
                                                   std::vector<AppliedMigration> applied) {
  std::vector<AppliedMigration> extra;
  for (auto& row : applied) {
    if (!row.covers_older) {
      continue;
    }
    if (const auto* own = find_version(files, row.version)) {
      row.version = own->version; // "15" in the table is the file "000015"
      row.name = own->name;
    }
    for (const auto& file : files) {
      if (compare_versions(file.version, row.version) >= 0) {
        continue;
      }
      const auto known = [&](const std::vector<AppliedMigration>& rows) {
        return std::any_of(rows.begin(), rows.end(), [&](const AppliedMigration& other) {
          return compare_versions(other.version, file.version) == 0;
        });
      };
      if (!known(applied) && !known(extra)) {
        AppliedMigration covered = row;
        covered.version = file.version;
        covered.name = file.name;
        covered.covers_older = false;
        extra.push_back(std::move(covered));
      }
    }
  }
  if (extra.empty()) {
    return applied;
  }
  applied.insert(applied.end(), extra.begin(), extra.end());
  std::sort(applied.begin(), applied.end(), [](const AppliedMigration& a, const AppliedMigration& b) {
    return compare_versions(a.version, b.version) < 0;
  });
  return applied;
}

} // namespace

Plan make_plan(const std::vector<Migration>& files, std::vector<AppliedMigration> applied) {
  Plan plan;
  plan.applied = expand_covering_rows(files, std::move(applied));
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
    } else if (row.checksum && !row.checksum->empty() && !file->matches_checksum(*row.checksum)) {
      plan.drifted.push_back({file, row});
    }
  }
  return plan;
}

} // namespace grant::migrate
