#include <grant/twophase/transaction.hpp>

#include <grant/db/cancel.hpp>
#include <grant/twophase/gid.hpp>
#include <grant/util/parallel_for.hpp>
#include <grant/util/strings.hpp>

#include <mutex>

namespace grant::twophase {

namespace {

constexpr const char* k_no_such_prepared = "42704"; // undefined_object: no prepared transaction by that id

bool lost(const Error& error) {
  const auto* db_error = dynamic_cast<const db::DbError*>(&error);
  return db_error != nullptr && db_error->connection_lost();
}

bool no_such_prepared(const db::DbError& error) { return error.sqlstate() == k_no_such_prepared; }

} // namespace

DistributedTransaction::DistributedTransaction(std::string scope, std::string label, Coordinator coordinator,
                                               std::vector<Participant> participants, Options options)
    : m_scope(std::move(scope)), m_coordinator(std::move(coordinator)), m_participants(std::move(participants)),
      m_options(std::move(options)), m_txid(new_txid(label)),
      m_key(Gid{m_scope, m_txid, m_coordinator.name, {}, false}.decision_key()),
      m_states(m_participants.size(), State::idle) {
  for (const auto& participant : m_participants) {
    m_current.push_back(participant.connection);
  }
}

DistributedTransaction::~DistributedTransaction() { rollback(); }

std::string DistributedTransaction::gid(std::size_t index) const { return m_key + ":" + m_participants.at(index).name; }

db::Connection& DistributedTransaction::connection(std::size_t index) { return *m_current.at(index); }

int DistributedTransaction::jobs() const {
  return m_options.jobs > 0 ? m_options.jobs : static_cast<int>(m_participants.size());
}

void DistributedTransaction::begin() {
  try {
    util::parallel_for(m_participants.size(), jobs(), [&](std::size_t i) {
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
  try {
    session.execute("PREPARE TRANSACTION " + session.quote_literal(gid(index)));
    m_states[index] = State::prepared;
  } catch (const Error& error) {
    // A lost reply leaves it unknown whether the server prepared: rollback() then looks for it.
    m_states[index] = lost(error) ? State::prepared : State::rolled_back;
    throw;
  }
}

void DistributedTransaction::prepare_all() {
  util::parallel_for(m_participants.size(), jobs(), [&](std::size_t i) { prepare(i); });
}

void DistributedTransaction::execute(const std::function<void(std::size_t, db::Connection&)>& work) {
  try {
    util::parallel_for(m_participants.size(), jobs(), [&](std::size_t i) {
      connection(i).execute("BEGIN");
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
    m_coordinator.log->record_commit(m_key);
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
    try {
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
    if (state == State::active) {
      try {
        connection(i).execute("ROLLBACK");
      } catch (const Error&) {
        // A lost session rolls back on the server by itself.
      }
      state = State::rolled_back;
      return;
    }
    if (state != State::prepared) {
      return;
    }
    const auto statement = "ROLLBACK PREPARED " + connection(i).quote_literal(gid(i));
    const auto attempt = [&](db::Connection& session) {
      try {
        session.execute(statement);
      } catch (const db::DbError& error) {
        if (!no_such_prepared(error)) {
          throw;
        }
      }
      state = State::rolled_back;
    };
    try {
      attempt(connection(i));
      return;
    } catch (const Error& error) {
      if (!lost(error) || !m_options.reconnect) {
        state = State::in_doubt;
        return;
      }
    }
    try {
      if (auto* fresh = m_options.reconnect(i)) {
        m_current[i] = fresh;
        attempt(*fresh);
        return;
      }
    } catch (const Error&) {
    }
    // No decision was recorded, so `grant recover` rolls it back.
    state = State::in_doubt;
  };
  try {
    util::parallel_for(m_participants.size(), jobs(), roll_back);
  } catch (...) {
  }
}

} // namespace grant::twophase
