// Pool checkout + trivial query + checkin, against opening a fresh connection for the same query,
// measured in the same run on the same server (PostgreSQL) and on a SQLite file.
//
//   build/bench/bench_pool [--iterations N] [--fresh-iterations N]
//
// PostgreSQL comes from GRANT_TEST_PG_WRITER_URL (tests/servers.sh start); without it only
// SQLite runs. Prints ns/op for each and the ratio fresh / pooled.
#include <grant/db/connection.hpp>
#include <grant/registry/pool.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <unistd.h>

namespace {

using Clock = std::chrono::steady_clock;

double ns_per_op(int iterations, const std::function<void()>& body) {
  const auto start = Clock::now();
  for (int i = 0; i < iterations; ++i) {
    body();
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / iterations;
}

void check(const grant::db::Value& value) {
  if (value != grant::db::Value{"1"}) {
    std::fprintf(stderr, "bench_pool: unexpected query result\n");
    std::exit(1);
  }
}

void run(const char* name, const grant::util::DatabaseUrl& url, int iterations, int fresh_iterations) {
  grant::db::ConnectOptions connect;
  connect.target = name;
  grant::registry::PoolOptions options;
  options.max_size = 1;
  options.max_idle = 1;
  grant::registry::Pool pool(
      name, [&] { return grant::db::connect(url, connect); }, options);
  check(pool.checkout()->query("SELECT 1").scalar()); // open the one connection outside the timing

  const double checkout_only = ns_per_op(iterations, [&] { auto connection = pool.checkout(); });
  const double pooled = ns_per_op(iterations, [&] {
    auto connection = pool.checkout();
    check(connection->query("SELECT 1").scalar());
  });
  const double fresh = ns_per_op(fresh_iterations, [&] {
    auto connection = grant::db::connect(url, connect);
    check(connection->query("SELECT 1").scalar());
  });
  const auto stats = pool.stats();
  std::printf("%-10s pool checkout+checkin            %12.0f ns/op  (%d ops)\n", name, checkout_only, iterations);
  std::printf("%-10s pool checkout+SELECT 1+checkin   %12.0f ns/op  (%d ops)\n", name, pooled, iterations);
  std::printf("%-10s connect+SELECT 1+close           %12.0f ns/op  (%d ops)\n", name, fresh, fresh_iterations);
  std::printf("%-10s fresh / pooled                   %12.1f x     (connections created by the pool: %llu)\n", name,
              fresh / pooled, static_cast<unsigned long long>(stats.created));
}

} // namespace

int main(int argc, char** argv) {
  int iterations = 20000;
  int fresh_iterations = 500;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--iterations" && i + 1 < argc) {
      iterations = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--fresh-iterations" && i + 1 < argc) {
      fresh_iterations = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: bench_pool [--iterations N] [--fresh-iterations N]\n");
      return 2;
    }
  }
  try {
    if (const char* writer = std::getenv("GRANT_TEST_PG_WRITER_URL"); writer != nullptr && *writer != '\0') {
      run("postgres", grant::util::parse_database_url(writer, "/"), iterations, fresh_iterations);
    } else {
      std::printf(
          "postgres   skipped: GRANT_TEST_PG_WRITER_URL is not set (source the env of tests/servers.sh start)\n");
    }
    const auto file =
        std::filesystem::temp_directory_path() / ("grant-bench-pool-" + std::to_string(getpid()) + ".sqlite3");
    run("sqlite", grant::util::parse_database_url("sqlite3:" + file.string(), "/"), iterations, iterations);
    std::filesystem::remove(file);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_pool: %s\n", grant::util::redact_secrets(error.what()).c_str());
    return 1;
  }
  return 0;
}
