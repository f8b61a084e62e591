#pragma once
// Internal to lint/ (not installed): a statement as PostgreSQL's parser (libpg_query) returns it,
// with its place in the file and the lint markers above it, and helpers to read its tree.

#include <grant/migrate/migration_file.hpp>

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace grant::lint {

using Json = nlohmann::json;

/// `-- grant:lint ignore=RULE[,RULE] reason="..."` above a statement.
struct Ignore {
  std::vector<std::string> rules;
  std::string reason;
  int line = 0;
};

struct Statement {
  Json node;        ///< e.g. {"IndexStmt": {...}}, the parser's JSON
  std::string type; ///< the node's one key: "IndexStmt", "AlterTableStmt", ...
  std::string text; ///< as written, from its first word up to (not including) its semicolon
  int line = 0;     ///< of the file
  int column = 0;   ///< 1-based, in bytes
  std::vector<Ignore> ignores;

  const Json& body() const { return node.at(type); }
};

/// Parses a section of a PostgreSQL migration. Throws ConfigError (exit 2) naming file:line:column
/// when the parser rejects it, or for a lint marker with an unknown rule or without a reason.
std::vector<Statement> parse_postgres(const migrate::Section& section);

/// Reads one lint marker line; nullopt when the line is not one. Throws ConfigError as above.
std::optional<Ignore> parse_ignore(std::string_view line, const std::filesystem::path& file, int line_number);

// Reading the tree. Every helper accepts a missing key and answers "", false or empty.
/// A RangeVar's name: "schema.table" when written with a schema ("public." is left out), else "table".
std::string relation_name(const Json& range_var);
/// "name" from {"String": {"sval": "name"}}.
std::string string_value(const Json& node);
/// The strings of a list of String nodes (a qualified name, a column list).
std::vector<std::string> string_list(const Json& list);
/// A dotted name from a list of String nodes, "public." left out.
std::string dotted_name(const Json& list);
/// The last part of a FuncCall's name, lower case.
std::string function_name(const Json& func_call);
/// True when `node`, or anything inside it, calls a function named in `names`.
bool calls_any(const Json& node, const std::set<std::string_view>& names);
/// `object[key]` when it is an object's field, else an empty object: read without copying.
const Json& child(const Json& object, std::string_view key);
/// `object[key]` when it is an array, else an empty array: read without copying.
const Json& items(const Json& object, std::string_view key);
/// A string field of an object, or "".
std::string text_of(const Json& object, std::string_view key);
/// A boolean field of an object, or false.
bool flag_of(const Json& object, std::string_view key);

} // namespace grant::lint
