#include "support/pg_pair.hpp"

#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace grant::test {

namespace {

constexpr const char* k_role = "grant";
constexpr const char* k_password = "pg-pair-test-secret";
constexpr const char* k_runuser = "/usr/sbin/runuser";
// Small and fast, for a server that lives a few seconds; the replica gets them by pg_basebackup.
constexpr const char* k_settings = R"(
# ---- PgPair (tests/support/pg_pair.cpp) ----
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
shared_buffers = 4MB
fsync = off
synchronous_commit = off
full_page_writes = off
autovacuum = off
jit = off
wal_level = replica
max_wal_senders = 4
max_replication_slots = 4
wal_receiver_status_interval = 1s
wal_retrieve_retry_interval = 100ms
timezone = 'UTC'
log_timezone = 'UTC'
include_if_exists = 'port.conf'
)";

bool port_in_use(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return connected;
}

// Outside the kernel's ephemeral range (32768-60999), which client sockets draw from.
int pick_port() {
  static std::mt19937 random{std::random_device{}()};
  for (int i = 0; i < 500; ++i) {
    const int port = 15000 + static_cast<int>(random() % 17000);
    if (!port_in_use(port)) {
      return port;
    }
  }
  throw std::runtime_error("PgPair: found no free TCP port on 127.0.0.1");
}

std::string tail(const std::filesystem::path& file, std::size_t lines) {
  const auto text = read_file(file);
  std::size_t start = text.size();
  for (std::size_t seen = 0; start > 0 && seen <= lines; --start) {
    if (text[start - 1] == '\n') {
      ++seen;
    }
  }
  return text.substr(start);
}

// Files written by the test process (root) must belong to the OS user running the servers.
void give_to_postgres(const std::filesystem::path& path) {
  if (::geteuid() != 0) {
    return;
  }
  const passwd* user = ::getpwnam("postgres");
  if (user == nullptr || ::chown(path.c_str(), user->pw_uid, user->pw_gid) != 0) {
    throw std::runtime_error("PgPair: cannot give " + path.string() + " to the postgres OS user");
  }
}

void append(const std::filesystem::path& file, const std::string& text) {
  const bool existed = std::filesystem::exists(file);
  std::ofstream(file, std::ios::app) << text;
  if (!existed) {
    give_to_postgres(file);
  }
}

} // namespace

PgPair::PgPair() {
  try {
    setup();
  } catch (const std::exception& error) {
    stop_all(); // the folder goes with m_dir
    FAIL("PgPair: " << error.what());
  } catch (...) {
    stop_all();
    throw;
  }
}

void PgPair::setup() {
  const char* bin = std::getenv("GRANT_TEST_PG_BIN");
  m_bin = bin != nullptr && *bin != '\0' ? bin : "/usr/lib/postgresql/15/bin";
  if (!std::filesystem::exists(m_bin + "/initdb")) {
    FAIL("PgPair: no PostgreSQL 15 in " << m_bin << " (set GRANT_TEST_PG_BIN)");
  }
  if (::geteuid() == 0 && ::getpwnam("postgres") == nullptr) {
    FAIL("PgPair: running as root but there is no postgres OS user to run the servers as");
  }
  give_to_postgres(m_dir.path());
  std::filesystem::create_directories(m_dir / "logs");
  give_to_postgres(m_dir / "logs");
  append(m_dir / "password", std::string(k_password) + "\n");

  pg("initdb", {"-D", (m_dir / "writer").string(), "-U", k_role, "--pwfile", (m_dir / "password").string(),
                "--auth-host=scram-sha-256", "--auth-local=trust", "--no-sync", "--no-instructions", "-E", "UTF8",
                "--locale=C", "--wal-segsize=1"});
  append(m_dir / "writer/postgresql.conf",
         std::string(k_settings) + "max_connections = " + std::to_string(k_max_connections) + "\n");
  start_on_free_port(m_writer);
  pg("pg_basebackup",
     {"-h", "127.0.0.1", "-p", std::to_string(m_writer.port), "-U", k_role, "-D", (m_dir / "replica").string(), "-R",
      "-X", "stream", "-c", "fast", "--no-sync", "-C", "-S", "pg_pair_replica"});
  start_on_free_port(m_replica);
  ensure_running();
}

PgPair::~PgPair() {
  stop_all();
}

void PgPair::stop_all() noexcept {
  // The replica first: stopped before its writer it does not retry connecting meanwhile.
  for (auto* server : {&m_replica, &m_writer}) {
    try {
      stop(*server, "immediate");
    } catch (...) {
    }
  }
}

std::string PgPair::password() {
  return k_password;
}

std::string PgPair::url(int port) const {
  return std::string("postgres://") + k_role + ":" + k_password + "@127.0.0.1:" + std::to_string(port) + "/postgres";
}

std::string PgPair::writer_url() const {
  return url(m_writer.port);
}
std::string PgPair::replica_url() const {
  return url(m_replica.port);
}

void PgPair::stop_writer() {
  stop(m_writer, "fast");
}
void PgPair::stop_replica() {
  stop(m_replica, "immediate");
}
void PgPair::start_writer() {
  start(m_writer);
}
void PgPair::start_replica() {
  start(m_replica);
}

void PgPair::promote_replica() {
  pg("pg_ctl", {"promote", "-D", (m_dir / "replica").string(), "-w", "-t", "30", "-s"});
}

void PgPair::ensure_running() {
  if (!m_writer_running) {
    start_writer();
  }
  if (!m_replica_running) {
    start_replica();
  }
  if (!eventually([&] { return streaming(); }, std::chrono::seconds(30))) {
    FAIL("PgPair: the replica does not stream from the writer after 30 s; the end of its log:\n"
         << tail(m_dir / "logs/replica.log", 10));
  }
}

bool PgPair::streaming() const {
  try {
    pqxx::connection replica(replica_url() + "?connect_timeout=2");
    pqxx::nontransaction work(replica);
    return work
        .exec1("SELECT pg_is_in_recovery() AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver "
               "WHERE status = 'streaming')")[0]
        .as<bool>();
  } catch (const std::exception&) {
    return false;
  }
}

void PgPair::start_on_free_port(Server& server) {
  // A port can be taken between picking and binding: the first start moves to another one.
  for (int attempt = 1;; ++attempt) {
    server.port = pick_port();
    write_port(server);
    try {
      start(server);
      return;
    } catch (const std::exception& error) {
      if (attempt == 5 || !contains(read_file(m_dir / "logs" / (server.name + ".log")), "could not bind")) {
        throw;
      }
    }
  }
}

void PgPair::write_port(const Server& server) const {
  const auto file = m_dir / server.name / "port.conf";
  std::filesystem::remove(file);
  append(file, "port = " + std::to_string(server.port) + "\n");
}

void PgPair::start(Server& server) {
  if (*server.running) {
    return;
  }
  pg("pg_ctl", {"start", "-D", (m_dir / server.name).string(), "-l", (m_dir / "logs" / (server.name + ".log")).string(),
                "-w", "-t", "60", "-s"});
  *server.running = true;
}

void PgPair::stop(Server& server, const std::string& mode) {
  if (!*server.running) {
    return;
  }
  pg("pg_ctl", {"stop", "-D", (m_dir / server.name).string(), "-m", mode, "-w", "-t", "30", "-s"});
  *server.running = false;
}

void PgPair::pg(const std::string& program, const std::vector<std::string>& args) const {
  // Everything the child needs is built before fork: only async-signal-safe calls after it.
  std::vector<std::string> argv_storage;
  if (::geteuid() == 0) {
    argv_storage = {k_runuser, "-u", "postgres", "--"};
  }
  argv_storage.push_back(m_bin + "/" + program);
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_storage) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  // The caller's libpq settings stay out; the password reaches pg_basebackup only.
  std::vector<std::string> env_storage;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text(*entry);
    if (!text.starts_with("PG") && !text.starts_with("HOME=")) {
      env_storage.push_back(text);
    }
  }
  env_storage.push_back("HOME=" + m_dir.path().string());
  env_storage.push_back(std::string("PGPASSWORD=") + k_password);
  env_storage.push_back("LC_ALL=C");
  std::vector<char*> envp;
  for (auto& entry : env_storage) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);
  const auto log = (m_dir / "logs/commands.log").string();
  const auto dir = m_dir.path().string();

  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    // The postmaster daemonizes: it must not keep the test's sockets or pipes open.
    ::close_range(3, ~0U, 0);
    if (::chdir(dir.c_str()) != 0) { // the postgres OS user must be able to read its cwd
      ::_exit(126);
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(program + " failed (exit " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                             "):\n" + tail(log, 10));
  }
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

} // namespace grant::test
