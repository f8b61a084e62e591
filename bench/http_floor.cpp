// The floor for bench/serve.sh: cpp-httplib set up as `grant serve` sets it up (threads,
// keep-alive, no SO_REUSEPORT), answering every GET with a fixed small JSON body and touching no
// state. `grant serve`'s requests per second over this one's is what answering from the health
// monitor's state costs on top of the HTTP library.
//
//   bench_http_floor [THREADS]     prints "http://127.0.0.1:PORT" and serves until killed
#include <httplib.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 8;
  httplib::Server server;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  server.set_keep_alive_max_count(10'000);
  server.set_tcp_nodelay(true);
  server.set_socket_options([](socket_t socket) {
    int yes = 1;
    ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server.Get(R"(/.*)", [](const httplib::Request&, httplib::Response& response) {
    response.set_header("Cache-Control", "no-store");
    response.set_content("{\"available\":true,\"endpoints\":[]}\n", "application/json");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) {
    std::fprintf(stderr, "bench_http_floor: cannot bind 127.0.0.1\n");
    return 1;
  }
  std::printf("http://127.0.0.1:%d\n", port);
  std::fflush(stdout);
  server.listen_after_bind();
  return 0;
}
