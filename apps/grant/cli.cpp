#include <grant/cli.hpp>

int grant::cli::run(int, char**) { return 0; }
