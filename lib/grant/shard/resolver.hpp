#pragma once

#include <grant/config/config.hpp>
#include <grant/shard/key.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace grant::shard {

/// Rows of a `lookup` resolver's table: (key as text, shard name).
using LookupRows = std::vector<std::pair<std::string, std::string>>;

/// Reads a lookup table (`resolver.params["table"]`). Supplied by the caller so that the shard
/// module does not depend on the database layer; a resolver calls it at most once, lazily.
using LookupLoader = std::function<LookupRows(const config::ResolverSettings&)>;

/// Maps a shard key to the one shard that owns it. Thread-safe: resolve() may be called from
/// many threads at once.
class Resolver {
public:
  virtual ~Resolver() = default;
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  /// Index into the database's `shards` of the shard owning `key`. Throws KeyError for a key
  /// of the wrong shape (usage) or a key that no shard owns (check); never a broadcast.
  std::size_t resolve(const Key& key) const {
    if (key.size() != m_key_columns.size()) [[unlikely]] {
      throw_wrong_arity(key);
    }
    return resolve_key(key);
  }

  /// Name of the shard owning `key`.
  const std::string& resolve_name(const Key& key) const { return m_shard_names[resolve(key)]; }

  const std::string& type() const noexcept { return m_type; }
  const std::string& database() const noexcept { return m_database; }
  const std::vector<std::string>& key_columns() const noexcept { return m_key_columns; }
  const std::vector<std::string>& shard_names() const noexcept { return m_shard_names; }
  std::size_t shard_count() const noexcept { return m_shard_names.size(); }

protected:
  explicit Resolver(const config::Database& db);

  virtual std::size_t resolve_key(const Key& key) const = 0;

  [[noreturn]] void throw_not_integer(const Key& key) const;
  [[noreturn]] void throw_no_shard(const Key& key, const std::string& hint) const;

private:
  [[noreturn]] void throw_wrong_arity(const Key& key) const;

  std::string m_type;
  std::string m_database;
  std::string m_key_path;
  std::vector<std::string> m_key_columns;
  std::vector<std::string> m_shard_names;
};

/// Builds the resolver `db.sharding.resolver` describes, validating it as lint() does. Throws
/// ConfigError (where = the key path) for an unsharded database, missing `sharding`, or the
/// first lint issue. `loader` is needed only by a `lookup` resolver with a `table`.
std::unique_ptr<Resolver> make_resolver(const config::Database& db, LookupLoader loader = {});

/// The registered `sharding.resolver.type` names.
std::vector<std::string> resolver_types();

} // namespace grant::shard
