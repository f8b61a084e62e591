#include <grant/lint/output.hpp>

#include <grant/lint/rules.hpp>
#include <grant/version.hpp>

#include <cstdio>

namespace grant::lint {

namespace {

using Json = nlohmann::json;

struct Counts {
  std::size_t errors = 0;
  std::size_t warnings = 0;
  std::size_t infos = 0;
  std::size_t silenced = 0;
};

Counts count(const Report& report) {
  Counts out;
  for (const auto& finding : report.findings) {
    if (finding.silenced) {
      ++out.silenced;
    } else if (finding.severity == Severity::error) {
      ++out.errors;
    } else if (finding.severity == Severity::warning) {
      ++out.warnings;
    } else {
      ++out.infos;
    }
  }
  return out;
}

Json optional_number(const std::optional<long long>& value) {
  return value ? Json(*value) : Json(nullptr);
}

Json targets_json(const Finding& finding) {
  Json targets = Json::array();
  for (const auto& facts : finding.targets) {
    Json blockers = Json::array();
    for (const auto& blocker : facts.blockers) {
      blockers.push_back({{"pid", blocker.pid},
                          {"application_name", blocker.application_name},
                          {"state", blocker.state},
                          {"age_s", static_cast<long long>(blocker.age_s)},
                          {"lock", blocker.lock}});
    }
    Json entry{{"target", facts.target},
               {"reachable", facts.reachable},
               {"exists", facts.exists},
               {"table_bytes", optional_number(facts.table_bytes)},
               {"rows_estimate", optional_number(facts.rows_estimate)},
               {"blockers", blockers}};
    if (!facts.reachable) {
      entry["exists"] = nullptr;
      entry["error"] = facts.error;
    }
    targets.push_back(std::move(entry));
  }
  return targets;
}

std::string human_bytes(long long bytes) {
  char text[32];
  if (bytes >= (1LL << 30)) {
    std::snprintf(text, sizeof text, "%.1f GB", static_cast<double>(bytes) / (1LL << 30));
  } else if (bytes >= (1LL << 20)) {
    std::snprintf(text, sizeof text, "%.0f MB", static_cast<double>(bytes) / (1LL << 20));
  } else {
    std::snprintf(text, sizeof text, "%lld kB", (bytes + 1023) / 1024);
  }
  return text;
}

std::string human_age(double seconds) {
  const auto s = static_cast<long long>(seconds);
  if (s >= 3600) {
    return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
  }
  if (s >= 60) {
    return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
  }
  return std::to_string(s) + "s";
}

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

// Percent-encoding GitHub's workflow commands want in a message (and, with ':' and ',', in a property).
std::string github_escape(const std::string& text, bool property) {
  std::string out;
  for (const char c : text) {
    if (c == '%') {
      out += "%25";
    } else if (c == '\r') {
      out += "%0D";
    } else if (c == '\n') {
      out += "%0A";
    } else if (property && c == ':') {
      out += "%3A";
    } else if (property && c == ',') {
      out += "%2C";
    } else {
      out += c;
    }
  }
  return out;
}

void text_facts(const Finding& finding, std::string& out) {
  long long total = 0;
  std::size_t with_table = 0;
  const TargetFacts* largest = nullptr;
  for (const auto& facts : finding.targets) {
    std::string line = "    " + facts.target + ": ";
    if (!facts.reachable) {
      line += "unreachable (" + facts.error + ")";
    } else if (!facts.exists) {
      line += "no table " + finding.table + " here";
    } else {
      ++with_table;
      total += facts.table_bytes.value_or(0);
      if (facts.table_bytes && (largest == nullptr || *facts.table_bytes > largest->table_bytes.value_or(0))) {
        largest = &facts;
      }
      line += facts.table_bytes ? human_bytes(*facts.table_bytes) : "size unknown";
      line += facts.rows_estimate ? ", ~" + std::to_string(*facts.rows_estimate) + " rows" : ", rows unknown";
      for (const auto& blocker : facts.blockers) {
        line += "; would wait for pid " + std::to_string(blocker.pid) +
                (blocker.application_name.empty() ? "" : " (" + blocker.application_name + ")") + ", " + blocker.state +
                " for " + human_age(blocker.age_s) + ", holding " + blocker.lock;
      }
    }
    out += line + "\n";
  }
  if (finding.targets.size() > 1 && largest != nullptr) {
    out += "    fleet: " + human_bytes(total) + " across " + std::to_string(with_table) + " target(s), largest " +
           largest->target + " (" + human_bytes(*largest->table_bytes) + ")\n";
  }
}

} // namespace

std::string display_path(const std::filesystem::path& file) {
  // grant never changes its working folder: read it once, not once per finding.
  static const auto cwd = [] {
    std::error_code error;
    auto path = std::filesystem::current_path(error);
    return error ? std::filesystem::path{} : path;
  }();
  if (!cwd.empty() && file.is_absolute()) {
    const auto relative = file.lexically_relative(cwd);
    if (!relative.empty() && *relative.begin() != "..") {
      return relative.generic_string();
    }
  }
  return file.generic_string();
}

Json to_json(const Report& report, const std::optional<std::string>& fail_on) {
  Json findings = Json::array();
  for (const auto& finding : report.findings) {
    if (finding.silenced) {
      continue;
    }
    Json entry{{"rule", finding.rule},
               {"severity", severity_name(finding.severity)},
               {"database", finding.database},
               {"migration", finding.migration},
               {"file", display_path(finding.file)},
               {"line", finding.line},
               {"column", finding.column},
               {"message", finding.message},
               {"statement", finding.statement},
               {"fix", finding.fix},
               {"table", finding.table.empty() ? Json(nullptr) : Json(finding.table)},
               {"lock", finding.lock == LockMode::none ? Json(nullptr) : Json(lock_name(finding.lock))}};
    if (report.connected) {
      entry["targets"] = targets_json(finding);
    }
    findings.push_back(std::move(entry));
  }
  const auto counts = count(report);
  return {{"findings", findings},
          {"summary",
           {{"findings", counts.errors + counts.warnings + counts.infos},
            {"errors", counts.errors},
            {"warnings", counts.warnings},
            {"infos", counts.infos},
            {"silenced", counts.silenced},
            {"migrations", report.migrations},
            {"statements", report.statements},
            {"connected", report.connected},
            {"fail_on", fail_on ? Json(*fail_on) : Json(nullptr)},
            {"failed", fails(report, fail_on)},
            {"notes", report.notes}}}};
}

Json to_sarif(const Report& report) {
  Json rules_json = Json::array();
  for (const auto& rule : rules()) {
    rules_json.push_back(
        {{"id", rule.id},
         {"shortDescription", {{"text", rule.summary}}},
         {"help", {{"text", "docs/lint/" + std::string(rule.id) + ".md in grant's source"}}},
         {"defaultConfiguration", {{"level", rule.severity == Severity::info ? "note" : severity_name(rule.severity)}}},
         {"properties", {{"family", rule.family}}}});
  }
  Json results = Json::array();
  for (const auto& finding : report.findings) {
    if (finding.silenced) {
      continue;
    }
    results.push_back({{"ruleId", finding.rule},
                       {"level", finding.severity == Severity::info ? "note" : severity_name(finding.severity)},
                       {"message", {{"text", finding.message + ". Fix: " + finding.fix}}},
                       {"locations",
                        {{{"physicalLocation",
                           {{"artifactLocation", {{"uri", display_path(finding.file)}}},
                            {"region", {{"startLine", finding.line}, {"startColumn", finding.column}}}}}}}}});
  }
  return {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
          {"version", "2.1.0"},
          {"runs",
           {{{"tool", {{"driver", {{"name", "grant"}, {"version", GRANT_VERSION}, {"rules", rules_json}}}}},
             {"results", results}}}}};
}

std::string to_github(const Report& report) {
  std::string out;
  for (const auto& finding : report.findings) {
    if (finding.silenced) {
      continue;
    }
    const auto* level = finding.severity == Severity::error     ? "error"
                        : finding.severity == Severity::warning ? "warning"
                                                                : "notice";
    out += std::string("::") + level + " file=" + github_escape(display_path(finding.file), true) +
           ",line=" + std::to_string(finding.line) + ",col=" + std::to_string(finding.column) +
           ",title=" + github_escape("grant lint " + finding.rule, true) +
           "::" + github_escape(finding.message + ". Fix: " + finding.fix, false) + "\n";
  }
  return out;
}

std::string to_text(const Report& report, const std::optional<std::string>& fail_on, bool color) {
  const auto paint = [color](const std::string& text, const char* code) {
    return color ? std::string("\x1b[") + code + "m" + text + "\x1b[0m" : text;
  };
  std::string out;
  for (const auto& finding : report.findings) {
    if (finding.silenced) {
      continue;
    }
    const auto severity = std::string(severity_name(finding.severity));
    out += paint(display_path(finding.file) + ":" + std::to_string(finding.line) + ":" +
                     std::to_string(finding.column) + ":",
                 "1") +
           " " + paint(severity, finding.severity == Severity::error ? "31" : "33") + " [" + finding.rule + "] " +
           finding.message + "\n";
    out += "    " + first_line(finding.statement) + "\n    " + paint("^", "32") + "\n";
    out += "    fix: " + finding.fix + "\n";
    text_facts(finding, out);
  }
  for (const auto& note : report.notes) {
    out += "note: " + note + "\n";
  }
  const auto counts = count(report);
  const auto found = counts.errors + counts.warnings + counts.infos;
  out += (found == 0 ? std::string("no findings")
                     : std::to_string(found) + " finding(s): " + std::to_string(counts.errors) + " error(s), " +
                           std::to_string(counts.warnings) + " warning(s)") +
         (counts.silenced > 0 ? ", " + std::to_string(counts.silenced) + " silenced by markers" : "") + "; " +
         std::to_string(report.migrations) + " migration(s), " + std::to_string(report.statements) +
         " statement(s) linted" + (fails(report, fail_on) ? "; fails" : "") + "\n";
  return out;
}

} // namespace grant::lint
