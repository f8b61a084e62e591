#include <grant/commands.hpp>
#include <grant/context.hpp>
#include <grant/flag_checks.hpp>

#include <grant/error.hpp>
#include <grant/lookup/table_loader.hpp>
#include <grant/registry/registry.hpp>
#include <grant/shard/resolver.hpp>
#include <grant/util/strings.hpp>
#include <grant/util/text.hpp>

#include <iostream>

namespace grant::cli {

namespace {

struct ShardResolveFlags {
  std::string database;
  std::vector<std::string> keys;
  bool from_stdin = false;
};

// Splits a composite key: parts are separated by `separator` (',' on the command line, TAB on stdin).
void split_parts(std::string_view text, char separator, std::vector<std::string_view>& parts) {
  parts.clear();
  std::size_t start = 0;
  while (true) {
    const auto end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) {
      return;
    }
    start = end + 1;
  }
}

void run_shard_resolve(const ShardResolveFlags& flags, Context& context) {
  if (flags.from_stdin == !flags.keys.empty()) {
    throw ConfigError(flags.from_stdin ? "give keys as arguments or --stdin, not both" : "no keys given",
                      "shard-resolve", "grant shard-resolve --database orders 42 77, or pipe keys into --stdin");
  }
  const auto& config = context.config();
  const auto& database = *registry::select_databases(config, {flags.database}).front();
  registry::Registry registry(config);
  const auto resolver = shard::make_resolver(database, lookup::table_loader(registry));
  const bool json = context.global.json;
  const char separator = flags.from_stdin ? '\t' : ',';

  std::string out;
  out.reserve(1 << 16);
  const auto flush = [&] {
    std::cout.write(out.data(), static_cast<std::streamsize>(out.size()));
    out.clear();
  };
  shard::Key key;
  std::vector<std::string_view> parts;
  std::size_t misses = 0;
  std::size_t count = 0;
  const auto resolve_one = [&](std::string_view text, const std::string& where) {
    split_parts(text, separator, parts);
    std::string shard_name;
    std::string problem;
    try {
      key.assign_text(parts);
      shard_name = resolver->resolve_name(key);
    } catch (const shard::KeyError& error) {
      if (error.problem() != shard::KeyProblem::no_shard) {
        throw ConfigError(error.what(), where, error.hint());
      }
      ++misses;
      problem = error.what();
      context.error(problem, where, error.hint());
    }
    if (json) {
      nlohmann::json item{{"key", text},
                          {"shard", shard_name.empty() ? nlohmann::json(nullptr) : nlohmann::json(shard_name)},
                          {"keyspace_id", shard::keyspace_id_hex(key.keyspace_id())}};
      if (!problem.empty()) {
        item["error"] = problem;
      }
      // Keys are bytes from the user; JSON needs UTF-8, so invalid sequences print as U+FFFD.
      out += (count == 0 ? "\n  " : ",\n  ") + util::json_text(item);
    } else {
      out += util::printable(text, "\t"); // the TABs between a composite key's parts stay
      out += '\t';
      out += shard_name;
      out += '\n';
    }
    ++count;
    if (out.size() > (1 << 16)) {
      flush();
    }
  };
  if (json) {
    out += "{\"database\": " + util::json_text(nlohmann::json(database.name)) +
           ", \"resolver\": " + util::json_text(nlohmann::json(resolver->type())) + ", \"keys\": [";
  }
  if (flags.from_stdin) {
    std::ios::sync_with_stdio(false);
    std::string line;
    std::size_t line_number = 0;
    while (std::getline(std::cin, line)) {
      ++line_number;
      // Key lists saved by Windows editors: CRLF line ends and a UTF-8 byte-order mark.
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      if (line_number == 1 && util::starts_with(line, "\xEF\xBB\xBF")) {
        line.erase(0, 3);
      }
      resolve_one(line, "stdin:" + std::to_string(line_number));
    }
  } else {
    for (std::size_t i = 0; i < flags.keys.size(); ++i) {
      resolve_one(flags.keys[i], "argument " + std::to_string(i + 1) + " (" + util::in_quotes(flags.keys[i]) + ")");
    }
  }
  if (json) {
    out += count == 0 ? "]}\n" : "\n]}\n";
  }
  flush();
  std::cout.flush();
  if (misses > 0) {
    context.exit_code = 1;
  }
}

} // namespace

void setup_shard_resolve(CLI::App& app, Context& context) {
  auto flags = std::make_shared<ShardResolveFlags>();
  auto* command = app.add_subcommand("shard-resolve", "Print the shard that owns each key");
  command->add_option("--database", flags->database, "The sharded database")->required();
  command->add_option("keys", flags->keys, "Keys; a composite key's parts are separated by commas: acme,42")
      ->check(handles_empty());
  command->add_flag("--stdin", flags->from_stdin, "Read keys from stdin, one per line (composite parts TAB-separated)");
  command->footer(
      "Prints key<TAB>shard per key. A part that is a canonical decimal integer is an integer,\n"
      "anything else a string (docs/sharding.md).\n"
      "Examples:\n  grant shard-resolve --database orders 42 1001\n"
      "  grant shard-resolve --database tenants acme,42\n"
      "  psql -Atc 'COPY (SELECT user_id FROM users) TO STDOUT' | grant shard-resolve --database orders --stdin\n"
      "Exit codes: 0 all resolved, 1 a key no shard owns (lookup miss), 2 a malformed key or config error.");
  command->callback([flags, &context] { run_shard_resolve(*flags, context); });
}

} // namespace grant::cli
