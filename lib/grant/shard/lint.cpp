#include <grant/shard/lint.hpp>

#include <grant/error.hpp>
#include <grant/shard/strategy.hpp>

namespace grant::shard {

namespace {

std::vector<LintIssue> lint_database(const config::Database& db, const config::Config* config) {
  std::vector<LintIssue> issues;
  if (db.is_sharded() && db.sharding) {
    detail::build(db, config, LookupLoader{}, issues);
  }
  return issues;
}

} // namespace

std::vector<LintIssue> lint(const config::Database& db) {
  return lint_database(db, nullptr);
}

std::vector<LintIssue> lint(const config::Config& config) {
  std::vector<LintIssue> issues;
  for (const auto& db : config.databases) {
    auto found = lint_database(db, &config);
    issues.insert(issues.end(), std::make_move_iterator(found.begin()), std::make_move_iterator(found.end()));
  }
  return issues;
}

void validate(const config::Config& config) {
  const auto issues = lint(config);
  if (!issues.empty()) {
    const auto& first = issues.front();
    const auto file = config.path.string();
    throw ConfigError(first.message, file.empty() ? first.key_path : file + ": " + first.key_path, first.hint);
  }
}

} // namespace grant::shard
