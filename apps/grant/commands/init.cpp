#include <grant/commands.hpp>
#include <grant/context.hpp>

#include <grant/error.hpp>
#include <grant/migrate/source_file.hpp>
#include <grant/util/strings.hpp>

#include <filesystem>
#include <fstream>

namespace grant::cli {

namespace {

struct InitOptions {
  std::string directory = ".";
  std::string engine = "sqlite";
};

// The starter database's URL per --engine; a password comes from the environment (${VAR}).
std::string starter_url(const std::string& engine) {
  if (engine == "postgres") {
    return "postgres://app:${PGPASSWORD}@127.0.0.1:5432/primary";
  }
  if (engine == "mysql") {
    return "mysql://app:${MYSQL_PASSWORD}@127.0.0.1:3306/primary";
  }
  return "sqlite3:primary.sqlite3";
}

std::string starter_config(const std::string& engine) {
  return "{\n  \"databases\": {\n    \"primary\": {\n      \"url\": \"" + starter_url(engine) +
         "\",\n      \"migrations\": \"migrate/primary\"\n    }\n  }\n}\n";
}

// The project folder must be a folder grant can write into: a file, a symlink loop or a folder
// without write permission is a usage error naming the path, never a filesystem_error.
void check_project_folder(const std::filesystem::path& root) {
  namespace fs = std::filesystem;
  std::error_code error;
  const auto status = fs::status(root, error);
  if (error && status.type() != fs::file_type::not_found) {
    throw ConfigError("cannot use " + util::in_quotes(root.string()) + " as the project folder: " + error.message(),
                      "--dir " + root.string(), "name a folder you can write to");
  }
  if (fs::exists(status) && !fs::is_directory(status)) {
    throw ConfigError(util::in_quotes(root.string()) + " is a file, not a folder", "--dir " + root.string(),
                      "name the project folder (it is created when missing)");
  }
}

void run_init(const InitOptions& options, Context& context) {
  namespace fs = std::filesystem;
  const fs::path root(options.directory);
  const fs::path config_file = root / "db" / "grant.json";
  const fs::path migrations = root / "db" / "migrate" / "primary";
  check_project_folder(root);
  std::error_code error;
  if (fs::exists(fs::symlink_status(config_file, error))) {
    throw ConfigError("refusing to overwrite existing " + config_file.string(), config_file.string(),
                      "edit it, or remove it first if you really want a fresh starter config");
  }
  migrate::create_migrations_folder(migrations);
  std::ofstream out(config_file);
  out << starter_config(options.engine);
  out.close();
  if (!out) {
    throw Error(ErrorKind::usage, "could not write " + config_file.string(), config_file.string(),
                "check that the folder is writable");
  }
  if (context.global.json) {
    context.emit_json({{"config", config_file.string()}, {"migrations", migrations.string()}});
    return;
  }
  context.say("wrote " + config_file.string());
  context.say("created " + migrations.string() + "/");
  if (options.engine != "sqlite") {
    context.say("edit the url in " + config_file.string() + " (" + starter_url(options.engine) +
                "): its password is read from " + (options.engine == "mysql" ? "MYSQL_PASSWORD" : "PGPASSWORD") +
                " when grant runs");
  }
  context.say("next: grant generate migration create_users --database primary");
}

} // namespace

void setup_init(CLI::App& app, Context& context) {
  auto options = std::make_shared<InitOptions>();
  auto* command = app.add_subcommand("init", "Write a starter db/grant.json (SQLite) and db/migrate/primary/");
  command->add_option("--dir", options->directory, "Project folder to initialise (default: .)");
  command->add_option("--engine", options->engine, "The starter database: sqlite (default), postgres or mysql")
      ->check(CLI::IsMember({"sqlite", "postgres", "mysql"}));
  command->footer("Examples:\n  grant init && grant generate migration create_users --database primary\n"
                  "  grant init --engine mysql    # mysql://app:${MYSQL_PASSWORD}@127.0.0.1:3306/primary");
  command->callback([options, &context] { run_init(*options, context); });
}

} // namespace grant::cli
