#pragma once

// The PostgreSQL adapter's text handling, apart from libpqxx: the server's error messages,
// COPY's text format and column types by OID. Internal to db/ (not installed): only
// db/postgres.cpp and the tests include it.

#include <grant/db/connection.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace grant::db::postgres_text {

/// The server's words without libpq's severity prefix ("ERROR:  ") and trailing newlines, with
/// any password in them redacted.
std::string clean_message(const std::string& raw);

/// The line number in the server's "LINE 3:" of an error message; 0 when there is none.
int line_from_message(const std::string& message);

/// For a query run behind one line of its own (a DECLARE): the message's "LINE n:" becomes
/// "LINE n-1:". Returns the new line, or 0 when the message names no line after the first.
int shift_line_back(std::string& message);

/// `url` with `name=value` added as a query parameter, unless the URL already sets `name`.
std::string with_parameter(std::string url, std::string_view name, const std::string& value);

/// How a result column of this type OID is printed (integer, number, boolean, json or text).
ValueType value_type(unsigned int type_oid);

/// One line of COPY's text format (tab-separated, \N for NULL, backslash escapes) as fields.
/// Fields that need decoding are decoded into `decoded`, which `fields` may then view: keep it
/// alive and unchanged while the fields are used.
void split_copy_line(const std::string& line, std::vector<std::string>& decoded, std::vector<std::string_view>& fields,
                     std::vector<bool>& nulls);

} // namespace grant::db::postgres_text
