#include <grant/commands.hpp>
#include <grant/context.hpp>
#include <grant/flag_checks.hpp>

#include <grant/error.hpp>
#include <grant/migrate/migration_file.hpp>
#include <grant/migrate/source_file.hpp>
#include <grant/migration_template.hpp>
#include <grant/registry/registry.hpp>
#include <grant/util/strings.hpp>
#include <grant/util/text.hpp>

#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>

namespace grant::cli {

namespace {

struct GenerateFlags {
  std::string kind;
  std::string name;
  std::string database;
};

std::string utc_version(std::time_t when) {
  std::tm utc{};
  gmtime_r(&when, &utc);
  char buffer[16];
  std::strftime(buffer, sizeof buffer, "%Y%m%d%H%M%S", &utc);
  return buffer;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

std::string load_template(const config::Config& config) {
  // The project's own templates/ (next to db/, or next to the config) wins over the built-in one.
  auto root = config.base_dir;
  for (const auto& folder : {root, root.parent_path()}) {
    const auto file = folder / "templates" / "migration.sql";
    if (std::filesystem::exists(file)) {
      std::ifstream in(file);
      std::stringstream buffer;
      buffer << in.rdbuf();
      return buffer.str();
    }
  }
  return k_builtin_migration_template;
}

void run_generate(const GenerateFlags& flags, Context& context) {
  if (flags.kind != "migration") {
    throw ConfigError("grant generate can make a migration, not " + util::in_quotes(flags.kind),
                      "generate " + flags.kind, "grant generate migration NAME --database DB");
  }
  if (!util::is_valid_utf8(flags.name)) {
    throw ConfigError("the migration name is not valid UTF-8", "generate migration", "use plain letters, digits and _");
  }
  const auto name = migrate::snake_case(flags.name);
  if (name.empty()) {
    throw ConfigError("migration name " + util::in_quotes(flags.name) + " has no letters or digits",
                      "generate migration");
  }
  const auto& config = context.config();
  const config::Database* database = nullptr;
  if (flags.database.empty()) {
    if (config.databases.size() != 1) {
      throw ConfigError("several databases are configured: say which with --database", "--database",
                        "one of: " + util::join(config.database_names(), ", "));
    }
    database = &config.databases.front();
  } else {
    database = registry::select_databases(config, {flags.database}).front();
  }
  const auto folder = database->migrations;
  migrate::create_migrations_folder(folder);
  std::time_t now = std::time(nullptr);
  std::vector<std::string> taken;
  for (const auto& entry : migrate::list_migrations_folder(folder)) {
    const auto file = entry.filename().string();
    const auto underscore = file.find('_');
    if (underscore == std::string::npos) {
      continue;
    }
    taken.push_back(file.substr(0, underscore));
    auto existing = file.substr(underscore + 1);
    for (const char* suffix : {".up.sql", ".down.sql", ".sql"}) {
      if (util::ends_with(existing, suffix)) {
        existing.resize(existing.size() - std::string_view(suffix).size());
        break;
      }
    }
    if (existing == name) {
      throw ConfigError("a migration named " + util::in_quotes(name) + " already exists: " + file, folder.string(),
                        "pick another name");
    }
  }
  std::string version = utc_version(now);
  while (std::find(taken.begin(), taken.end(), version) != taken.end()) {
    version = utc_version(++now); // two generates in one second still get distinct versions
  }
  const auto path = folder / (version + "_" + name + ".sql");
  std::string text = load_template(config);
  text = replace_all(text, "{{version}}", version);
  text = replace_all(text, "{{name}}", name);
  text = replace_all(text, "{{database}}", database->name);
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) {
    throw Error(ErrorKind::usage, "could not write " + path.string(), path.string(),
                "check that the folder is writable");
  }
  if (context.global.json) {
    context.emit_json({{"path", path.string()}, {"version", version}, {"name", name}, {"database", database->name}});
  } else if (!context.global.quiet) {
    std::cout << util::printable(path.string()) << '\n';
  }
}

} // namespace

void setup_generate(CLI::App& app, Context& context) {
  auto flags = std::make_shared<GenerateFlags>();
  auto* command = app.add_subcommand("generate", "Create a new migration file from templates/migration.sql");
  command->add_option("kind", flags->kind, "What to generate: migration")->required();
  command->add_option("name", flags->name, "Name of the migration, e.g. create_users")
      ->required()
      ->check(handles_empty());
  command->add_option("--database", flags->database, "Database it belongs to (required when several exist)");
  command->footer("Example:\n  grant generate migration create_users --database primary\n"
                  "Prints the new file's path: db/migrate/primary/<UTC YYYYMMDDHHMMSS>_create_users.sql");
  command->callback([flags, &context] { run_generate(*flags, context); });
}

} // namespace grant::cli
