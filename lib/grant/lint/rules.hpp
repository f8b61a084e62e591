#pragma once
// The lint rules: id, default severity, and a line saying what each catches. Each rule has a page,
// docs/lint/<id>.md, and its check lives in the file of its family (rules_locks.cpp,
// rules_compat.cpp, rules_fleet.cpp).

#include <grant/lint/finding.hpp>

#include <string_view>
#include <vector>

namespace grant::lint {

struct Rule {
  std::string_view id;
  Severity severity = Severity::warning;
  std::string_view family; ///< "locks", "compatibility", "fleet"
  std::string_view summary;
  /// --connect raises a finding of this rule to an error on a table past lint.large_table_mb.
  bool size_matters = false;
};

/// Every rule, in the order the docs list them.
const std::vector<Rule>& rules();
/// The rule named `id`, or nullptr.
const Rule* find_rule(std::string_view id);

} // namespace grant::lint
