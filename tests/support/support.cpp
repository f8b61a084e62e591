#include "support/support.hpp"
#include "support/pg_session.hpp"

#include <grant/db/connection.hpp>
#include <grant/util/url.hpp>

#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace grant::test {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "grant-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  m_path = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(m_path, ignored);
}

std::filesystem::path TempDir::write(const std::string& relative, const std::string& content) const {
  const auto file = m_path / relative;
  std::filesystem::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary);
  out << content;
  return file;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

RunResult run_grant(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                    const std::map<std::string, std::optional<std::string>>& env, const std::string& stdin_text) {
  int out_pipe[2];
  int err_pipe[2];
  int in_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0 || pipe(in_pipe) != 0) {
    throw std::runtime_error("pipe failed");
  }
  // Build argv and envp before fork: only async-signal-safe calls after it.
  std::vector<std::string> argv_storage{GRANT_BINARY};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_storage) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  std::map<std::string, std::string> merged;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text(*entry);
    const auto eq = text.find('=');
    merged[text.substr(0, eq)] = eq == std::string::npos ? "" : text.substr(eq + 1);
  }
  for (const auto& [name, value] : env) {
    if (value) {
      merged[name] = *value;
    } else {
      merged.erase(name);
    }
  }
  std::vector<std::string> env_storage;
  for (const auto& [name, value] : merged) {
    env_storage.push_back(name + "=" + value);
  }
  std::vector<char*> envp;
  for (auto& entry : env_storage) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);
  const std::string dir = cwd.empty() ? std::string() : cwd.string();

  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    close(in_pipe[0]);
    close(in_pipe[1]);
    close(out_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[0]);
    close(err_pipe[1]);
    if (!dir.empty() && chdir(dir.c_str()) != 0) {
      _exit(126);
    }
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  // Feed stdin and drain both outputs together so no pipe fills up and blocks the child.
  std::size_t written = 0;
  if (stdin_text.empty()) {
    close(in_pipe[1]);
    in_pipe[1] = -1;
  } else {
    fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
  }
  RunResult result;
  bool out_open = true;
  bool err_open = true;
  char buffer[8192];
  while (out_open || err_open) {
    std::vector<pollfd> fds;
    if (out_open) {
      fds.push_back({out_pipe[0], POLLIN, 0});
    }
    if (err_open) {
      fds.push_back({err_pipe[0], POLLIN, 0});
    }
    if (in_pipe[1] >= 0) {
      fds.push_back({in_pipe[1], POLLOUT, 0});
    }
    poll(fds.data(), fds.size(), -1);
    for (const auto& fd : fds) {
      if (fd.revents == 0) {
        continue;
      }
      if (fd.fd == in_pipe[1]) {
        const auto n = write(in_pipe[1], stdin_text.data() + written, stdin_text.size() - written);
        if (n > 0) {
          written += static_cast<std::size_t>(n);
        }
        if (n < 0 || written == stdin_text.size()) {
          close(in_pipe[1]);
          in_pipe[1] = -1;
        }
        continue;
      }
      const auto n = read(fd.fd, buffer, sizeof buffer);
      if (n <= 0) {
        close(fd.fd);
        (fd.fd == out_pipe[0] ? out_open : err_open) = false;
      } else {
        (fd.fd == out_pipe[0] ? result.out : result.err).append(buffer, static_cast<std::size_t>(n));
      }
    }
  }
  if (in_pipe[1] >= 0) {
    close(in_pipe[1]);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

int closed_port() {
  // Bind port 0 to get a free port from the kernel, then close it: nothing listens there.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

std::string server_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr || *value == '\0') {
    FAIL("environment variable " << name
                                 << " is not set: start the test servers with tests/servers.sh start "
                                    "and source the env file it prints (scripts/test.sh does both)");
  }
  return value;
}

std::string writer_url() {
  return server_env("GRANT_TEST_PG_WRITER_URL");
}
std::string replica_url() {
  return server_env("GRANT_TEST_PG_REPLICA_URL");
}
std::string shard_url(int index) {
  return server_env("GRANT_TEST_PG_SHARD" + std::to_string(index) + "_URL");
}

std::string with_dbname(const std::string& url, const std::string& dbname) {
  const auto scheme_end = url.find("://");
  const auto slash = url.find('/', scheme_end + 3);
  const auto query = url.find('?', scheme_end + 3);
  std::string out = url.substr(0, slash == std::string::npos ? query : slash) + "/" + dbname;
  if (query != std::string::npos) {
    out += url.substr(query);
  }
  return out;
}

std::string fresh_database(const std::string& url, const std::string& prefix) {
  static std::atomic<int> counter{0};
  static const auto run_id = std::random_device{}() % 100000;
  const std::string name =
      prefix + "_" + std::to_string(getpid()) + "_" + std::to_string(run_id) + "_" + std::to_string(counter++);
  if (url.rfind("mysql://", 0) == 0 || url.rfind("mariadb://", 0) == 0) {
    db::connect(util::parse_database_url(url, "/"), {})->execute("CREATE DATABASE `" + name + "`");
    return with_dbname(url, name);
  }
  pg_execute(url, "CREATE DATABASE " + pg_session(url)->quote_name(name));
  return with_dbname(url, name);
}

} // namespace grant::test
