#include <grant/commands.hpp>
#include <grant/context.hpp>
#include <grant/flag_checks.hpp>
#include <grant/query_output.hpp>

#include <grant/error.hpp>
#include <grant/registry/registry.hpp>
#include <grant/route/merge_plan.hpp>
#include <grant/route/prevent_writes.hpp>
#include <grant/route/scatter.hpp>
#include <grant/route/shard_choice.hpp>
#include <grant/route/shard_targets.hpp>
#include <grant/shard/key.hpp>
#include <grant/util/sql_split.hpp>
#include <grant/util/strings.hpp>

#include <iostream>
#include <sstream>

namespace grant::cli {

namespace {

struct QueryFlags {
  std::string database;
  std::string shard;
  std::string key;
  bool all_shards = false;
  std::string role = "writing";
  std::optional<int> max_lag_ms;
  bool read_only = false;
  std::string format = "table";
  bool crlf = false;
  int timeout_ms = 30000;
  int jobs = 8;
  bool partial = false;
  std::string sql;
};

QueryFormat parse_format(const std::string& name) {
  if (name == "table") {
    return QueryFormat::table;
  }
  if (name == "csv") {
    return QueryFormat::csv;
  }
  return QueryFormat::json;
}

// The statement to run: the argument, or standard input for "-"; exactly one statement.
std::string statement_of(const std::string& argument) {
  std::string sql = argument;
  if (sql == "-") {
    std::ostringstream text;
    text << std::cin.rdbuf();
    sql = text.str();
  }
  const auto statements = util::split_statements(sql);
  if (statements.empty()) {
    throw ConfigError("no SQL statement given", "grant query",
                      "grant query --database app \"SELECT count(*) FROM users\"");
  }
  if (statements.size() > 1) {
    throw ConfigError("grant query runs one statement; got " + std::to_string(statements.size()), "grant query",
                      "run them one at a time, or use a migration for a script");
  }
  return statements.front().text;
}

// The shards to query: the library decides, the errors speak of this command's flags.
std::vector<std::string> shards_of(const QueryFlags& flags, const config::Database& database,
                                   registry::Registry& registry) {
  route::ShardChoice choice;
  choice.shard = flags.shard;
  if (!flags.key.empty()) {
    choice.key = util::split(flags.key, ','); // a composite key: a,b
  }
  choice.all = flags.all_shards;
  try {
    return route::select_shards(registry, database, choice);
  } catch (const route::ShardChoiceError& error) {
    switch (error.problem()) {
    case route::ShardChoiceError::Problem::several:
      throw ConfigError("--shard, --key and --all-shards exclude each other", "grant query");
    case route::ShardChoiceError::Problem::not_sharded:
      throw ConfigError("database " + database.name +
                            " is not sharded, so --shard, --key and --all-shards do not apply",
                        database.key_path);
    case route::ShardChoiceError::Problem::none:
      break;
    }
    throw ConfigError("database " + database.name + " is sharded: say which shards to query", database.key_path,
                      "add --shard NAME, --key VALUE (the shard that owns it) or --all-shards");
  } catch (const shard::KeyError& error) {
    throw ConfigError(error.what(), "--key " + util::in_quotes(flags.key), error.hint());
  }
}

void run_query(const QueryFlags& flags, Context& context) {
  const auto format = context.global.json ? QueryFormat::json : parse_format(flags.format);
  if (flags.crlf && format != QueryFormat::csv) {
    throw ConfigError("--crlf applies to --format csv", "grant query");
  }
  const auto& config = context.config();
  const auto& database = *registry::select_databases(config, {flags.database}).front();
  const auto sql = statement_of(flags.sql);
  registry::Registry registry(config);
  const auto shards = shards_of(flags, database, registry);
  const bool reading = flags.role == "reading";
  if (flags.max_lag_ms && !reading) {
    throw ConfigError("--max-lag applies to --role reading", "grant query");
  }
  std::unique_ptr<route::ReadTargets> reads;
  if (reading) {
    reads = std::make_unique<route::ReadTargets>(registry, database, shards, flags.max_lag_ms);
  }
  // Reading is read-only (Rails' reading role): when no replica qualifies the writer serves the
  // read, and a write must not ride along. Refused here before any server sees it (and, one
  // statement with no scope to restart, COMMIT and ROLLBACK too); the read-only transaction
  // catches what the text does not show (a function that writes).
  const bool read_only = flags.read_only || reading;
  if (read_only) {
    const std::string flag = flags.read_only ? "--read-only" : "--role reading";
    if (const auto verdict = route::PreventWrites::check(sql, route::TransactionEnds::refuse); verdict.refused()) {
      throw ConfigError("writes are prevented with " + flag + ": refused " + verdict.keyword +
                            " before it reached the server",
                        database.name, "run it without " + flag + " (the writer takes writes: --role writing)");
    }
  }

  const auto targets = route::shard_targets(
      registry, database, shards, reads.get(), [&context](const std::string& label, const route::Pick& pick) {
        if (pick.is_writer()) {
          context.warn("reading " + label + " from its writer: " + std::string(route::fallback_name(pick.fallback)));
        } else {
          context.detail("reading " + label + " from replica " + pick.endpoint->label());
        }
      });

  const bool merged = flags.all_shards;
  auto printer = RowPrinter::make(format, merged, stdout, flags.crlf);
  if (!merged) {
    auto connection = targets.front().checkout();
    try {
      connection->stream_result(sql, *printer, {read_only, 5000});
    } catch (...) {
      printer->flush();
      throw;
    }
    printer->end(printer->affected());
    return;
  }

  const auto plan = route::plan_merge(sql);
  route::ScatterOptions options;
  options.jobs = static_cast<std::size_t>(flags.jobs);
  options.timeout = std::chrono::milliseconds(flags.timeout_ms);
  options.read_only = read_only;
  options.partial = flags.partial;
  route::ScatterResult result;
  try {
    result = route::scatter_gather(targets, plan, *printer, options);
  } catch (...) {
    printer->flush();
    throw;
  }
  printer->end(result.affected);
  for (const auto& failure : result.failures) {
    context.error("shard " + failure.shard + " failed: " + failure.message, failure.label);
  }
  if (!result.failures.empty()) {
    context.exit_code = 3;
  }
}

} // namespace

void setup_query(CLI::App& app, Context& context) {
  auto flags = std::make_shared<QueryFlags>();
  auto* command =
      app.add_subcommand("query", "Run one SQL statement on a database, a shard, a replica, or every shard");
  command->add_option("--database", flags->database, "The database (from the config)")->required();
  command->add_option("--shard", flags->shard, "Only this shard of a sharded database");
  command->add_option("--key", flags->key, "The shard that owns this key (a,b for a composite key)");
  command->add_flag("--all-shards", flags->all_shards,
                    "Every shard in parallel, rows merged with a `shard` column first");
  command->add_option("--role", flags->role, "writing (the writer) or reading (a replica the balancer picks)")
      ->check(CLI::IsMember({"writing", "reading"}));
  command->add_option("--max-lag", flags->max_lag_ms, "With --role reading: replicas further behind (ms) are skipped")
      ->check(whole_number(0, 86'400'000));
  command->add_flag("--read-only", flags->read_only, "Run inside a read-only transaction: the server refuses writes");
  command->add_option("--format", flags->format, "table (default), csv (RFC 4180 quoting, LF line ends) or json")
      ->check(CLI::IsMember({"table", "csv", "json"}));
  command->add_flag("--crlf", flags->crlf, "With --format csv: end rows with CRLF (RFC 4180) instead of LF");
  command
      ->add_option("--timeout", flags->timeout_ms,
                   "With --all-shards: a shard silent this many ms fails (default 30000; 0: no bound)")
      ->check(whole_number(0, 86'400'000));
  command->add_option("--jobs", flags->jobs, "With --all-shards: shards read at once (default 8)")
      ->check(whole_number(1, 256));
  command->add_flag("--partial", flags->partial,
                    "With --all-shards: print every shard that answers, report the failed ones (exit 3)");
  command->add_option("sql", flags->sql, "The statement, or - to read it from standard input")->required();
  command->footer("Examples:\n"
                  "  grant query --database analytics \"SELECT count(*) FROM events\"\n"
                  "  grant query --database orders --key 42 \"SELECT * FROM orders WHERE customer_id = 42\"\n"
                  "  grant query --database orders --all-shards --format csv \"SELECT id, total FROM orders ORDER BY "
                  "total DESC LIMIT 10\"\n"
                  "  grant query --database analytics --role reading --max-lag 500 --read-only \"SELECT now()\"\n"
                  "\n"
                  "With --all-shards a trailing ORDER BY / LIMIT / OFFSET applies to the merged rows of every shard.\n"
                  "Exit codes: 0 done, 2 usage or config error, 3 a database (or shard) failed; the error names it.");
  command->callback([flags, &context] { run_query(*flags, context); });
}

} // namespace grant::cli
