#pragma once

#include <atomic>
#include <thread>

namespace grant::migrate {

template <typename Item, typename Result>
std::vector<Result> fan_out(const std::vector<Item>& items, int jobs, const std::function<Result(const Item&)>& body) {
  std::vector<Result> results(items.size());
  std::atomic<std::size_t> next{0};
  const auto worker = [&] {
    for (std::size_t i = next++; i < items.size(); i = next++) {
      results[i] = body(items[i]);
    }
  };
  const auto threads = static_cast<std::size_t>(std::max(1, jobs));
  if (threads == 1 || items.size() <= 1) {
    worker();
    return results;
  }
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < std::min(threads, items.size()); ++t) {
    pool.emplace_back(worker);
  }
  for (auto& thread : pool) {
    thread.join();
  }
  return results;
}

} // namespace grant::migrate
