#include <grant/health/text.hpp>

#include <grant/health/json.hpp>

#include <grant/util/strings.hpp>

#include <algorithm>
#include <array>
#include <cstdio>

namespace grant::health {

namespace {

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

std::string bytes_text(std::uint64_t bytes) {
  if (bytes < 1024) {
    return std::to_string(bytes) + " B";
  }
  if (bytes < 1024 * 1024) {
    return format("%.1f kB", static_cast<double>(bytes) / 1024);
  }
  return format("%.1f MB", static_cast<double>(bytes) / (1024 * 1024));
}

std::string lag_text(const EndpointHealth& entry) {
  if (!entry.lag) {
    return "-";
  }
  // Engines without byte positions (MySQL) report seconds, and transactions where GTIDs tell.
  std::string amount;
  if (entry.lag->bytes) {
    amount = bytes_text(*entry.lag->bytes);
  } else if (entry.lag->transactions) {
    amount = std::to_string(*entry.lag->transactions) + " transaction(s)";
  }
  if (entry.lag->state == LagState::unknown) {
    return amount.empty() ? "unknown" : "unknown (" + amount + ")";
  }
  const auto seconds = format("%.1f s", entry.lag->seconds.value_or(0));
  return amount.empty() ? seconds : amount + ", " + seconds;
}

const char* status_color(Status status) {
  switch (status) {
  case Status::healthy:
    return "32";
  case Status::degraded:
    return "33";
  case Status::down:
    break;
  }
  return "31";
}

std::string paint(const std::string& text, const char* code, bool color) {
  return color ? "\033[" + std::string(code) + "m" + text + "\033[0m" : text;
}

constexpr std::size_t k_columns = 7;
using Row = std::array<std::string, k_columns>;

} // namespace

std::string to_text(const Report& report, bool color) {
  std::vector<Row> rows{{"ENDPOINT", "ROLE", "STATUS", "LATENCY", "LAG", "CONNECTIONS", "SERVER / PROBLEMS"}};
  std::vector<Status> statuses;
  for (const auto& entry : report.endpoints) {
    const auto& probe = entry.probe;
    std::string notes = probe.server_version;
    if (!entry.reasons.empty()) {
      notes = util::join(entry.reasons, "; ");
    }
    rows.push_back({probe.endpoint.label(), probe.endpoint.role == registry::Role::writing ? "writer" : "replica",
                    std::string(status_name(entry.status)),
                    probe.reachable ? format("%.1f ms", probe.latency_ms()) : "-", lag_text(entry),
                    probe.connections
                        ? std::to_string(probe.connections->used) + "/" + std::to_string(probe.connections->max)
                        : "-",
                    notes});
    statuses.push_back(entry.status);
  }
  std::array<std::size_t, k_columns> widths{};
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < k_columns; ++c) {
      widths[c] = std::max(widths[c], row[c].size());
    }
  }
  std::string out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::string line;
    for (std::size_t c = 0; c < k_columns; ++c) {
      auto cell = rows[r][c];
      const auto pad = c + 1 < k_columns ? std::string(widths[c] - cell.size() + 2, ' ') : "";
      if (r == 0) {
        cell = paint(cell, "1", color);
      } else if (c == 2) {
        cell = paint(cell, status_color(statuses[r - 1]), color);
      }
      line += cell + pad;
    }
    out += line + "\n";
  }
  std::size_t counts[3] = {0, 0, 0};
  for (const auto status : statuses) {
    ++counts[static_cast<std::size_t>(status)];
  }
  out += "\n" + paint(std::string(status_name(report.status)), status_color(report.status), color) + ": " +
         std::to_string(statuses.size()) + " endpoint" + (statuses.size() == 1 ? "" : "s") + ", " +
         std::to_string(counts[0]) + " healthy, " + std::to_string(counts[1]) + " degraded, " +
         std::to_string(counts[2]) + " down\n";
  return out;
}

std::string to_text(const Change& change, bool color) {
  std::string line = iso8601_utc(change.at) + "  " + change.endpoint.label() + "  ";
  if (change.from) {
    line += std::string(status_name(*change.from)) + " -> ";
  }
  line += paint(std::string(status_name(change.to)), status_color(change.to), color);
  if (!change.reasons.empty()) {
    line += "  " + util::join(change.reasons, "; ");
  }
  return line;
}

} // namespace grant::health
