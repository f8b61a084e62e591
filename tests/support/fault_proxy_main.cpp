// grant-fault-proxy: the tests' fault-injecting proxy as a program, for scripts, demos and
// manual chaos runs. Never installed; it lives with the tests.
//
//   grant-fault-proxy URL [--drop-before TEXT | --drop-after TEXT | --stall TEXT]... [--times N]
//
// Prints the proxied URL (password kept as given) on stdout, then forwards until killed.
#include "support/fault_proxy.hpp"

#include <csignal>
#include <cstring>
#include <iostream>
#include <thread>

#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    std::cerr << "usage: grant-fault-proxy URL [--drop-before TEXT | --drop-after TEXT | --stall TEXT]... [--times N]\n"
                 "  --times N applies to the rules after it (default 1, -1: every time)\n";
    return argc < 2 ? 2 : 0;
  }
  grant::test::FaultProxy proxy(argv[1]);
  int times = 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--times") {
      times = std::stoi(value);
    } else if (flag == "--drop-before") {
      proxy.add_rule(value, grant::test::FaultProxy::Action::drop_before, times);
    } else if (flag == "--drop-after") {
      proxy.add_rule(value, grant::test::FaultProxy::Action::drop_after, times);
    } else if (flag == "--stall") {
      proxy.add_rule(value, grant::test::FaultProxy::Action::stall, times);
    } else {
      std::cerr << "grant-fault-proxy: unknown flag " << flag << "\n";
      return 2;
    }
  }
  std::cout << proxy.url() << std::endl;
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  int received = 0;
  sigwait(&signals, &received);
  std::cerr << "grant-fault-proxy: " << proxy.fired() << " fault(s) injected over " << proxy.connections()
            << " connection(s)\n";
  return 0;
}
