// The bodies of rebalance_writer.hpp: the writer thread of the rebalance tests.
#include "rebalance_writer.hpp"

#include "rebalance_rig.hpp"

namespace rb {

Writer::Writer(Rig& rig, unsigned seed, std::int64_t max_user, bool new_children, int ops_per_sec)
    : m_rig(rig), m_rng(seed), m_max_user(max_user), m_new_children(new_children), m_first_new_id(rig.next_id.load()),
      m_period(std::chrono::microseconds(1000000 / ops_per_sec)), m_users(users_of(rig)), m_thread([this] { run(); }) {}

void Writer::stop() {
  m_stop = true;
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

bool Writer::wait_ops(int n, std::chrono::seconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  while (m_ops < n && Clock::now() < deadline && !m_failed) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return m_ops >= n;
}

std::vector<std::string> Writer::errors() const {
  std::lock_guard lock(m_errors_mutex);
  return m_errors;
}

void Writer::run() {
  auto next = Clock::now();
  while (!m_stop && !m_failed) {
    const auto started = Clock::now();
    const auto timed = [&] {
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
      m_longest_ms = std::max(m_longest_ms.load(), ms);
    };
    try {
      step();
      timed();
      ++m_ops;
    } catch (const pqxx::sql_error& error) {
      timed();
      if (error.sqlstate() == "GR001") {
        ++m_fenced; // refused by the fence after cutover: rolled back, the model is right
      } else {
        std::lock_guard lock(m_errors_mutex);
        m_errors.emplace_back(error.what());
        m_failed = true;
      }
    } catch (const pqxx::deadlock_detected&) {
      timed();
      ++m_deadlocks; // a deadlock victim against the cutover's locks: rolled back, the model is right
    } catch (const std::exception& error) {
      std::lock_guard lock(m_errors_mutex);
      m_errors.emplace_back(error.what());
      m_failed = true; // the outcome of the last write is unknown: the model can no longer be trusted
    }
    next += m_period;
    std::this_thread::sleep_until(next);
  }
}

pqxx::connection& Writer::connection(int shard) {
  auto& slot = m_connections[shard];
  if (!slot) {
    slot = std::make_unique<pqxx::connection>(m_rig.fleet.url(shard));
  }
  return *slot;
}

std::vector<std::int64_t> Writer::users_of(Rig& rig) {
  std::set<std::int64_t> users;
  std::lock_guard lock(rig.model.mutex);
  for (const auto& [pk, row] : rig.model.tables["orders"]) {
    users.insert(std::stoll(pk[0]));
  }
  return {users.begin(), users.end()};
}

void Writer::step() {
  // Mostly users the shards hold rows of (updates, deletes, the fence), sometimes a new one.
  const bool known = !m_users.empty() && m_rng() % 5 != 0;
  const std::int64_t user =
      known ? m_users[m_rng() % m_users.size()] : std::uniform_int_distribution<std::int64_t>(1, m_max_user)(m_rng);
  if (m_staying && m_rig.moves({std::to_string(user)})) {
    return;
  }
  if (!known) {
    m_users.push_back(user);
  }
  const auto user_text = std::to_string(user);
  const int shard = m_rig.old_owner({user_text});
  auto& model = m_rig.model;
  // An order of this user, if the model has one (the writer is the only one changing the model now).
  std::optional<Pk> order;
  {
    std::lock_guard lock(model.mutex);
    auto& orders = model.tables["orders"];
    // Pks compare as text: {user} sorts right before every pk of that user.
    for (auto at = orders.lower_bound({user_text}); at != orders.end() && at->first[0] == user_text; ++at) {
      order = at->first;
      if (m_rng() % 2 == 0) {
        break;
      }
    }
  }
  const int op = static_cast<int>(m_rng() % 10);
  pqxx::work work(connection(shard));
  if (!order || op < 3) {
    const auto id = m_rig.next_id++;
    const auto note = random_note(m_rng);
    const auto amount = static_cast<int>(m_rng() % 10000);
    const int n_items = m_new_children ? static_cast<int>(m_rng() % 3) : 0;
    std::vector<int> qty;
    work.exec_params("INSERT INTO orders (user_id, id, note, amount) VALUES ($1, $2, $3, $4)", user, id,
                     note ? note->c_str() : nullptr, amount);
    for (int n = 1; n <= n_items; ++n) {
      qty.push_back(static_cast<int>(1 + m_rng() % 50));
      work.exec_params("INSERT INTO order_items (user_id, order_id, n, qty) VALUES ($1, $2, $3, $4)", user, id, n,
                       qty.back());
    }
    work.commit();
    std::lock_guard lock(model.mutex);
    model.tables["orders"][{user_text, std::to_string(id)}] = {note, std::to_string(amount)};
    for (int n = 1; n <= n_items; ++n) {
      model.tables["order_items"][{user_text, std::to_string(id), std::to_string(n)}] = {
          std::to_string(qty[static_cast<std::size_t>(n - 1)])};
    }
    return;
  }
  const auto& id = (*order)[1];
  if (op < 6) { // update the order
    const auto note = random_note(m_rng);
    const auto amount = static_cast<int>(m_rng() % 10000);
    const auto result = work.exec_params("UPDATE orders SET note = $3, amount = $4 WHERE user_id = $1 AND id = $2",
                                         user, std::stoll(id), note ? note->c_str() : nullptr, amount);
    work.commit();
    if (result.affected_rows() == 1) {
      std::lock_guard lock(model.mutex);
      model.tables["orders"][*order] = {note, std::to_string(amount)};
    }
  } else if (op < 8 && (m_new_children || std::stoll(id) < m_first_new_id)) { // add or update an item
    const auto qty = static_cast<int>(1 + m_rng() % 50);
    const auto n = static_cast<int>(1 + m_rng() % 3);
    work.exec_params("INSERT INTO order_items (user_id, order_id, n, qty) VALUES ($1, $2, $3, $4) "
                     "ON CONFLICT (user_id, order_id, n) DO UPDATE SET qty = excluded.qty",
                     user, std::stoll(id), n, qty);
    work.commit();
    std::lock_guard lock(model.mutex);
    model.tables["order_items"][{user_text, id, std::to_string(n)}] = {std::to_string(qty)};
  } else if (op < 9) { // delete the order (its items go by cascade)
    work.exec_params("DELETE FROM orders WHERE user_id = $1 AND id = $2", user, std::stoll(id));
    work.commit();
    std::lock_guard lock(model.mutex);
    model.tables["orders"].erase(*order);
    auto& items = model.tables["order_items"];
    for (auto at = items.lower_bound({user_text, id});
         at != items.end() && at->first[0] == user_text && at->first[1] == id;) {
      at = items.erase(at);
    }
  } else { // delete one item
    const auto n = static_cast<int>(1 + m_rng() % 3);
    work.exec_params("DELETE FROM order_items WHERE user_id = $1 AND order_id = $2 AND n = $3", user, std::stoll(id),
                     n);
    work.commit();
    std::lock_guard lock(model.mutex);
    model.tables["order_items"].erase({user_text, id, std::to_string(n)});
  }
}

} // namespace rb
