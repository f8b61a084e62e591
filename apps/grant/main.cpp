#include <grant/cli.hpp>

int main(int argc, char** argv) {
  return grant::cli::run(argc, argv);
}
