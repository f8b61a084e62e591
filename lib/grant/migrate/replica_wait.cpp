#include <grant/migrate/replica_wait.hpp>

#include <grant/util/parallel_for.hpp>
#include <grant/util/strings.hpp>

#include <thread>

namespace grant::migrate {

namespace {

constexpr std::chrono::milliseconds k_poll{20};

long long since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
}

ReplicaCatchUp wait_for(const registry::Endpoint& replica, const std::string& lsn,
                        std::chrono::steady_clock::time_point start, std::chrono::steady_clock::time_point deadline) {
  ReplicaCatchUp out;
  out.replica = replica.label();
  std::unique_ptr<db::Connection> session;
  std::string last_error;
  std::string replayed = "nothing";
  while (true) {
    try {
      if (!session || !session->is_usable()) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        session = db::connect(replica.url, {replica.label(), static_cast<int>(std::max<long long>(left.count(), 1000)),
                                            "grant wait-replicas"});
      }
      const auto state = session->engine().replay_state(*session, lsn);
      if (!state) {
        out.error = replica.label() + " is not in recovery (not a replica): nothing to wait for there";
        out.ms = since(start);
        return out;
      }
      replayed = state->replayed;
      if (state->reached) {
        out.ok = true;
        out.ms = since(start);
        return out;
      }
    } catch (const Error& error) {
      last_error = util::redact_secrets(error.what());
      session.reset();
    }
    if (std::chrono::steady_clock::now() + k_poll > deadline) {
      out.ms = since(start);
      out.error = replica.label() + " did not replay past " + lsn + " within " +
                  std::to_string(std::chrono::duration_cast<std::chrono::seconds>(deadline - start).count()) +
                  " s (replayed up to " + replayed + ")" + (last_error.empty() ? "" : "; last error: " + last_error);
      return out;
    }
    std::this_thread::sleep_for(k_poll);
  }
}

} // namespace

std::vector<ReplicaCatchUp> wait_for_replicas(const Target& target, db::Connection& writer,
                                              std::chrono::milliseconds bound, const EventSink& events) {
  std::vector<registry::Endpoint> replicas;
  for (auto& endpoint : registry::endpoints_of(*target.database)) {
    if (endpoint.role == registry::Role::reading && endpoint.shard == target.endpoint.shard) {
      replicas.push_back(std::move(endpoint));
    }
  }
  if (replicas.empty() || !writer.engine().traits().replication) {
    return {};
  }
  // The insert position, not the write position: with synchronous_commit off a commit can return
  // before its WAL is written, and the write position would then fall short of it.
  const auto lsn = writer.engine().write_position(writer).value_or("0/0");
  if (events) {
    events({Event::Kind::note,
            target.label(),
            {},
            0,
            "waiting up to " + std::to_string(bound.count() / 1000) + " s for " + std::to_string(replicas.size()) +
                " replica(s) to replay past " + lsn});
  }
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + bound;
  return util::parallel_map(replicas, static_cast<int>(replicas.size()),
                            [&](const registry::Endpoint& replica) { return wait_for(replica, lsn, start, deadline); });
}

} // namespace grant::migrate
