#include <grant/db/engine.hpp>

#include <stdexcept>

#include <grant/db/connection.hpp>

namespace grant::db {

namespace {

// The registry: one line per engine. Its traits are known without the engine itself, which the
// grant program loads on first use (the PostgreSQL adapter is a module there: apps/grant/modules.cpp).
struct Registered {
  util::UrlScheme scheme;
  Dialect dialect;
  const EngineTraits& (*traits)();
  const Engine& (*engine)();
};
constexpr Registered k_engines[] = {
    {util::UrlScheme::postgres, Dialect::postgres, &postgres_traits, &postgres_engine},
    {util::UrlScheme::sqlite, Dialect::sqlite, &sqlite_traits, &sqlite_engine},
    {util::UrlScheme::mysql, Dialect::mysql, &mysql_traits, &mysql_engine},
};

const Registered& registered(util::UrlScheme scheme) {
  for (const auto& entry : k_engines) {
    if (entry.scheme == scheme) {
      return entry;
    }
  }
  throw Error(ErrorKind::usage, "unsupported URL scheme");
}

const Registered& registered(Dialect dialect) {
  for (const auto& entry : k_engines) {
    if (entry.dialect == dialect) {
      return entry;
    }
  }
  throw Error(ErrorKind::usage, "unsupported SQL dialect");
}

} // namespace

const Engine& engine_for(util::UrlScheme scheme) {
  return registered(scheme).engine();
}

const Engine& engine_for(Dialect dialect) {
  return registered(dialect).engine();
}

const EngineTraits& traits_for(util::UrlScheme scheme) {
  return registered(scheme).traits();
}

const EngineTraits& traits_for(Dialect dialect) {
  return registered(dialect).traits();
}

std::string Engine::quote_qualified(std::string_view dotted_name) const {
  std::string out;
  std::size_t start = 0;
  while (true) {
    const auto dot = dotted_name.find('.', start);
    if (!out.empty()) {
      out += '.';
    }
    out += quote_identifier(dotted_name.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) {
      return out;
    }
    start = dot + 1;
  }
}

std::optional<std::string> Engine::current_schema(Connection& /*connection*/) const {
  return std::nullopt;
}

void Engine::set_section_limits(Connection& /*connection*/, std::optional<std::chrono::milliseconds> /*lock_timeout*/,
                                std::optional<std::chrono::milliseconds> /*statement_timeout*/, bool /*local*/) const {}

void Engine::pin_read_only(Connection& /*connection*/) const {}

std::string Engine::swap_tables_sql(const std::string& /*table*/, const std::string& /*staged*/,
                                    const std::string& /*aside*/) const {
  // Where DDL is transactional the tables are swapped inside one transaction instead.
  throw std::logic_error("swap_tables_sql is asked only where DDL is not transactional");
}

std::optional<std::string> Engine::write_position(Connection& /*connection*/) const {
  return std::nullopt;
}

std::optional<ReplayState> Engine::replay_state(Connection& /*connection*/,
                                                const std::optional<std::string>& /*position*/) const {
  return std::nullopt;
}

std::optional<BlockingSession> Engine::blocker_of(Connection& /*connection*/, int /*pid*/) const {
  return std::nullopt;
}

std::string Engine::end_session_statement(int /*pid*/) const {
  return {};
}

std::string Engine::lock_view() const {
  return "the server's lock table";
}

std::vector<InvalidIndex> Engine::invalid_indexes(Connection& /*connection*/) const {
  return {};
}

std::size_t Engine::count_prepared(Connection& /*connection*/, const std::string& /*prefix*/) const {
  return 0;
}

std::optional<long long> Engine::database_bytes(Connection& /*connection*/, const util::DatabaseUrl& /*url*/) const {
  return std::nullopt;
}

std::vector<RelationFacts> Engine::relation_facts(Connection& /*connection*/,
                                                  const std::vector<std::string>& names) const {
  std::vector<RelationFacts> out;
  for (const auto& name : names) {
    RelationFacts facts;
    facts.name = name;
    out.push_back(std::move(facts));
  }
  return out;
}

} // namespace grant::db
