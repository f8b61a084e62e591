// db::cancel in-process, on the real server: what a SIGINT sets off, without the signal. A
// request is for the whole process and never undone, so each case runs in a forked child; its
// exit code says which check failed.
#include "support/support.hpp"

#include <grant/db/cancel.hpp>
#include <grant/db/connection.hpp>
#include <grant/util/url.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_cancel_test {

using namespace grant;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<db::Connection> open(const std::string& url) {
  return db::connect(util::parse_database_url(url, "/"), {"cancel_test", 5000, "grant cancel_test"});
}

// Runs `body` in a child process and returns its exit code (or 100 + signal).
int in_child(const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid == 0) {
    int code = 99;
    try {
      code = body();
    } catch (...) {
      code = 98;
    }
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

} // namespace

TEST_CASE("db::cancel: a request cancels running statements, rolls back, refuses new ones, shields cleanup") {
  const auto url = test::fresh_database(test::writer_url(), "cancel");
  const int code = in_child([&] {
    auto watcher = open(url);
    auto first = open(url);
    auto second = open(url);
    std::atomic<int> interrupted{0};
    std::atomic<int> wrong{0};
    const auto sleeper = [&](db::Connection& connection, bool in_transaction) {
      try {
        std::optional<db::Transaction> transaction;
        if (in_transaction) {
          transaction.emplace(connection);
          connection.execute("CREATE TABLE cancelled_work (id int)");
        }
        connection.execute("SELECT pg_sleep(30)");
        ++wrong;
      } catch (const db::Interrupted&) {
        ++interrupted;
      } catch (...) {
        ++wrong;
      }
    };
    std::thread a(sleeper, std::ref(*first), true);
    std::thread b(sleeper, std::ref(*second), false);
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (watcher
               ->query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event = 'PgSleep'")
               .scalar() != db::Value{"2"}) {
      if (std::chrono::steady_clock::now() > deadline) {
        return 1;
      }
      std::this_thread::sleep_for(20ms);
    }
    const auto started = std::chrono::steady_clock::now();
    db::cancel::request(SIGINT);
    a.join();
    b.join();
    if (interrupted != 2 || wrong != 0) {
      return 2;
    }
    if (std::chrono::steady_clock::now() - started > 5s) {
      return 3;
    }
    // Rolled back, and the sessions still usable for cleanup.
    if (first->transaction_depth() != 0 || !first->is_usable() || !second->is_usable()) {
      return 4;
    }
    try {
      watcher->execute("SELECT 1");
      return 5; // a new statement must be refused
    } catch (const db::Interrupted&) {
    }
    try {
      open(url);
      return 6; // so must a new connection
    } catch (const db::Interrupted&) {
    }
    const db::cancel::Shield cleanup;
    if (watcher->query("SELECT to_regclass('cancelled_work') IS NULL").scalar() != db::Value{"t"}) {
      return 7;
    }
    if (db::cancel::requested() != SIGINT) {
      return 8;
    }
    return 0;
  });
  CHECK(code == 0);
}

} // namespace grant_test_cancel_test
