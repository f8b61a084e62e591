// grant-fault-proxy: the tests' fault-injecting proxy as a program, for scripts, demos and
// manual chaos runs. Never installed; it lives with the tests.
//
//   grant-fault-proxy URL [--drop-before TEXT | --drop-after TEXT | --stall TEXT]... [--times N]
//   grant-fault-proxy --silent N
//
// Prints the proxied URL (password kept as given) on stdout, then forwards until killed.
// --silent N: N ports on 127.0.0.1 that accept TCP connections and never send a byte (a hung
// server); prints one postgres:// URL per port, then holds every connection open until killed.
#include "support/fault_proxy.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

sigset_t stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

int silent(int count) {
  std::vector<pollfd> listeners;
  for (int i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 64) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      std::cerr << "grant-fault-proxy: cannot listen on 127.0.0.1: " << std::strerror(errno) << "\n";
      return 1;
    }
    listeners.push_back({fd, POLLIN, 0});
    std::cout << "postgres://grant@127.0.0.1:" << ntohs(address.sin_port) << "/silent\n";
  }
  std::cout << std::flush;
  const auto signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread acceptor([&listeners] {
    std::vector<int> held; // open and silent until the process ends
    for (;;) {
      if (::poll(listeners.data(), listeners.size(), -1) < 0) {
        continue;
      }
      for (auto& listener : listeners) {
        if ((listener.revents & POLLIN) != 0) {
          const int client = ::accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC);
          if (client >= 0) {
            held.push_back(client);
          }
        }
      }
    }
  });
  acceptor.detach();
  int received = 0;
  sigwait(&signals, &received);
  ::_exit(0); // the acceptor still polls the listeners: no destructors under its feet
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    std::cerr << "usage: grant-fault-proxy URL [--drop-before TEXT | --drop-after TEXT | --stall TEXT]... [--times N]\n"
                 "       grant-fault-proxy --silent N\n"
                 "  --times N applies to the rules after it (default 1, -1: every time)\n"
                 "  --silent N: N ports that accept TCP and never answer, one URL per line\n";
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "--silent") == 0) {
    const int count = argc == 3 ? std::atoi(argv[2]) : 0;
    if (count <= 0) {
      std::cerr << "grant-fault-proxy: --silent needs a positive count\n";
      return 2;
    }
    return silent(count);
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
  const auto signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  int received = 0;
  sigwait(&signals, &received);
  std::cerr << "grant-fault-proxy: " << proxy.fired() << " fault(s) injected over " << proxy.connections()
            << " connection(s)\n";
  return 0;
}
