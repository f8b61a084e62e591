#pragma once

#include <grant/db/connection.hpp>
#include <grant/error.hpp>
#include <grant/twophase/decision_log.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace grant::twophase {

/// One server taking part: `name` is unique within the transaction (a shard name).
struct Participant {
  std::string name;
  db::Connection* connection = nullptr;
};

/// Where the decision is recorded: a server's decision log, and the name the transaction ids
/// carry so that recovery finds it.
struct Coordinator {
  std::string name;
  DecisionLog* log = nullptr;
};

/// A fresh session to the same server as participant `index`, or the coordinator for
/// `k_coordinator`, used after a connection was lost (the caller owns it); nullptr when none can
/// be had. Prepared transactions outlive their session, so another session can finish them.
using Reconnect = std::function<db::Connection*(std::size_t index)>;
inline constexpr std::size_t k_coordinator = static_cast<std::size_t>(-1);

struct Options {
  int jobs = 0; ///< participants worked on at once; 0: all
  Reconnect reconnect;
  /// Bounds the reply to every statement the transaction sends (BEGIN, PREPARE, the decision,
  /// COMMIT / ROLLBACK PREPARED): a participant silent for longer is given up as lost, and what
  /// is not decided is rolled back on the others at once. Zero: each session's own bound.
  std::chrono::milliseconds reply_timeout{0};
  /// Until the decision is recorded, no statement waits past this instant (a write pause's
  /// bound), and the decision is not recorded after it; rolling back, settling and retrying get
  /// reply_timeout whole, since they are what releases the locks. nullopt: no such bound.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  /// A run of transactions in a row on one coordinator (migrate --atomic, one per version) can
  /// keep their decision rows here instead of deleting each on its own: the keys of finished
  /// transactions (every participant committed) are deleted by the next decision insert, in its
  /// statement, and this transaction's key is appended once it finishes. The caller deletes what
  /// is left at the end (DecisionLog::forget). nullptr: each transaction deletes its own row.
  std::vector<std::string>* finished = nullptr;
};

enum class State { idle, active, prepared, committed, rolled_back, in_doubt };

/// Thrown by commit() when the decision was recorded (or may have been) but some participants
/// could not be finished: they stay prepared, and `grant recover` resolves them from the decision.
class InDoubtError : public Error {
public:
  InDoubtError(std::string what, std::vector<std::string> participants, std::string where, std::string hint)
      : Error(ErrorKind::database, std::move(what), std::move(where), std::move(hint)),
        m_participants(std::move(participants)) {}
  const std::vector<std::string>& participants() const { return m_participants; }

private:
  std::vector<std::string> m_participants;
};

/// A transaction over several PostgreSQL connections, all or none, by two-phase commit:
/// begin, run work on each, prepare all (in parallel), durably record the decision on the
/// coordinator, commit all (in parallel). Its rules:
///  - before the decision is recorded, any failure rolls back every participant;
///  - once it is recorded, or its outcome is unknown, nothing is rolled back: the others are
///    committed and the ones that failed are left prepared (InDoubtError);
///  - the decision row is deleted once every participant has committed;
///  - with Options::reply_timeout, a silent participant costs at most that bound per statement:
///    rolling back and committing run on all participants in parallel, a lost session's work is
///    finished through a fresh one (Reconnect, itself bounded by the connect timeout).
/// The destructor rolls back what was not decided, and never throws.
class DistributedTransaction {
public:
  /// `scope` (a database name) and `label` (e.g. a version) go into the transaction ids;
  /// `coordinator` holds the decision and need not be a participant.
  DistributedTransaction(std::string scope, std::string label, Coordinator coordinator,
                         std::vector<Participant> participants, Options options = {});
  ~DistributedTransaction();
  DistributedTransaction(const DistributedTransaction&) = delete;
  DistributedTransaction& operator=(const DistributedTransaction&) = delete;

  /// BEGIN on every participant.
  void begin();
  /// Runs `work(index, connection)` for every participant in parallel; the first failure rolls
  /// everything back and is rethrown.
  void run(const std::function<void(std::size_t, db::Connection&)>& work);
  /// Prepares, decides, commits. Throws the failure (after rolling back) when a participant
  /// cannot prepare; InDoubtError when the decision stands but some could not commit.
  void commit();
  /// begin(), run(work) and commit() in one go, each participant's BEGIN, work and PREPARE in
  /// one task: one wait for the slowest participant before the decision instead of three.
  void execute(const std::function<void(std::size_t, db::Connection&)>& work);
  /// From execute's work: SQL that participant `index` sends in the round trip of its PREPARE
  /// TRANSACTION, just before it (bookkeeping that is part of the work). A failure there rolls
  /// everything back like a failed PREPARE.
  void prepare_with(std::size_t index, std::string sql) { m_before_prepare.at(index) = std::move(sql); }
  /// Rolls back every participant not yet decided.
  void rollback() noexcept;
  /// Sets Options::deadline once it is known (when the caller's locks are taken).
  void set_deadline(std::chrono::steady_clock::time_point deadline) { m_options.deadline = deadline; }

  const std::vector<State>& states() const { return m_states; }
  /// The prepared transaction id of participant `index`.
  std::string gid(std::size_t index) const;
  const std::string& decision_key() const { return m_key; }

private:
  void prepare_all();
  void prepare(std::size_t index);
  void decide_and_commit();
  Decision record_decision();
  void commit_all(std::vector<std::string>& failures);
  db::Connection& connection(std::size_t index);
  void rollback_prepared(db::Connection& session, std::size_t index);
  /// Ends the server process of a lost session (it may hold locks until it notices the loss).
  void end_backend(db::Connection& session, int pid) const;
  int jobs() const;

  std::string m_scope;
  Coordinator m_coordinator;
  std::vector<Participant> m_participants;
  Options m_options;
  std::string m_txid;
  std::string m_key;
  std::vector<State> m_states;
  std::vector<db::Connection*> m_current;    ///< the session in use per participant (after reconnects)
  std::vector<int> m_pids;                   ///< each participant's server process at BEGIN
  std::vector<std::string> m_before_prepare; ///< prepare_with()
};

} // namespace grant::twophase
