#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace grant::cli {

/// Rules every option of every command follows, applied once over the whole command tree:
///  - an option that takes a value refuses an empty one ("--to ''" is not "--to" left out:
///    in CI, `--to "$VERSION"` with an unset variable must not deploy everything), unless it
///    carries handles_empty();
///  - an option that takes a number carries a bounds check from flag_checks.hpp; one that does
///    not is a programming error, reported at start-up of every run (so every test catches it).
void enforce_option_rules(CLI::App& app);

/// For a command line that names no known command where one is expected ("grant migrat",
/// "grant config chek"): the message to print, with a suggestion when one is close.
std::optional<std::string> unknown_command(const CLI::App& app, int argc, const char* const* argv);

} // namespace grant::cli
