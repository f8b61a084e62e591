#pragma once

namespace grant::cli {

/// Parses the command line, runs the command and returns the process exit code
/// (CONTRACT.md "Exit codes"). Never throws.
int run(int argc, char** argv);

} // namespace grant::cli
