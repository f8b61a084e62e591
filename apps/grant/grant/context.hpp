#pragma once

#include <grant/config/config.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace grant::cli {

/// Flags every command shares (CONTRACT.md "Commands").
struct GlobalOptions {
  std::string config_path;
  bool config_given = false; ///< --config was on the command line (even as --config "")
  bool json = false;
  bool quiet = false;
  int verbose = 0;
  bool no_color = false;
  std::vector<std::string> databases;
  std::vector<std::string> shards;
};

/// What a command needs from the program: the global flags, output helpers, the exit code.
class Context {
public:
  GlobalOptions global;
  int exit_code = 0;
  std::vector<std::string> argv; ///< the command line as given, for "re-run this to resume" hints

  /// Loads and validates the config named by --config / $GRANT_CONFIG / ./grant.json /
  /// ./db/grant.json, resolver lint included. Throws ConfigError. `urls`: util::UrlCheck::syntax
  /// for a command that will not connect (`grant lint FILE...`), which then never loads the
  /// PostgreSQL adapter; such a command must not ask again with full checks.
  const config::Config& config(util::UrlCheck urls = util::UrlCheck::full);

  // Every text printer escapes control bytes and invalid UTF-8 (util::printable): a name, key or
  // message never drives the terminal. Tabs and newlines pass.

  /// Prints a line on stdout unless --quiet or --json.
  void say(const std::string& line) const;
  /// Prints a line on stderr when -v was given.
  void detail(const std::string& line) const;
  /// Prints a warning on stderr (kept under --json: stdout stays clean).
  void warn(const std::string& line) const;
  /// Prints `grant: error: WHAT` and its `at:`, `statement:` and `hint:` lines on stderr,
  /// secrets redacted; empty parts are left out.
  void error(const std::string& what, const std::string& where = {}, const std::string& hint = {},
             const std::string& statement = {}) const;
  /// Prints the one JSON document of a --json run (util::json_text: always valid UTF-8).
  void emit_json(const nlohmann::json& document) const;

  bool color_stdout() const;
  /// Wraps text in an ANSI color when stdout is a terminal and color is allowed.
  std::string paint(const std::string& text, const char* ansi_code) const;

private:
  std::optional<config::Config> m_config;
  util::UrlCheck m_config_urls = util::UrlCheck::full;
};

} // namespace grant::cli
