#include <grant/db/engine.hpp>

#include <grant/db/connection.hpp>

namespace grant::db {

namespace {

// The registry: one line per engine.
constexpr const Engine& (*k_engines[])() = {&postgres_engine, &sqlite_engine};

} // namespace

const Engine& engine_for(util::UrlScheme scheme) {
  for (const auto engine : k_engines) {
    if (engine().scheme() == scheme) {
      return engine();
    }
  }
  throw Error(ErrorKind::usage, "unsupported URL scheme");
}

const Engine& engine_for(Dialect dialect) {
  for (const auto engine : k_engines) {
    if (engine().dialect() == dialect) {
      return engine();
    }
  }
  throw Error(ErrorKind::usage, "unsupported SQL dialect");
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

std::optional<std::string> Engine::write_position(Connection& /*connection*/) const {
  return std::nullopt;
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
