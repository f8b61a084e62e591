#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace grant::twophase {

/// The id of one participant's prepared transaction:
///   grant:<scope>:<txid>@<coordinator>:<participant>
/// `scope` is the database, `coordinator` the participant (shard) whose server holds the decision
/// and `participant` the shard that prepared. Names hold only letters, digits, _ and - (config
/// rules), so ':' and '@' never occur inside them. Carrying the coordinator in the id lets
/// `recover` find the decision whatever subset of shards the run selected.
struct Gid {
  std::string scope;
  std::string txid;
  std::string coordinator; ///< empty: the database's only writer
  std::string participant;
  /// grant 0.1 wrote grant:<db>:<version>:<run>:<shard> and kept the decision on the first shard.
  bool legacy = false;

  /// The key of the decision row every participant of the transaction shares.
  std::string decision_key() const;
  std::string text() const;
};

inline constexpr std::string_view k_gid_prefix = "grant:";

/// Parses a gid written by grant; nullopt for anything else (other tools' prepared transactions).
std::optional<Gid> parse_gid(std::string_view text);

/// A fresh transaction id: `label` (e.g. a migration version) plus 64 random bits.
std::string new_txid(std::string_view label);

} // namespace grant::twophase
