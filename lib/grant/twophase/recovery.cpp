#include <grant/twophase/recovery.hpp>

namespace grant::twophase {

std::size_t count_in_doubt(db::Connection& connection, const std::string& database) {
  return connection.engine().count_prepared(connection, std::string(k_gid_prefix) + database + ":");
}

std::vector<Prepared> list_prepared(db::Connection& connection) {
  std::vector<Prepared> out;
  const auto rows = connection.query("SELECT gid, prepared::text FROM pg_prepared_xacts WHERE database = "
                                     "current_database() AND left(gid, length($1)) = $1 ORDER BY prepared",
                                     {std::string(k_gid_prefix)});
  for (const auto& row : rows.rows) {
    out.push_back({row[0].value_or(""), row[1].value_or("")});
  }
  return out;
}

Resolution resolve(db::Connection& participant, const Gid& gid, DecisionLog& log, Mode mode, bool force, bool dry_run) {
  const auto key = gid.decision_key();
  const Decision wanted = mode == Mode::commit ? Decision::commit : Decision::abort;
  Resolution out;
  out.decision = dry_run ? log.read(key) : log.settle(key, wanted);
  // In a dry run "none" stands for what settling would record.
  const Decision standing = out.decision == Decision::none ? wanted : out.decision;
  if (mode == Mode::by_decision || standing == wanted || force) {
    out.action = (mode == Mode::by_decision ? standing : (force ? wanted : standing)) == Decision::commit ? "commit"
                                                                                                          : "rollback";
  } else {
    out.action = "refuse";
    out.reason = mode == Mode::abort
                     ? "the commit decision is recorded, so other participants may already have committed: rolling "
                       "this one back would split the shards (add --force to do it anyway)"
                     : "an abort decision is recorded, so other participants may already have rolled back: "
                       "committing this one would split the shards (add --force to do it anyway)";
    return out;
  }
  if (!dry_run) {
    participant.execute(std::string(out.action == "commit" ? "COMMIT" : "ROLLBACK") + " PREPARED " +
                        participant.quote_literal(gid.text()));
  }
  return out;
}

} // namespace grant::twophase
