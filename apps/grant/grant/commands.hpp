#pragma once

#include <CLI/CLI.hpp>

namespace grant::cli {

class Context;

// One file per subcommand (apps/grant/commands/<name>.cpp), each registering itself here.
void setup_init(CLI::App& app, Context& context);
void setup_config(CLI::App& app, Context& context);
void setup_generate(CLI::App& app, Context& context);
void setup_migrate(CLI::App& app, Context& context);
void setup_rollback(CLI::App& app, Context& context);
void setup_redo(CLI::App& app, Context& context);
void setup_status(CLI::App& app, Context& context);
void setup_validate(CLI::App& app, Context& context);
void setup_baseline(CLI::App& app, Context& context);
void setup_repair(CLI::App& app, Context& context);
void setup_recover(CLI::App& app, Context& context);
void setup_shard_resolve(CLI::App& app, Context& context);
void setup_shard_check(CLI::App& app, Context& context);
void setup_health(CLI::App& app, Context& context);
void setup_serve(CLI::App& app, Context& context);
void setup_query(CLI::App& app, Context& context);
void setup_completion(CLI::App& app, Context& context);
void setup_rebalance(CLI::App& app, Context& context);
void setup_lint(CLI::App& app, Context& context);

} // namespace grant::cli
