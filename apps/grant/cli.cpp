#include <grant/cli.hpp>

#include <grant/build_commit.hpp>
#include <grant/commands.hpp>
#include <grant/context.hpp>
#include <grant/flag_checks.hpp>
#include <grant/option_rules.hpp>
#include <grant/signals.hpp>

#include <grant/config/load.hpp>
#include <grant/db/error.hpp>
#include <grant/error.hpp>
#include <grant/shard/lint.hpp>
#include <grant/util/strings.hpp>
#include <grant/util/text.hpp>
#include <grant/util/url.hpp>
#include <grant/version.hpp>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string_view>

#include <unistd.h>

namespace grant::cli {

namespace {

bool stderr_colored(const GlobalOptions& global) {
  return !global.no_color && std::getenv("NO_COLOR") == nullptr && isatty(STDERR_FILENO) != 0;
}

void print_error(const Context& context, const Error& error) {
  std::string statement;
  if (const auto* db_error = dynamic_cast<const db::DbError*>(&error);
      db_error != nullptr && context.global.verbose > 0) {
    statement = db_error->statement();
  }
  context.error(error.what(), error.where(), error.hint(), statement);
  if (context.global.json) {
    context.emit_json({{"error",
                        {{"message", util::redact_secrets(error.what())},
                         {"where", util::redact_secrets(error.where())},
                         {"hint", util::redact_secrets(error.hint())},
                         {"exit_code", error.exit_code()}}}});
  }
}

const char* k_footer = R"(Examples:
  grant init                              write a starter db/grant.json (SQLite)
  grant config check --connect            validate the config and reach every server
  grant migrate --database analytics      apply pending migrations to one database
  grant status --exit-code                CI gate: exit 1 when anything is pending

Config: --config PATH, else $GRANT_CONFIG, else ./grant.json, else ./db/grant.json.
Exit codes: 0 ok, 1 a check found problems, 2 usage/config error, 3 database failure,
130/143 interrupted by SIGINT/SIGTERM (what ran was cancelled and rolled back).
Docs: docs/ in the source tree.)";

} // namespace

int run(int argc, char** argv) {
  Context context;
  context.argv.assign(argv, argv + argc);
  CLI::App app{"grant: migrations and sharding for fleets of PostgreSQL (and SQLite) databases", "grant"};
  app.require_subcommand(1);
  app.footer(k_footer);
  app.set_version_flag("--version", std::string("grant ") + GRANT_VERSION + " (commit " + GRANT_BUILD_COMMIT + ")");
  auto& global = context.global;
  app.add_option("--config", global.config_path, "Config file (default: $GRANT_CONFIG, ./grant.json, ./db/grant.json)")
      ->each([&global](const std::string&) { global.config_given = true; })
      ->check(handles_empty());
  app.add_flag("--json", global.json, "Print one JSON document on stdout and nothing else there");
  app.add_flag("-q,--quiet", global.quiet, "Print only errors");
  app.add_flag("-v,--verbose", global.verbose, "More detail on stderr (repeat for more)");
  app.add_flag("--no-color", global.no_color, "No ANSI colors (also NO_COLOR)");
  // Global flags may come before or after the subcommand.
  app.fallthrough();

  setup_init(app, context);
  setup_config(app, context);
  setup_generate(app, context);
  setup_migrate(app, context);
  setup_lint(app, context);
  setup_rollback(app, context);
  setup_redo(app, context);
  setup_status(app, context);
  setup_validate(app, context);
  setup_baseline(app, context);
  setup_repair(app, context);
  setup_recover(app, context);
  setup_shard_resolve(app, context);
  setup_shard_check(app, context);
  setup_rebalance(app, context);
  setup_health(app, context);
  setup_serve(app, context);
  setup_query(app, context);
  setup_completion(app, context);
  enforce_option_rules(app);
  for (const char* name :
       {"migrate", "rollback", "redo", "baseline", "repair", "recover", "query", "shard-check", "rebalance"}) {
    app.get_subcommand(name)->preparse_callback([](std::size_t) { cancel_on_signal(); });
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& success) {
    return app.exit(success);
  } catch (const CLI::ParseError& parse_error) {
    // CLI11 prints usage errors itself; keep our prefix and exit code 2 for them.
    if (parse_error.get_exit_code() == 0) {
      return app.exit(parse_error);
    }
    const auto unknown = unknown_command(app, argc, argv);
    // --json promises one JSON document on stdout, a usage error's included; the flag may sit
    // after the word CLI11 stopped at, so look for it in the arguments themselves.
    for (int i = 1; i < argc && std::string_view(argv[i]) != "--"; ++i) {
      context.global.json = context.global.json || std::string_view(argv[i]) == "--json";
    }
    print_error(context, ConfigError(unknown ? *unknown : std::string(parse_error.what()), "",
                                     "run `grant --help` or `grant <command> --help`"));
    return 2;
  } catch (const Error& error) {
    print_error(context, error);
    return after_signal(error.exit_code(), app);
  } catch (const std::filesystem::filesystem_error& error) {
    // A path the library did not check first: a problem of the user's files, not of a server.
    const auto where =
        error.path2().empty() ? error.path1().string() : error.path1().string() + ", " + error.path2().string();
    print_error(context,
                ConfigError(std::string("cannot use ") + util::in_quotes(where) + ": " + error.code().message(), where,
                            "fix the path or its permissions"));
    return after_signal(2, app);
  } catch (const std::exception& error) {
    print_error(context, Error(ErrorKind::database, std::string("unexpected failure: ") + error.what()));
    return after_signal(3, app);
  }
  return after_signal(context.exit_code, app);
}

const config::Config& Context::config(util::UrlCheck urls) {
  if (m_config && m_config_urls == util::UrlCheck::syntax && urls == util::UrlCheck::full) {
    // A reference to the loaded config may be held: a command asks once, knowing whether it connects.
    throw std::logic_error("the config was loaded for a command that does not connect");
  }
  if (!m_config) {
    m_config_urls = urls;
    std::optional<std::filesystem::path> path;
    if (global.config_given) {
      path = global.config_path;
    }
    auto loaded = config::load(path, config::process_env(), urls);
    shard::validate(loaded); // resolver lint is part of loading: a bad resolver is a config error
    m_config = std::move(loaded);
  }
  return *m_config;
}

void Context::say(const std::string& line) const {
  if (!global.quiet && !global.json) {
    std::cout << util::printable(line, "\n\t", color_stdout()) << '\n';
  }
}

void Context::detail(const std::string& line) const {
  if (global.verbose > 0) {
    std::cerr << util::printable(util::redact_secrets(line), "\n\t") << '\n';
  }
}

void Context::warn(const std::string& line) const {
  std::cerr << "grant: warning: " << util::printable(util::redact_secrets(line), "\n\t") << '\n';
}

void Context::error(const std::string& what, const std::string& where, const std::string& hint,
                    const std::string& statement) const {
  const auto line = [](const char* label, const std::string& text) {
    return text.empty() ? std::string() : label + util::printable(util::redact_secrets(text), "\n\t") + "\n";
  };
  const std::string prefix = stderr_colored(global) ? "\033[1;31mgrant: error:\033[0m " : "grant: error: ";
  std::cerr << prefix + util::printable(util::redact_secrets(what), "\n\t") + "\n" + line("  at: ", where) +
                   line("  statement: ", statement) + line("  hint: ", hint)
            << std::flush;
}

void Context::emit_json(const nlohmann::json& document) const {
  std::cout << util::json_text(document, 2) << std::endl;
}

bool Context::color_stdout() const {
  return !global.no_color && std::getenv("NO_COLOR") == nullptr && isatty(STDOUT_FILENO) != 0;
}

std::string Context::paint(const std::string& text, const char* ansi_code) const {
  return color_stdout() ? std::string("\033[") + ansi_code + "m" + text + "\033[0m" : text;
}

} // namespace grant::cli
