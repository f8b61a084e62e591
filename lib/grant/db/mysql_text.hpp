#pragma once

// The MySQL adapter's text helpers (db/mysql.cpp): parameters bound as literals, result types,
// and what the client library's errors say. Part of the adapter's module, not installed.
#include <grant/db/connection.hpp>

#include <mysql.h>

#include <string>
#include <string_view>

namespace grant::db::mysql_text {

/// Client errors after which the session cannot be used again (errmsg.h: CR_*).
bool is_connection_error(unsigned code);
/// "... near 'x' at line 3": the line the server points at, 0 when it says none.
int line_from_message(const std::string& message);
/// `$n` placeholders replaced by literals, outside quotes and comments (grant's own statements use
/// `$n` in every dialect; Connector/C's text protocol has no parameters).
std::string with_params(std::string_view sql, const Params& params);
/// How a result column's values print and compare.
ValueType value_type(const MYSQL_FIELD& field);

} // namespace grant::db::mysql_text
