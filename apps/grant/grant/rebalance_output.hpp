#pragma once

#include <grant/context.hpp>
#include <grant/rebalance/rebalance.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace grant::cli {

/// `grant rebalance` reports: one JSON document per phase (--json) and the text for people.
nlohmann::json plan_json(const std::string& database, const rebalance::PlanReport& report);
nlohmann::json copy_json(const std::string& database, const rebalance::CopyReport& report);
nlohmann::json cutover_json(const std::string& database, const rebalance::CutoverReport& report);
nlohmann::json cleanup_json(const std::string& database, const rebalance::CleanupReport& report);
nlohmann::json abort_json(const std::string& database, const rebalance::AbortReport& report);
nlohmann::json status_json(const std::string& database, const rebalance::StatusReport& report);

void print_plan(const Context& context, const std::string& database, const rebalance::PlanReport& report);
void print_copy(const Context& context, const std::string& database, const rebalance::CopyReport& report);
void print_cutover(const Context& context, const std::string& database, const rebalance::CutoverReport& report);
void print_cleanup(const Context& context, const std::string& database, const rebalance::CleanupReport& report);
void print_abort(const Context& context, const std::string& database, const rebalance::AbortReport& report);
void print_status(const Context& context, const std::string& database, const rebalance::StatusReport& report);

/// "copy s1 orders [##########              ] 40%  120000 / ~300000 rows  45000 rows/s  ETA 4 s"
/// for a terminal.
std::string progress_line(const rebalance::Progress& event, double rows_per_sec);

} // namespace grant::cli
