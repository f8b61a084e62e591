#pragma once

#include <grant/util/duration.hpp>

#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>
#include <string>

namespace grant::cli {

/// The name every numeric check below carries: enforce_option_rules() (option_rules.hpp) refuses
/// to start when a numeric option lacks one, so no command can take an unbounded number.
inline constexpr const char* k_number_check = "grant-number";
/// The name of handles_empty(): the option gives its own clearer error for an empty value.
inline constexpr const char* k_handles_empty = "grant-handles-empty";

/// A flag that takes a whole number from `min` to `max`: "abc", "1.5", "nan" and values past
/// the type's range are refused with the bounds, before CLI11 converts them.
inline CLI::Validator whole_number(long long min, long long max) {
  return CLI::Validator(
      [min, max](std::string& input) -> std::string {
        long long value = 0;
        const auto [ptr, ec] = std::from_chars(input.data(), input.data() + input.size(), value);
        if (input.empty() || ptr != input.data() + input.size() || ec != std::errc{} || value < min || value > max) {
          return "'" + input + "' is not a whole number from " + std::to_string(min) + " to " + std::to_string(max);
        }
        return {};
      },
      "INT in [" + std::to_string(min) + " - " + std::to_string(max) + "]", k_number_check);
}

/// A flag that takes seconds, fractions allowed: finite, from 0 to `max` (NaN and inf would
/// turn into undefined durations).
inline CLI::Validator seconds(double max) {
  return CLI::Validator(
      [max](std::string& input) -> std::string {
        double value = 0;
        const auto [ptr, ec] = std::from_chars(input.data(), input.data() + input.size(), value);
        if (input.empty() || ptr != input.data() + input.size() || ec != std::errc{} || !std::isfinite(value) ||
            value < 0 || value > max) {
          return "'" + input + "' is not a number of seconds from 0 to " + std::to_string(static_cast<long long>(max));
        }
        return {};
      },
      "SECONDS", k_number_check);
}

/// A flag that takes a DURATION: a bare number is seconds (fractions allowed, as seconds() takes),
/// or a number with a unit as in a migration's `lock_timeout=` (`500ms`, `5s`, `2min`, `1h`).
/// The value reaches the command as seconds: the validator rewrites "250ms" to "0.25".
inline CLI::Validator duration_seconds(double max) {
  return CLI::Validator(
      [max](std::string& input) -> std::string {
        double value = 0;
        const auto [ptr, ec] = std::from_chars(input.data(), input.data() + input.size(), value);
        if (input.empty() || ptr != input.data() + input.size() || ec != std::errc{}) {
          const auto parsed = util::parse_duration(input);
          if (!parsed || std::isdigit(static_cast<unsigned char>(input.back())) != 0) {
            return "'" + input + "' is not a duration: give seconds (5, 0.5) or a unit (500ms, 5s, 2min)";
          }
          value = static_cast<double>(parsed->count()) / 1000.0;
        }
        if (!std::isfinite(value) || value < 0 || value > max) {
          return "'" + input + "' is not a duration from 0 to " + std::to_string(static_cast<long long>(max)) + " s";
        }
        input = std::to_string(value);
        return {};
      },
      "DURATION", k_number_check);
}

/// Marks an option whose command refuses an empty value itself, with a message that says more
/// than the generic one (the config path, a migration name, a shard key).
inline CLI::Validator handles_empty() {
  return CLI::Validator([](std::string&) { return std::string(); }, "", k_handles_empty);
}

} // namespace grant::cli
