#pragma once

#include <grant/util/parallel_for.hpp>

namespace grant::migrate {

template <typename Item, typename Result>
std::vector<Result> fan_out(const std::vector<Item>& items, int jobs, const std::function<Result(const Item&)>& body) {
  return util::parallel_map(items, jobs, body);
}

} // namespace grant::migrate
