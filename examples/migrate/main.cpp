// grant's migration runner and shard routing from an application, on SQLite files only (no
// server needed): writes a config and migrations into a folder, migrates every target (a plain
// database and a database of two shards) through migrate::migrate, then resolves user ids to
// shards and routes each user's row to the shard that owns it.
//
//   grant-example-migrate [FOLDER]   (default: a new folder under the system temp directory)
#include <grant/config/load.hpp>
#include <grant/error.hpp>
#include <grant/migrate/runner.hpp>
#include <grant/registry/registry.hpp>
#include <grant/route/router.hpp>
#include <grant/shard/resolver.hpp>
#include <grant/util/url.hpp>
#include <grant/version.hpp>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace fs = std::filesystem;
using grant::registry::Role;

namespace {

// Relative SQLite paths and migration folders resolve against the config file's folder.
constexpr const char* k_config = R"({"databases": {
  "app": {"url": "sqlite3:app.sqlite3", "migrations": "migrate/app"},
  "users": {
    "shards": [{"name": "s0", "url": "sqlite3:users-s0.sqlite3"}, {"name": "s1", "url": "sqlite3:users-s1.sqlite3"}],
    "migrations": "migrate/users",
    "sharding": {"key": "user_id", "resolver": {"type": "modulo"}}
  }
}})";

void say(const std::string& line) {
  std::printf("%s\n", grant::util::redact_secrets(line).c_str());
}

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

int run(const fs::path& dir) {
  write(dir / "grant.json", k_config);
  write(dir / "migrate/app/20260101000000_create_notes.sql",
        "-- grant:up\nCREATE TABLE notes (id integer PRIMARY KEY, body text NOT NULL);\n"
        "-- grant:down\nDROP TABLE notes;\n");
  write(dir / "migrate/users/20260101000000_create_accounts.sql",
        "-- grant:up\nCREATE TABLE accounts (user_id integer PRIMARY KEY, name text NOT NULL);\n"
        "-- grant:down\nDROP TABLE accounts;\n");
  write(dir / "migrate/users/20260102000000_add_accounts_balance.sql",
        "-- grant:up\nALTER TABLE accounts ADD COLUMN balance integer NOT NULL DEFAULT 0;\n");
  say(std::string("grant library ") + GRANT_VERSION + ", working in " + dir.string());

  // 1. The config, loaded and validated as the CLI loads it.
  const auto config = grant::config::load(dir / "grant.json", grant::config::process_env());
  grant::registry::Registry registry(config);

  // 2. Migrations through the library's runner: every target (database x shard), files checked
  //    before anything runs, each target under its migration lock.
  const auto work = grant::migrate::prepare(grant::migrate::select_targets(config, {}, {}));
  const grant::migrate::MigrateOptions options;
  const grant::migrate::EventSink events = [](const grant::migrate::Event& event) {
    if (event.kind == grant::migrate::Event::Kind::applied) {
      say("  " + event.target + ": applied " + event.migration);
    }
  };
  grant::migrate::preflight(registry, work.targets, options, events);
  const auto results = grant::migrate::migrate(registry, work, options, events);
  for (const auto& result : results) {
    say("migrate: " + result.target.label() +
        (result.ok ? " at " + result.current_version : " FAILED: " + result.error));
  }
  if (const int code = grant::migrate::exit_code_of(results); code != 0) {
    return code;
  }
  std::size_t again = 0;
  for (const auto& result : grant::migrate::migrate(registry, work, options, events)) {
    again += result.steps.size();
  }
  say("migrate again: " + std::to_string(again) + " applied (nothing pending)");

  // 3. Routing by shard key: the resolver names the shard, the router opens a scope on it.
  const auto* users = config.find("users");
  const auto resolver = grant::shard::make_resolver(*users);
  grant::route::Router router(registry);
  for (const std::int64_t user : {1, 2, 3, 4}) {
    const auto key = grant::shard::Key::from_integer(user);
    router.with_key("users", key, Role::writing, [&](grant::route::Session& session) {
      session.query("INSERT INTO accounts (user_id, name, balance) VALUES ($1, $2, 100)",
                    {std::to_string(user), "user " + std::to_string(user)});
    });
    say("route: user " + std::to_string(user) + " -> users/" + resolver->resolve_name(key));
  }
  // Each shard holds exactly the users the resolver gave it.
  bool placed = true;
  for (const auto& shard : {std::string("s0"), std::string("s1")}) {
    const auto ids = router.with_connection("users", Role::reading, shard, [](grant::route::Session& session) {
      std::string list;
      for (const auto& row : session.query("SELECT user_id FROM accounts ORDER BY user_id").rows) {
        list += (list.empty() ? "" : ",") + row[0].value_or("NULL");
      }
      return list;
    });
    say("shard users/" + shard + " holds users " + ids);
    placed = placed && ids == (shard == "s0" ? "2,4" : "1,3");
  }
  say(placed ? "example: done" : "example: FAILED, a row is on the wrong shard");
  return placed ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  try {
    fs::path dir;
    if (argc > 1) {
      dir = argv[1];
    } else {
      dir = fs::temp_directory_path() / ("grant-example-migrate-" + std::to_string(std::random_device{}()));
    }
    fs::create_directories(dir);
    return run(fs::absolute(dir));
  } catch (const grant::Error& error) {
    std::fprintf(stderr, "example: error: %s (%s)\n", grant::util::redact_secrets(error.what()).c_str(),
                 grant::util::redact_secrets(error.where()).c_str());
    return error.exit_code();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "example: error: %s\n", grant::util::redact_secrets(error.what()).c_str());
  }
  return 3;
}
