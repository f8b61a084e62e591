#include "support/fault_proxy.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <regex>
#include <stdexcept>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace grant::test {

namespace {

constexpr int k_tick_ms = 20;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::uint32_t read_u32(const char* bytes) {
  std::uint32_t value = 0;
  std::memcpy(&value, bytes, 4);
  return ntohl(value);
}

bool send_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const auto n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

int connect_to(const std::string& host, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &address.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

} // namespace

FaultProxy::FaultProxy(const std::string& upstream_url)
    : m_upstream_url(upstream_url),
      m_mysql(upstream_url.rfind("mysql://", 0) == 0 || upstream_url.rfind("mariadb://", 0) == 0) {
  static const std::regex k_host_port(R"(@([0-9.]+):([0-9]+)/)");
  std::smatch found;
  if (!std::regex_search(upstream_url, found, k_host_port)) {
    throw std::invalid_argument("FaultProxy: no @host:port/ in the URL");
  }
  m_host = found[1];
  m_upstream_port = std::stoi(found[2]);
  m_listen = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(m_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(m_listen, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(m_listen, 64) != 0 ||
      getsockname(m_listen, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("FaultProxy: cannot listen on 127.0.0.1");
  }
  m_port = ntohs(address.sin_port);
  m_acceptor = std::thread([this] { accept_loop(); });
}

FaultProxy::~FaultProxy() {
  m_stop = true;
  m_acceptor.join();
  ::close(m_listen);
  for (auto& link : m_links) {
    link.join();
  }
}

std::string FaultProxy::url() const {
  static const std::regex k_host_port(R"(@([0-9.]+):([0-9]+)/)");
  return std::regex_replace(m_upstream_url, k_host_port, "@127.0.0.1:" + std::to_string(m_port) + "/",
                            std::regex_constants::format_first_only);
}

void FaultProxy::add_rule(const std::string& match, Action action, int times, const std::string& after) {
  std::lock_guard guard(m_mutex);
  m_rules.push_back({lower(match), action, times, lower(after), after.empty()});
}

void FaultProxy::clear_rules() {
  std::lock_guard guard(m_mutex);
  m_rules.clear();
}

void FaultProxy::release() {
  ++m_release_generation;
}

bool FaultProxy::match(const std::string& statement, Action& action) {
  const auto text = lower(statement);
  std::lock_guard guard(m_mutex);
  for (auto& rule : m_rules) {
    if (!rule.armed) {
      rule.armed = text.find(rule.after) != std::string::npos;
      continue;
    }
    if (rule.times != 0 && text.find(rule.match) != std::string::npos) {
      if (rule.times > 0) {
        --rule.times;
      }
      action = rule.action;
      ++m_fired;
      return true;
    }
  }
  return false;
}

void FaultProxy::accept_loop() {
  while (!m_stop) {
    pollfd fd{m_listen, POLLIN, 0};
    if (::poll(&fd, 1, k_tick_ms) <= 0) {
      continue;
    }
    const int client = ::accept(m_listen, nullptr, nullptr);
    if (client < 0) {
      continue;
    }
    ++m_connections;
    m_links.emplace_back([this, client] { serve(client); });
  }
}

// One client connection: parse what the client sends, forward what the server sends.
void FaultProxy::serve(int client) {
  const int server = connect_to(m_host, m_upstream_port);
  if (server < 0) {
    ::close(client);
    return;
  }
  const int one = 1;
  setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  enum class Mode { forward, discard_reply, stalled, closed };
  Mode mode = Mode::forward;
  bool startup = true;       // messages without a type byte until the StartupMessage
  bool drop_at_sync = false; // drop_after matched a Parse: cut once its Sync is through
  std::string pending;       // client bytes not yet a whole message
  const int release_seen = m_release_generation;
  const auto cut = [&] {
    ::shutdown(client, SHUT_RDWR);
    ::shutdown(server, SHUT_RDWR);
    mode = Mode::closed;
  };
  const auto start_discarding = [&] {
    ::shutdown(client, SHUT_RDWR); // the client sees the connection drop; the server still answers
    mode = Mode::discard_reply;
  };
  auto discard_deadline = std::chrono::steady_clock::now();
  // A matched rule before its message goes on: true when the message is held back (the
  // connection is cut before it, or stalls from it on).
  const auto held_back = [&](Action action) {
    if (action == Action::drop_before) {
      cut();
      return true;
    }
    if (action == Action::stall) {
      mode = Mode::stalled;
      return true;
    }
    return false;
  };
  // drop_after: the message reaches the server, then the client's side drops and the reply is
  // thrown away.
  const auto send_then_drop = [&](const std::string& message) {
    if (send_all(server, message.data(), message.size())) {
      discard_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      start_discarding();
    } else {
      cut();
    }
  };
  char buffer[65536];
  while (!m_stop && mode != Mode::closed) {
    if (mode == Mode::stalled) {
      if (m_release_generation != release_seen) {
        cut();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(k_tick_ms));
      continue;
    }
    pollfd fds[2] = {{client, static_cast<short>(mode == Mode::forward ? POLLIN : 0), 0}, {server, POLLIN, 0}};
    if (::poll(fds, 2, k_tick_ms) <= 0) {
      if (mode == Mode::discard_reply && std::chrono::steady_clock::now() > discard_deadline) {
        cut();
      }
      continue;
    }
    if (fds[1].revents != 0) {
      const auto n = ::recv(server, buffer, sizeof buffer, 0);
      if (n <= 0) {
        cut();
        continue;
      }
      if (mode == Mode::discard_reply) {
        cut(); // the reply arrived and is thrown away
        continue;
      }
      if (!send_all(client, buffer, static_cast<std::size_t>(n))) {
        cut();
        continue;
      }
    }
    if (mode != Mode::forward || fds[0].revents == 0) {
      continue;
    }
    const auto n = ::recv(client, buffer, sizeof buffer, 0);
    if (n <= 0) {
      cut();
      continue;
    }
    pending.append(buffer, static_cast<std::size_t>(n));
    // MySQL: packets of a 3-byte length, a sequence number and the payload; a command starts a
    // new sequence (0), and COM_QUERY (0x03) carries the statement. The handshake's packets have
    // sequence numbers from 1.
    while (m_mysql && mode == Mode::forward && pending.size() >= 4) {
      const auto* bytes = reinterpret_cast<const unsigned char*>(pending.data());
      const std::size_t length = 4 + (bytes[0] | (bytes[1] << 8U) | (bytes[2] << 16U));
      if (pending.size() < length) {
        break;
      }
      const std::string packet = pending.substr(0, length);
      pending.erase(0, length);
      Action action{};
      if (bytes[3] == 0 && length > 5 && packet[4] == 0x03 && match(packet.substr(5), action)) {
        if (!held_back(action)) {
          send_then_drop(packet);
        }
        break;
      }
      if (!send_all(server, packet.data(), packet.size())) {
        cut();
      }
    }
    // PostgreSQL: forward whole messages one at a time, looking at each statement.
    while (!m_mysql && mode == Mode::forward) {
      const std::size_t header = startup ? 4 : 5;
      if (pending.size() < header) {
        break;
      }
      const std::size_t length = read_u32(pending.data() + header - 4) + (startup ? 0 : 1);
      if (length < header || pending.size() < length) {
        break;
      }
      const std::string message = pending.substr(0, length);
      pending.erase(0, length);
      if (startup) {
        const auto code = length >= 8 ? read_u32(message.data() + 4) : 0;
        startup = code == 80877103 || code == 80877104; // SSL / GSS requests come before the startup
      } else {
        const char type = message[0];
        std::string statement;
        if (type == 'Q') {
          statement = message.substr(5);
        } else if (type == 'P') {
          const auto name_end = message.find('\0', 5);
          statement = name_end == std::string::npos ? "" : message.substr(name_end + 1);
        }
        Action action{};
        if (!statement.empty() && match(statement.c_str(), action)) {
          if (held_back(action)) {
            break;
          }
          if (type == 'Q') {
            send_then_drop(message);
            break;
          }
          if (!send_all(server, message.data(), message.size())) { // a Parse: drop once its Sync is through
            cut();
            break;
          }
          drop_at_sync = true;
          continue;
        }
        if (drop_at_sync && type == 'S') {
          send_then_drop(message);
          break;
        }
      }
      if (!send_all(server, message.data(), message.size())) {
        cut();
      }
    }
  }
  ::close(client);
  ::close(server);
}

} // namespace grant::test
