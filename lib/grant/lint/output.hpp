#pragma once
/// The formats of `grant lint`: text with the statement and a caret, the contract's JSON, SARIF
/// 2.1.0 (GitHub code scanning) and GitHub workflow annotations.

#include <grant/lint/linter.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace grant::lint {

/// `file` as the output names it: relative to the working folder when inside it.
std::string display_path(const std::filesystem::path& file);

/// {"findings": [...], "summary": {...}} (CONTRACT.md); silenced findings are counted, not listed.
nlohmann::json to_json(const Report& report, const std::optional<std::string>& fail_on);
/// A SARIF 2.1.0 log with one run: the rules as the driver's, each finding a result.
nlohmann::json to_sarif(const Report& report);
/// One `::error file=...,line=...,col=...,title=...::message` line per finding.
std::string to_github(const Report& report);
/// Each finding with its statement, a caret, the fix and (--connect) each target's facts; then a
/// summary line. `color` adds ANSI colors.
std::string to_text(const Report& report, const std::optional<std::string>& fail_on, bool color);

} // namespace grant::lint
