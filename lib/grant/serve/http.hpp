#pragma once

#include <grant/serve/view.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace grant::serve {

/// Answers a GET or HEAD request: its path and its `lag` query parameter when given.
using GetHandler = std::function<Answer(const std::string& path, std::optional<std::string_view> lag)>;

/// The HTTP side of `grant serve` (cpp-httplib, in http_listener.cpp, the only file with
/// `<httplib.h>`): GET and HEAD through the handler, 405 for every other method, no
/// `SO_REUSEPORT`. The grant program loads it as a module when `grant serve` starts
/// (apps/grant/modules.cpp), so no other command loads cpp-httplib and the OpenSSL it initialises.
class HttpListener {
public:
  virtual ~HttpListener() = default;
  /// Binds the listening socket: the port (the chosen one for port 0), or -1 when it cannot.
  virtual int bind(const std::string& host, int port) = 0;
  /// Serves on `threads` threads until stop().
  virtual void listen() = 0;
  /// Makes listen() return; ignored unless listen() is running.
  virtual void stop() = 0;

protected:
  HttpListener() = default;
};

std::unique_ptr<HttpListener> make_http_listener(GetHandler handler, int threads);

} // namespace grant::serve
