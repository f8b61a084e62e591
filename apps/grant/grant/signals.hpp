#pragma once

#include <CLI/CLI.hpp>

namespace grant::cli {

/// For the commands that talk to servers: SIGINT and SIGTERM cancel what runs on the servers
/// (db::cancel) instead of killing grant; a second signal exits at once.
void cancel_on_signal();

/// `code`, or 128 + the signal once a signal stopped the run, saying so last on stderr.
int after_signal(int code, const CLI::App& app);

} // namespace grant::cli
