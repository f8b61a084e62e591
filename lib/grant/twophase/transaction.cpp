#include <grant/twophase/transaction.hpp>

#include <grant/db/cancel.hpp>
#include <grant/db/sqlstate.hpp>
#include <grant/twophase/gid.hpp>
#include <grant/util/parallel_for.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <chrono>
#include <mutex>

namespace grant::twophase {

namespace {

bool lost(const Error& error) {
  const auto* db_error = dynamic_cast<const db::DbError*>(&error);
  return db_error != nullptr && db_error->connection_lost();
}

bool no_such_prepared(const db::DbError& error) {
  return error.sqlstate() == db::sqlstate::k_undefined_object;
}

/// How far a statement of the protocol is bound by Options::deadline.
enum class Until {
  deadline, ///< before the decision: the whole bound
  first,    ///< the first COMMIT PREPARED: the deadline, but never less than k_commit_floor
  reply,    ///< what releases locks (rollback, settling, a retry): Options::reply_timeout alone
};
constexpr std::chrono::milliseconds k_commit_floor{250};

std::optional<std::chrono::steady_clock::time_point> limit(const Options& options, Until until) {
  if (until == Until::reply || !options.deadline) {
    return std::nullopt;
  }
  return until == Until::first ? std::max(*options.deadline, std::chrono::steady_clock::now() + k_commit_floor)
                               : *options.deadline;
}

/// The bound of one statement of the protocol on `session`: Options::reply_timeout (else the
/// session's own), cut to the time left before the limit.
class Bounded {
public:
  Bounded(db::Connection& session, const Options& options, Until until)
      : m_timeout(session, bound(session, options, until)) {}

private:
  static std::chrono::milliseconds bound(const db::Connection& session, const Options& options, Until until) {
    const auto reply = options.reply_timeout.count() > 0 ? options.reply_timeout : session.reply_timeout();
    const auto until_time = limit(options, until);
    if (!until_time) {
      return reply;
    }
    const auto left =
        std::max(std::chrono::milliseconds(1),
                 std::chrono::ceil<std::chrono::milliseconds>(*until_time - std::chrono::steady_clock::now()));
    return reply.count() > 0 ? std::min(reply, left) : left;
  }

  db::ReplyTimeoutScope m_timeout;
};

} // namespace

DistributedTransaction::DistributedTransaction(std::string scope, std::string label, Coordinator coordinator,
                                               std::vector<Participant> participants, Options options)
    : m_scope(std::move(scope)), m_coordinator(std::move(coordinator)), m_participants(std::move(participants)),
      m_options(std::move(options)), m_txid(new_txid(label)),
      m_key(Gid{m_scope, m_txid, m_coordinator.name, {}, false}.decision_key()),
      m_states(m_participants.size(), State::idle), m_pids(m_participants.size(), 0),
      m_before_prepare(m_participants.size()) {
  for (const auto& participant : m_participants) {
    m_current.push_back(participant.connection);
  }
}

DistributedTransaction::~DistributedTransaction() {
  rollback();
}

std::string DistributedTransaction::gid(std::size_t index) const {
  return m_key + ":" + m_participants.at(index).name;
}

db::Connection& DistributedTransaction::connection(std::size_t index) {
  return *m_current.at(index);
}

int DistributedTransaction::jobs() const {
  return m_options.jobs > 0 ? m_options.jobs : static_cast<int>(m_participants.size());
}

void DistributedTransaction::begin() {
  try {
    util::parallel_for(m_participants.size(), jobs(), [&](std::size_t i) {
      const Bounded bound(connection(i), m_options, Until::deadline);
      m_pids[i] = connection(i).session_pid();
      connection(i).execute("BEGIN");
      m_states[i] = State::active;
    });
  } catch (...) {
    rollback();
    throw;
  }
}

void DistributedTransaction::run(const std::function<void(std::size_t, db::Connection&)>& work) {
  try {
    util::parallel_for(m_participants.size(), jobs(), [&](std::size_t i) { work(i, connection(i)); });
  } catch (...) {
    rollback();
    throw;
  }
}

void DistributedTransaction::prepare(std::size_t index) {
  auto& session = connection(index);
  auto& before = m_before_prepare[index];
  try {
    const Bounded bound(session, m_options, Until::deadline);
    // One round trip: a failure before PREPARE skips it and leaves the transaction open (aborted).
    session.execute(before + (before.empty() ? "" : "\n") + "PREPARE TRANSACTION " + session.quote_literal(gid(index)));
    m_states[index] = State::prepared;
  } catch (const Error& error) {
    // A lost reply leaves it unknown whether the server prepared: rollback() then looks for it.
    // A failed PREPARE has rolled back on the server; a failure before it needs a ROLLBACK.
    m_states[index] = lost(error) ? State::prepared : before.empty() ? State::rolled_back : State::active;
    throw;
  }
}

void DistributedTransaction::prepare_all() {
  util::parallel_for(m_participants.size(), jobs(), [&](std::size_t i) { prepare(i); });
}

void DistributedTransaction::execute(const std::function<void(std::size_t, db::Connection&)>& work) {
  try {
    util::parallel_for(m_participants.size(), jobs(), [&](std::size_t i) {
      {
        const Bounded bound(connection(i), m_options, Until::deadline);
        m_pids[i] = connection(i).session_pid();
        connection(i).execute("BEGIN");
      }
      m_states[i] = State::active;
      work(i, connection(i));
      prepare(i);
    });
  } catch (...) {
    rollback();
    throw;
  }
  decide_and_commit();
}

Decision DistributedTransaction::record_decision() {
  try {
    const Bounded bound(m_coordinator.log->connection(), m_options, Until::deadline);
    if (m_options.finished != nullptr) {
      m_coordinator.log->record_commit(m_key, *m_options.finished);
      m_options.finished->clear();
    } else {
      m_coordinator.log->record_commit(m_key);
    }
    return Decision::commit;
  } catch (const db::DbError& error) {
    if (!error.connection_lost()) {
      return Decision::none; // the insert failed on the server: nothing was recorded
    }
  }
  // The reply was lost: the row may or may not be there. Settling through a fresh session finds
  // out for good (a row cannot appear later once settle has run).
  if (m_options.reconnect) {
    try {
      if (auto* fresh = m_options.reconnect(k_coordinator)) {
        const Bounded bound(*fresh, m_options, Until::reply);
        return m_coordinator.log->on(*fresh).settle(m_key, Decision::commit);
      }
    } catch (const Error&) {
    }
  }
  std::vector<std::string> names;
  for (std::size_t i = 0; i < m_participants.size(); ++i) {
    m_states[i] = State::in_doubt; // from here on nothing may roll them back
    names.push_back(m_participants[i].name);
  }
  throw InDoubtError(m_scope + ": the connection to coordinator " + m_coordinator.name +
                         " was lost while recording the commit decision " + m_key +
                         ", so whether it was recorded is unknown; every participant is prepared and in doubt: " +
                         util::join(names, ", "),
                     names, m_scope + "/" + m_coordinator.name,
                     "run `grant recover` once " + m_coordinator.name +
                         " is reachable: it commits them if the decision was recorded, and otherwise rolls them back");
}

void DistributedTransaction::commit_all(std::vector<std::string>& failures) {
  std::mutex mutex;
  util::parallel_for(m_participants.size(), jobs(), [&](std::size_t i) {
    if (m_states[i] != State::prepared) {
      return;
    }
    const db::cancel::Shield decided; // the decision is recorded: Ctrl-C must not leave it half done
    const auto statement = "COMMIT PREPARED " + connection(i).quote_literal(gid(i));
    try {
      const Bounded bound(connection(i), m_options, Until::first);
      connection(i).execute(statement);
      m_states[i] = State::committed;
      return;
    } catch (const Error& error) {
      std::string reason = util::redact_secrets(error.what());
      if (lost(error) && m_options.reconnect) {
        // Once more on a fresh session; "no such prepared transaction" then means the lost
        // reply was the commit's own.
        try {
          if (auto* fresh = m_options.reconnect(i)) {
            m_current[i] = fresh;
            const Bounded bound(*fresh, m_options, Until::reply);
            try {
              fresh->execute(statement);
            } catch (const db::DbError& again) {
              if (!no_such_prepared(again)) {
                throw;
              }
            }
            m_states[i] = State::committed;
            return;
          }
        } catch (const Error&) {
          reason += "; a retry on a fresh session failed too";
        }
      }
      m_states[i] = State::in_doubt;
      std::lock_guard guard(mutex);
      failures.push_back(m_participants[i].name + " (" + reason + ")");
    }
  });
}

void DistributedTransaction::commit() {
  try {
    prepare_all();
  } catch (...) {
    rollback();
    throw;
  }
  decide_and_commit();
}

void DistributedTransaction::decide_and_commit() {
  // After Ctrl-C nothing is decided: the destructor rolls every participant back. Once the
  // decision is being recorded, it is carried through.
  db::cancel::check(m_scope);
  if (const auto until = limit(m_options, Until::deadline); until && std::chrono::steady_clock::now() >= *until) {
    rollback();
    throw Error(ErrorKind::database,
                m_scope + ": the time bound of the transaction passed before the commit decision; every "
                          "participant was rolled back",
                m_scope + "/" + m_coordinator.name, "allow more time (a longer bound) and run grant again");
  }
  const db::cancel::Shield deciding;
  const auto decision = record_decision();
  if (decision != Decision::commit) {
    rollback();
    throw Error(ErrorKind::database,
                m_scope + ": the commit decision could not be recorded on coordinator " + m_coordinator.name +
                    (decision == Decision::abort ? " (a concurrent `grant recover` decided abort)" : "") +
                    "; every participant was rolled back",
                m_scope + "/" + m_coordinator.name, "check the coordinator's server log and run grant again");
  }
  std::vector<std::string> failures;
  commit_all(failures);
  if (failures.empty()) {
    if (m_options.finished != nullptr) {
      m_options.finished->push_back(m_key); // deleted with the next decision, or by the caller
      return;
    }
    try {
      const Bounded bound(m_coordinator.log->connection(), m_options, Until::reply);
      m_coordinator.log->forget(m_key);
    } catch (const Error&) {
      // A leftover row is harmless: no prepared transaction refers to it any more.
    }
    return;
  }
  std::vector<std::string> names;
  for (std::size_t i = 0; i < m_participants.size(); ++i) {
    if (m_states[i] == State::in_doubt) {
      names.push_back(m_participants[i].name);
    }
  }
  throw InDoubtError(m_scope + ": the commit decision " + m_key + " is recorded on " + m_coordinator.name +
                         " and the other participants committed, but COMMIT PREPARED failed on " +
                         util::join(failures, ", ") + "; they stay prepared (in doubt)",
                     names, m_scope + "/" + util::join(names, ","),
                     "run `grant recover` once they are reachable: it commits them from the recorded decision");
}

void DistributedTransaction::rollback() noexcept {
  const auto roll_back = [&](std::size_t i) {
    const db::cancel::Shield cleanup; // rolls back after Ctrl-C too
    auto& state = m_states[i];
    if (state != State::active && state != State::prepared) {
      return;
    }
    const bool active = state == State::active;
    auto& session = connection(i);
    if (session.is_usable()) {
      try {
        const Bounded bound(session, m_options, Until::reply);
        if (active) {
          session.execute("ROLLBACK");
        } else {
          rollback_prepared(session, i);
        }
        state = State::rolled_back;
        return;
      } catch (const Error& error) {
        if (!lost(error)) {
          state = active ? State::rolled_back : State::in_doubt;
          return;
        }
      }
    }
    // The session is lost (given up on a silent server, or cut). Its backend may still hold the
    // transaction's locks, and does until it notices, which behind a silent network is never:
    // end it through a fresh session, then roll back what it may have prepared.
    try {
      if (m_options.reconnect) {
        if (auto* fresh = m_options.reconnect(i)) {
          m_current[i] = fresh;
          const Bounded bound(*fresh, m_options, Until::reply);
          end_backend(*fresh, m_pids.at(i));
          rollback_prepared(*fresh, i);
          state = State::rolled_back;
          return;
        }
      }
    } catch (const Error&) {
    }
    // A transaction that never prepared ends with its backend; a prepared one has no decision
    // recorded, so `grant recover` (or the caller's re-run) rolls it back.
    state = active ? State::rolled_back : State::in_doubt;
  };
  try {
    util::parallel_for(m_participants.size(), jobs(), roll_back);
  } catch (...) {
  }
}

void DistributedTransaction::rollback_prepared(db::Connection& session, std::size_t index) {
  try {
    session.execute("ROLLBACK PREPARED " + session.quote_literal(gid(index)));
  } catch (const db::DbError& error) {
    if (!no_such_prepared(error)) {
      throw;
    }
  }
}

void DistributedTransaction::end_backend(db::Connection& session, int pid) const {
  if (pid <= 0) {
    return;
  }
  // Waits until the backend is gone, so that a PREPARE it was running has happened or never will.
  const auto wait = m_options.reply_timeout.count() > 0 ? m_options.reply_timeout / 2 : std::chrono::milliseconds(2000);
  session.query("SELECT pg_terminate_backend(pid, $2::bigint) FROM pg_stat_activity WHERE pid = $1::int "
                "AND pid <> pg_backend_pid()",
                {std::to_string(pid), std::to_string(wait.count())});
}

} // namespace grant::twophase
