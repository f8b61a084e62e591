// route::CircuitBreaker's state machine on a clock the test moves by hand (the cooldown is
// stepped through exactly, without sleeping). The same breaker against a refused port is in
// tests/integration/route_test.cpp.
#include <grant/route/breaker.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

// One namespace per test file: the helpers of two files never meet in a unity build.
namespace grant_test_route_breaker_test {

using namespace grant;
using namespace std::chrono_literals;
using route::BreakerState;
using route::CircuitBreaker;

namespace {

struct FakeClock {
  std::chrono::steady_clock::time_point now{std::chrono::seconds(1000)};
  CircuitBreaker::Clock function() {
    return [this] { return now; };
  }
};

} // namespace

TEST_CASE("route::CircuitBreaker") {
  FakeClock clock;
  CircuitBreaker breaker({3, 1000ms}, clock.function());

  SUBCASE("closed until threshold consecutive failures; a success resets the count") {
    CHECK(breaker.state() == BreakerState::closed);
    breaker.record_failure();
    breaker.record_failure();
    CHECK(breaker.allow());
    breaker.record_success();
    CHECK(breaker.consecutive_failures() == 0);
    breaker.record_failure();
    breaker.record_failure();
    CHECK(breaker.state() == BreakerState::closed);
    breaker.record_failure();
    CHECK(breaker.state() == BreakerState::open);
    CHECK(breaker.opened() == 1);
  }

  for (int i = 0; i < 3; ++i) {
    breaker.record_failure();
  }
  REQUIRE(breaker.state() == BreakerState::open);

  SUBCASE("open: fails fast for the whole cooldown") {
    CHECK_FALSE(breaker.allow());
    clock.now += 999ms;
    CHECK_FALSE(breaker.available());
    CHECK_FALSE(breaker.allow());
    CHECK(breaker.rejected() == 2);
    CHECK(breaker.state() == BreakerState::open);
  }

  SUBCASE("after the cooldown exactly one trial goes through; its success closes") {
    clock.now += 1000ms;
    CHECK(breaker.available());
    CHECK(breaker.allow());
    CHECK(breaker.state() == BreakerState::half_open);
    CHECK_FALSE(breaker.allow());
    CHECK_FALSE(breaker.allow());
    breaker.record_success();
    CHECK(breaker.state() == BreakerState::closed);
    CHECK(breaker.allow());
    CHECK(breaker.allow());
  }

  SUBCASE("a failed trial re-opens for another full cooldown") {
    clock.now += 1500ms;
    REQUIRE(breaker.allow());
    breaker.record_failure();
    CHECK(breaker.state() == BreakerState::open);
    CHECK(breaker.opened() == 2);
    clock.now += 999ms;
    CHECK_FALSE(breaker.allow());
    clock.now += 1ms;
    CHECK(breaker.allow());
  }

  SUBCASE("a trial never reported expires after one cooldown") {
    clock.now += 1000ms;
    REQUIRE(breaker.allow());
    clock.now += 999ms;
    CHECK_FALSE(breaker.allow());
    clock.now += 1ms;
    CHECK(breaker.allow());
    CHECK(breaker.state() == BreakerState::half_open);
  }

  SUBCASE("many threads asking at once after the cooldown: one trial") {
    clock.now += 1000ms;
    std::atomic<int> allowed{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        while (!go) {
        }
        for (int i = 0; i < 1000; ++i) {
          allowed += breaker.allow() ? 1 : 0;
        }
      });
    }
    go = true;
    for (auto& thread : threads) {
      thread.join();
    }
    CHECK(allowed == 1);
    CHECK(breaker.rejected() == 7999);
  }

  SUBCASE("names") {
    CHECK(route::breaker_state_name(BreakerState::closed) == "closed");
    CHECK(route::breaker_state_name(BreakerState::open) == "open");
    CHECK(route::breaker_state_name(BreakerState::half_open) == "half_open");
  }
}

} // namespace grant_test_route_breaker_test
