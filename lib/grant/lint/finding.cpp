#include <grant/lint/finding.hpp>

#include <array>

namespace grant::lint {

namespace {

struct LockSpelling {
  LockMode mode;
  std::string_view documented;
  std::string_view pg_locks;
};

constexpr std::array<LockSpelling, 8> k_locks{{
    {LockMode::access_share, "ACCESS SHARE", "AccessShareLock"},
    {LockMode::row_share, "ROW SHARE", "RowShareLock"},
    {LockMode::row_exclusive, "ROW EXCLUSIVE", "RowExclusiveLock"},
    {LockMode::share_update_exclusive, "SHARE UPDATE EXCLUSIVE", "ShareUpdateExclusiveLock"},
    {LockMode::share, "SHARE", "ShareLock"},
    {LockMode::share_row_exclusive, "SHARE ROW EXCLUSIVE", "ShareRowExclusiveLock"},
    {LockMode::exclusive, "EXCLUSIVE", "ExclusiveLock"},
    {LockMode::access_exclusive, "ACCESS EXCLUSIVE", "AccessExclusiveLock"},
}};

// Bit i set: conflicts with the mode of rank i + 1 (access_share = 1 ... access_exclusive = 8),
// PostgreSQL's "Conflicting Lock Modes" table, row by row.
constexpr std::array<unsigned, 9> k_conflicts{
    0b00000000, // none
    0b10000000, // ACCESS SHARE: ACCESS EXCLUSIVE
    0b11000000, // ROW SHARE: EXCLUSIVE, ACCESS EXCLUSIVE
    0b11110000, // ROW EXCLUSIVE: SHARE and stronger
    0b11111000, // SHARE UPDATE EXCLUSIVE: itself and stronger
    0b11101100, // SHARE: ROW EXCLUSIVE, SHARE UPDATE EXCLUSIVE, SHARE ROW EXCLUSIVE and stronger
    0b11111100, // SHARE ROW EXCLUSIVE: ROW EXCLUSIVE and stronger
    0b11111110, // EXCLUSIVE: ROW SHARE and stronger
    0b11111111, // ACCESS EXCLUSIVE: everything
};

} // namespace

std::string_view severity_name(Severity severity) {
  switch (severity) {
  case Severity::info:
    return "info";
  case Severity::warning:
    return "warning";
  case Severity::error:
    return "error";
  }
  return "error";
}

std::optional<Severity> parse_severity(std::string_view name) {
  for (const auto severity : {Severity::info, Severity::warning, Severity::error}) {
    if (severity_name(severity) == name) {
      return severity;
    }
  }
  return std::nullopt;
}

std::string_view lock_name(LockMode mode) {
  for (const auto& spelling : k_locks) {
    if (spelling.mode == mode) {
      return spelling.documented;
    }
  }
  return "";
}

std::optional<LockMode> lock_from_pg_locks(std::string_view mode) {
  for (const auto& spelling : k_locks) {
    if (spelling.pg_locks == mode) {
      return spelling.mode;
    }
  }
  return std::nullopt;
}

bool locks_conflict(LockMode held, LockMode wanted) {
  const auto held_rank = static_cast<unsigned>(held);
  const auto wanted_rank = static_cast<unsigned>(wanted);
  if (held_rank == 0 || wanted_rank == 0) {
    return false;
  }
  return ((k_conflicts[held_rank] >> (wanted_rank - 1)) & 1U) != 0;
}

} // namespace grant::lint
