#include <grant/rebalance_output.hpp>

#include <algorithm>
#include <cstdio>

namespace grant::cli {

namespace {

std::string fixed(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

std::string bytes_text(std::uint64_t bytes) {
  if (bytes >= 10ull << 30) {
    return fixed(static_cast<double>(bytes) / (1ull << 30), 1) + " GiB";
  }
  if (bytes >= 10ull << 20) {
    return fixed(static_cast<double>(bytes) / (1ull << 20), 1) + " MiB";
  }
  if (bytes >= 10ull << 10) {
    return fixed(static_cast<double>(bytes) / (1ull << 10), 1) + " KiB";
  }
  return std::to_string(bytes) + " B";
}

std::string phase_text(rebalance::Phase phase) {
  return std::string(rebalance::phase_name(phase));
}

nlohmann::json with_already(nlohmann::json document, const rebalance::AlreadyDone& already) {
  document["already_done"] = already.any();
  document["nothing_moves"] = already.nothing_moves;
  document["finished"] = already.finished ? nlohmann::json({{"outcome", already.outcome}, {"at", already.finished_at}})
                                          : nlohmann::json(nullptr);
  return document;
}

/// One line for a phase that had nothing to do; false when it did something.
bool say_already(const Context& context, const std::string& database, const std::string& phase,
                 const rebalance::AlreadyDone& already) {
  if (already.nothing_moves) {
    context.say(context.paint(database, "1") + ": nothing to " + phase +
                ": the target has the same shards and sharding, so no key changes shard; nothing was installed");
    return true;
  }
  if (already.finished) {
    context.say(context.paint(database, "1") + ": nothing to " + phase + ": the rebalance towards this target was " +
                (already.outcome == "aborted" ? "aborted" : "finished and cleaned up") + " at " + already.finished_at);
    return true;
  }
  return false;
}

} // namespace

nlohmann::json plan_json(const std::string& database, const rebalance::PlanReport& report) {
  nlohmann::json moves = nlohmann::json::array();
  for (const auto& move : report.moves) {
    moves.push_back(
        {{"table", move.table}, {"from", move.from}, {"to", move.to}, {"rows", move.rows}, {"bytes", move.bytes}});
  }
  nlohmann::json unowned = nlohmann::json::array();
  for (const auto& lost : report.unowned) {
    unowned.push_back({{"table", lost.table}, {"shard", lost.shard}, {"rows", lost.rows}, {"samples", lost.samples}});
  }
  return {{"database", database},
          {"moves", moves},
          {"unowned", unowned},
          {"rows_scanned", report.rows_scanned},
          {"rows_moving", report.rows_moving},
          {"bytes_moving", report.bytes_moving},
          {"seconds", report.seconds}};
}

nlohmann::json copy_json(const std::string& database, const rebalance::CopyReport& report) {
  return with_already({{"database", database},
                       {"phase", report.already.any() ? "done" : "copied"},
                       {"rows_copied", report.rows_copied},
                       {"changes_applied", report.changes_applied},
                       {"backlog", report.backlog},
                       {"seconds", report.seconds}},
                      report.already);
}

nlohmann::json cutover_json(const std::string& database, const rebalance::CutoverReport& report) {
  nlohmann::json shards = nlohmann::json::array();
  for (const auto& shard : report.shards) {
    shards.push_back({{"shard", shard.shard},
                      {"pause_ms", shard.pause_ms},
                      {"changes_applied", shard.changes_applied},
                      {"already", shard.already}});
  }
  return with_already({{"database", database},
                       {"phase", report.already.any() ? "done" : "cut_over"},
                       {"shards", shards},
                       {"max_pause_ms", report.max_pause_ms},
                       {"resolved_in_doubt", report.resolved_in_doubt}},
                      report.already);
}

nlohmann::json cleanup_json(const std::string& database, const rebalance::CleanupReport& report) {
  return with_already({{"database", database},
                       {"phase", "done"},
                       {"rows_deleted", report.rows_deleted},
                       {"rows_moved_late", report.rows_moved_late},
                       {"rows_conflicting", report.rows_conflicting}},
                      report.already);
}

nlohmann::json abort_json(const std::string& database, const rebalance::AbortReport& report) {
  return with_already({{"database", database},
                       {"phase", report.already.nothing_moves ? "done" : "aborted"},
                       {"rows_deleted", report.rows_deleted}},
                      report.already);
}

nlohmann::json status_json(const std::string& database, const rebalance::StatusReport& report) {
  nlohmann::json shards = nlohmann::json::array();
  for (const auto& shard : report.shards) {
    shards.push_back({{"shard", shard.shard},
                      {"phase", phase_text(shard.phase)},
                      {"backlog", shard.backlog},
                      {"rows_copied", shard.rows_copied},
                      {"pause_ms", shard.pause_ms}});
  }
  return with_already(
      {{"database", database},
       {"phase", phase_text(report.phase)},
       {"started", report.started},
       {"holder", report.holder.empty() ? nlohmann::json(nullptr) : nlohmann::json(report.holder)},
       {"started_at", report.started_at.empty() ? nlohmann::json(nullptr) : nlohmann::json(report.started_at)},
       {"shards", shards},
       {"prepared_in_doubt", report.prepared_in_doubt}},
      report.already);
}

void print_plan(const Context& context, const std::string& database, const rebalance::PlanReport& report) {
  context.say(context.paint(database, "1") + ": " + std::to_string(report.rows_moving) + " of " +
              std::to_string(report.rows_scanned) + " rows move (" + bytes_text(report.bytes_moving) +
              "), scanned in " + fixed(report.seconds, 2) + " s");
  for (const auto& move : report.moves) {
    context.say("  " + move.table + ": " + move.from + " -> " + move.to + "  " + std::to_string(move.rows) + " rows, " +
                bytes_text(move.bytes));
  }
  for (const auto& lost : report.unowned) {
    std::string samples;
    for (const auto& sample : lost.samples) {
      samples += (samples.empty() ? "" : ", ") + sample;
    }
    context.say("  " + context.paint("PROBLEM", "31") + " " + lost.table + " on " + lost.shard + ": " +
                std::to_string(lost.rows) + " rows would have no shard under the target (e.g. " + samples + ")");
  }
  if (report.moves.empty() && report.unowned.empty()) {
    context.say("  nothing moves: the target places every row where it is");
  }
}

void print_copy(const Context& context, const std::string& database, const rebalance::CopyReport& report) {
  if (say_already(context, database, "copy", report.already)) {
    return;
  }
  const double rate = report.seconds > 0 ? static_cast<double>(report.rows_copied) / report.seconds : 0;
  context.say(context.paint(database, "1") + ": copied " + std::to_string(report.rows_copied) + " rows in " +
              fixed(report.seconds, 1) + " s (" + fixed(rate, 0) + " rows/s), applied " +
              std::to_string(report.changes_applied) + " captured changes; " + std::to_string(report.backlog) +
              " waiting");
  context.say("  the old shards stay authoritative. Next: --cutover (re-run the copy first to shrink the backlog)");
}

void print_cutover(const Context& context, const std::string& database, const rebalance::CutoverReport& report) {
  if (say_already(context, database, "cut over", report.already)) {
    return;
  }
  if (report.resolved_in_doubt > 0) {
    context.say("  finished " + std::to_string(report.resolved_in_doubt) +
                " prepared transactions an interrupted cutover left");
  }
  for (const auto& shard : report.shards) {
    context.say("  " + shard.shard + ": " +
                (shard.already ? std::string("cut over earlier")
                               : "cut over, writes paused " + fixed(shard.pause_ms, 1) + " ms, " +
                                     std::to_string(shard.changes_applied) + " changes applied"));
  }
  context.say(context.paint(database, "1") + ": the target config is authoritative now (longest write pause " +
              fixed(report.max_pause_ms, 1) + " ms).");
  context.say("  Deploy it to every application, then run --cleanup. Writes of moved keys through the old config "
              "fail with SQLSTATE " +
              std::string(rebalance::k_fence_sqlstate) + ".");
}

void print_cleanup(const Context& context, const std::string& database, const rebalance::CleanupReport& report) {
  if (say_already(context, database, "clean up", report.already)) {
    return;
  }
  context.say(context.paint(database, "1") + ": deleted " + std::to_string(report.rows_deleted) +
              " moved rows from their old shards; moved " + std::to_string(report.rows_moved_late) +
              " rows written there after cutover" +
              (report.rows_conflicting > 0
                   ? " (" + std::to_string(report.rows_conflicting) + " of them lost to a newer row on the new shard)"
                   : "") +
              "; grant's triggers and tables are gone");
}

void print_abort(const Context& context, const std::string& database, const rebalance::AbortReport& report) {
  if (say_already(context, database, "abort", report.already)) {
    return;
  }
  context.say(context.paint(database, "1") + ": aborted: removed " + std::to_string(report.rows_deleted) +
              " copied rows from the target shards and grant's triggers and tables");
}

void print_status(const Context& context, const std::string& database, const rebalance::StatusReport& report) {
  if (!report.started) {
    std::string ended;
    if (report.already.nothing_moves) {
      ended = "; the target config moves no row";
    } else if (report.already.finished) {
      ended = "; the one towards this target " +
              std::string(report.already.outcome == "aborted" ? "was aborted" : "finished and was cleaned up") +
              " at " + report.already.finished_at;
    }
    context.say(context.paint(database, "1") + ": no rebalance in progress" + ended);
  } else {
    context.say(context.paint(database, "1") + ": " + phase_text(report.phase) + " (started " + report.started_at +
                " by " + report.holder + ")");
  }
  for (const auto& shard : report.shards) {
    if (shard.phase == rebalance::Phase::none) {
      continue;
    }
    context.say("  " + shard.shard + ": " + phase_text(shard.phase) + ", " + std::to_string(shard.rows_copied) +
                " rows copied, " + std::to_string(shard.backlog) + " changes waiting" +
                (shard.phase == rebalance::Phase::cut_over ? ", write pause " + fixed(shard.pause_ms, 1) + " ms" : ""));
  }
  if (report.prepared_in_doubt > 0) {
    context.say("  " + std::to_string(report.prepared_in_doubt) +
                " prepared transactions of an interrupted cutover wait: re-run --cutover");
  }
}

std::string progress_line(const rebalance::Progress& event, double rows_per_sec) {
  std::string line = event.phase + " " + event.shard + (event.table.empty() ? "" : " " + event.table) + " ";
  if (event.total > 0) {
    // The total is the planner's estimate: the bar stops at full rather than overflow.
    const auto done = std::min<std::uint64_t>(event.rows, event.total);
    const auto filled = static_cast<std::size_t>(done * 24 / event.total);
    line += "[" + std::string(filled, '#') + std::string(24 - filled, ' ') + "] " +
            std::to_string(done * 100 / event.total) + "%  ";
  }
  line += std::to_string(event.rows) + (event.total > 0 ? " / ~" + std::to_string(event.total) : "") + " rows  " +
          fixed(rows_per_sec, 0) + " rows/s";
  if (event.total > event.rows && rows_per_sec > 0) {
    line += "  ETA " + fixed(static_cast<double>(event.total - event.rows) / rows_per_sec, 0) + " s";
  }
  if (!event.note.empty()) {
    line += "  " + event.note;
  }
  return line;
}

} // namespace grant::cli
