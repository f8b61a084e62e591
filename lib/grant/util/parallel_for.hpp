#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace grant::util {

/// Calls `body(i)` for every i in [0, count) on up to `jobs` threads (the caller's thread is one
/// of them). Every item runs even when another throws; once all threads have stopped, the
/// exception of the lowest failing index is rethrown on the caller's thread, so a worker's
/// failure is never lost nor able to terminate the process.
template <typename Body> void parallel_for(std::size_t count, int jobs, const Body& body) {
  std::vector<std::exception_ptr> errors(count);
  std::atomic<std::size_t> next{0};
  const auto worker = [&] {
    for (std::size_t i = next++; i < count; i = next++) {
      try {
        body(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  };
  const auto threads = std::min<std::size_t>(static_cast<std::size_t>(std::max(1, jobs)), count);
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) {
    pool.emplace_back(worker);
  }
  worker();
  for (auto& thread : pool) {
    thread.join();
  }
  for (const auto& error : errors) {
    if (error) {
      std::rethrow_exception(error);
    }
  }
}

/// parallel_for over a vector, collecting `body(item)` results in input order.
template <typename Item, typename Body> auto parallel_map(const std::vector<Item>& items, int jobs, const Body& body) {
  using Result = decltype(body(items.front()));
  std::vector<Result> results(items.size());
  parallel_for(items.size(), jobs, [&](std::size_t i) { results[i] = body(items[i]); });
  return results;
}

} // namespace grant::util
