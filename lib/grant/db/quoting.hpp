#pragma once

#include <string>
#include <string_view>

namespace grant::db {

enum class Dialect { postgres, sqlite };

std::string_view dialect_name(Dialect dialect);

/// "name" with embedded quotes doubled. The only way SQL text is built from names.
std::string quote_identifier(Dialect dialect, std::string_view name);

/// A dotted name (`schema.table`) with each part quoted.
std::string quote_qualified(Dialect dialect, std::string_view dotted_name);

/// 'text' with embedded quotes doubled (standard_conforming_strings, the PostgreSQL default).
std::string quote_literal(Dialect dialect, std::string_view text);

/// SQL-standard quoting, for SQL text of one engine built without a connection (rebalance's
/// PL/pgSQL). Elsewhere ask the connection's Engine.
std::string quote_identifier(std::string_view name);
std::string quote_literal(std::string_view text);

} // namespace grant::db
