#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grant::db {

enum class Dialect { postgres, sqlite, mysql };

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

/// Appends one element of a PostgreSQL array literal to `out`: NULL, or the text in double
/// quotes with `"` and `\` escaped (the text form a text[] parameter is bound in).
void append_array_element(std::string& out, const std::optional<std::string>& value);

/// A PostgreSQL array literal of `values`: {"a","b",NULL}.
std::string array_literal(const std::vector<std::optional<std::string>>& values);

} // namespace grant::db
