#pragma once

#include <CLI/CLI.hpp>

namespace grant::cli {

class Context;

// One file per subcommand (apps/grant/commands/<name>.cpp), each registering itself here.
void setup_init(CLI::App& app, Context& context);
void setup_config(CLI::App& app, Context& context);

} // namespace grant::cli
