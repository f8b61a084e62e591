// The PostgreSQL adapter: the only file that includes libpqxx (its text handling, which needs
// no libpqxx, is in postgres_text.cpp).
#include <grant/db/connection.hpp>

#include <grant/db/cancel.hpp>
#include <grant/db/postgres_text.hpp>
#include <grant/db/socket_session.hpp>
#include <grant/db/sqlstate.hpp>

#include <pqxx/pqxx>

#include <atomic>
#include <optional>
#include <utility>

#include <poll.h>
#include <sys/socket.h>

namespace grant::db {

namespace {

using postgres_text::clean_message;
using postgres_text::line_from_message;
using postgres_text::split_copy_line;
using postgres_text::value_type;
using postgres_text::with_parameter;

class PostgresConnection final : public SocketSession {
public:
  PostgresConnection(const util::DatabaseUrl& url, const ConnectOptions& options)
      : SocketSession(options.target.empty() ? url.redacted() : options.target), m_url(url.redacted()) {
    const int seconds = std::max(2, (options.connect_timeout_ms + 999) / 1000);
    std::string conninfo = with_parameter(url.raw, "connect_timeout", std::to_string(seconds));
    conninfo = with_parameter(conninfo, "application_name", options.application_name);
    try {
      m_connection = std::make_unique<pqxx::connection>(conninfo);
      m_socket = m_connection->sock();
    } catch (const std::exception& error) {
      const auto message = clean_message(error.what());
      DbError::Details details;
      details.target = target();
      details.connection_lost = true;
      std::string hint = "check that the server is running and the URL is right";
      if (message.find("password authentication failed") != std::string::npos ||
          message.find("no password supplied") != std::string::npos) {
        hint = "check the user and password in the URL (or PGPASSWORD / ~/.pgpass)";
      }
      throw DbError("cannot connect to " + m_url + ": " + message, details, hint);
    }
  }

  Dialect dialect() const override { return Dialect::postgres; }
  const Engine& engine() const override { return postgres_engine(); }

  void execute(std::string_view sql) override {
    if (m_pending_begin.empty()) {
      run(sql, [&](pqxx::nontransaction& work) { work.exec(std::string(sql)); });
    } else {
      run_after_begin(sql, [](pqxx::nontransaction& work, const std::string& text) { work.exec(text); });
    }
  }

  Rows query(std::string_view sql, const Params& params) override {
    Rows rows;
    const auto read = [&rows](const pqxx::result& result) {
      rows.affected = result.affected_rows();
      const auto columns = result.columns();
      for (pqxx::row::size_type c = 0; c < columns; ++c) {
        rows.columns.emplace_back(result.column_name(c));
      }
      rows.rows.reserve(result.size());
      for (const auto& row : result) {
        std::vector<Value> values;
        values.reserve(columns);
        for (const auto& field : row) {
          values.push_back(field.is_null() ? Value{} : Value{std::string(field.c_str(), field.size())});
        }
        rows.rows.push_back(std::move(values));
      }
    };
    if (!params.empty()) { // the extended protocol takes one statement: the BEGIN goes first
      send_pending_begin();
      run(sql, [&](pqxx::nontransaction& work) {
        read(work.exec_params(std::string(sql), pqxx::prepare::make_dynamic_params(params)));
      });
    } else if (!m_pending_begin.empty()) {
      run_after_begin(sql, [&](pqxx::nontransaction& work, const std::string& text) { read(work.exec(text)); });
    } else {
      run(sql, [&](pqxx::nontransaction& work) { read(work.exec(std::string(sql))); });
    }
    return rows;
  }

  void stream(std::string_view select_sql, const RowCallback& on_row) override {
    send_pending_begin();
    run(select_sql, [&](pqxx::nontransaction& work) {
      // libpqxx 6.4's stream_from takes a table name and issues COPY <name> TO STDOUT; a
      // parenthesised query is a valid COPY source, so the query streams the same way.
      pqxx::stream_from copy(work, "(" + std::string(select_sql) + ")");
      std::string line;
      std::vector<std::string> decoded;
      std::vector<std::string_view> fields;
      std::vector<bool> nulls;
      while (copy.get_raw_line(line)) {
        // libpqxx 6.4 hands the row over with its terminating newline.
        if (!line.empty() && line.back() == '\n') {
          line.pop_back();
        }
        split_copy_line(line, decoded, fields, nulls);
        on_row(RowView{fields, nulls});
      }
      copy.complete();
    });
  }

  void stream_result(std::string_view sql, ResultSink& sink, const StreamOptions& options) override {
    const bool cursor = is_query_statement(sql);
    std::optional<Transaction> own;
    if (transaction_depth() == 0 && (cursor || options.read_only)) {
      own.emplace(*this, TxOptions{Isolation::default_level, options.read_only});
    }
    send_pending_begin();
    if (!cursor || !declare_cursor(sql)) {
      run(sql, [&](pqxx::nontransaction& work) { deliver(work.exec(std::string(sql)), sink, true); });
      sink.finished(m_last_affected);
    } else {
      const std::string fetch =
          "FETCH FORWARD " + std::to_string(std::max<std::size_t>(options.batch_rows, 1)) + " FROM grant_stream";
      long long read = 0;
      try {
        run(sql, [&](pqxx::nontransaction& work) {
          for (bool first = true;; first = false) {
            const pqxx::result batch = work.exec(fetch);
            deliver(batch, sink, first);
            read += static_cast<long long>(batch.size());
            if (batch.empty()) {
              return;
            }
          }
        });
      } catch (...) {
        if (!own && is_usable()) { // the caller's transaction goes on: do not leave the cursor open
          try {
            execute("CLOSE grant_stream");
          } catch (const DbError&) { // the transaction is aborted: its end closes the cursor
          }
        }
        throw;
      }
      execute("CLOSE grant_stream");
      sink.finished(read);
    }
    if (own) {
      own->commit();
    }
  }

  void cancel() noexcept override {
    try {
      m_connection->cancel_query(); // thread-safe in libpqxx 6.4: its own PGcancel copy
    } catch (...) {
      // Not sent (the server is gone): the statement ends with the session instead.
    }
  }

  void set_statement_timeout(std::chrono::milliseconds timeout) override {
    execute("SET statement_timeout = " + std::to_string(timeout.count()));
  }

  std::string reset_session_sql() const override { return "SET SESSION AUTHORIZATION DEFAULT; RESET ALL;"; }

  int session_pid() const noexcept override { return m_connection ? m_connection->backendpid() : 0; }

  bool in_recovery() override { return query("SELECT pg_is_in_recovery()", {}).scalar() == Value{"t"}; }

  std::string server_version() override {
    return "PostgreSQL " + query("SHOW server_version", {}).scalar().value_or("?");
  }

  bool is_usable() const noexcept override {
    return !m_broken && !m_interrupted && m_connection && m_connection->is_open();
  }

protected:
  std::string begin_statement(const TxOptions& options) const override {
    std::string sql = "BEGIN";
    switch (options.isolation) {
    case Isolation::default_level:
      break;
    case Isolation::read_committed:
      sql += " ISOLATION LEVEL READ COMMITTED";
      break;
    case Isolation::repeatable_read:
      sql += " ISOLATION LEVEL REPEATABLE READ";
      break;
    case Isolation::serializable:
      sql += " ISOLATION LEVEL SERIALIZABLE";
      break;
    }
    if (options.read_only) {
      sql += " READ ONLY";
    }
    return sql;
  }

  // Held back until the next statement, which carries it (execute, query without parameters):
  // BEGIN costs no round trip of its own. Anything else sends it first.
  void begin_transaction(const TxOptions& options) override { m_pending_begin = begin_statement(options); }

private:
  void send_pending_begin() {
    if (!m_pending_begin.empty()) {
      const std::string begin = std::exchange(m_pending_begin, {});
      run(begin, [&](pqxx::nontransaction& work) { work.exec(begin); });
    }
  }

  // The held-back BEGIN and `sql` as one simple query, `sql` from the second line on, so that
  // the server's "LINE n:" points into `sql` once shifted back. Errors name `sql` alone.
  template <typename Body> void run_after_begin(std::string_view sql, Body&& body) {
    const std::string begin = std::exchange(m_pending_begin, {});
    const std::string text = begin + ";\n" + std::string(sql);
    try {
      run_shifted(sql, [&](pqxx::nontransaction& work) { body(work, text); });
    } catch (const DbError& error) {
      if (!error.connection_lost()) {
        abort_as_begun(begin);
      }
      throw;
    }
  }

  // A query string the server cannot parse fails whole, the BEGIN in front of it included, and
  // the session is left outside any transaction. The caller must find it as after a BEGIN of its
  // own: open and aborted, every statement refused until the rollback, a COMMIT rolling back.
  void abort_as_begun(const std::string& begin) noexcept {
    const cancel::Shield cleanup;
    try {
      run("SELECT 1", [](pqxx::nontransaction& work) { work.exec("SELECT 1"); });
    } catch (...) {
      return; // refused (25P02): the BEGIN ran, and its transaction is aborted already
    }
    const std::string abort =
        begin + "; DO $grant$BEGIN RAISE EXCEPTION 'an earlier statement of this transaction failed'; END$grant$";
    try {
      run(abort, [&](pqxx::nontransaction& work) { work.exec(abort); });
    } catch (...) {
      // What was wanted: the transaction is open and aborted.
    }
  }

  // DECLARE a cursor for the query; false when the server refuses a cursor for it (a WITH whose
  // body writes), after which the query is run whole. A WITH is declared inside a savepoint so
  // that the refusal does not abort the caller's transaction.
  bool declare_cursor(std::string_view sql) {
    // On a line of its own, so that the server's "LINE n:" and caret point into the caller's SQL
    // once the line number is shifted back (run_declare).
    const std::string declare = "DECLARE grant_stream NO SCROLL CURSOR FOR\n" + std::string(sql);
    if (leading_keyword(sql) != "with") {
      run_declare(sql, declare);
      return true;
    }
    Transaction savepoint(*this);
    try {
      run_declare(sql, declare);
    } catch (const DbError& error) {
      if (error.sqlstate() == sqlstate::k_feature_not_supported) { // a data-modifying WITH
        return false;
      }
      throw;
    }
    savepoint.commit();
    return true;
  }

  void run_declare(std::string_view sql, const std::string& declare) {
    run_shifted(sql, [&](pqxx::nontransaction& work) { work.exec(declare); });
  }

  // Runs a text whose first line is grant's (a DECLARE, a BEGIN) and the rest `sql`: an error's
  // line number is shifted back to count from `sql`'s first line.
  template <typename Body> void run_shifted(std::string_view sql, Body&& body) {
    try {
      run(sql, body);
    } catch (const DbError& error) {
      std::string message = error.what();
      auto details = error.details();
      if (const int line = postgres_text::shift_line_back(message); line > 0) {
        details.line = line;
      }
      throw DbError(message, details, error.hint());
    }
  }

  // Hands a result to the sink: its columns when `with_columns`, then its rows.
  void deliver(const pqxx::result& result, ResultSink& sink, bool with_columns) {
    const auto width = static_cast<std::size_t>(result.columns());
    if (with_columns) {
      std::vector<Column> columns;
      for (pqxx::row::size_type c = 0; c < result.columns(); ++c) {
        columns.push_back({result.column_name(c), value_type(result.column_type(c))});
      }
      sink.columns(columns);
    }
    m_fields.resize(width);
    m_nulls.resize(width);
    for (const auto& row : result) {
      for (std::size_t c = 0; c < width; ++c) {
        const auto field = row[static_cast<pqxx::row::size_type>(c)];
        m_nulls[c] = field.is_null();
        m_fields[c] = std::string_view(field.c_str(), field.size());
      }
      sink.row(RowView{m_fields, m_nulls});
    }
    m_last_affected =
        width == 0 ? static_cast<long long>(result.affected_rows()) : static_cast<long long>(result.size());
  }

  template <typename Body> void run(std::string_view sql, Body&& body) {
    bounded(sql, [&] { translate(sql, body); });
  }

  template <typename Body> void translate(std::string_view sql, Body&& body) {
    try {
      pqxx::nontransaction work(*m_connection);
      body(work);
    } catch (const pqxx::sql_error& error) {
      const auto message = clean_message(error.what());
      if (error.sqlstate() == sqlstate::k_query_canceled && cancel::requested() != 0) {
        throw Interrupted(target() + ": cancelled on the server by " + cancel::signal_name(cancel::requested()) + " (" +
                              message + ")",
                          target());
      }
      throw DbError(message, {target(), std::string(sql), error.sqlstate(), 0, false, line_from_message(message)});
    } catch (const pqxx::broken_connection& error) {
      m_broken = true;
      throw DbError("lost the connection to " + target() + ": " + clean_message(error.what()),
                    {target(), std::string(sql), {}, 0, true, 0}, "check the server, then re-run");
    } catch (const pqxx::in_doubt_error& error) {
      m_broken = true;
      throw DbError(clean_message(error.what()), {target(), std::string(sql), {}, 0, true, 0});
    } catch (const pqxx::transaction_rollback& error) {
      // libpqxx 6 derives these from pqxx::failure, not sql_error: the SQLSTATE is known only
      // by the type. Without it a deadlock or a serialization failure would not be retried.
      const char* state = sqlstate::k_transaction_rollback;
      if (dynamic_cast<const pqxx::deadlock_detected*>(&error) != nullptr) {
        state = sqlstate::k_deadlock_detected;
      } else if (dynamic_cast<const pqxx::serialization_failure*>(&error) != nullptr) {
        state = sqlstate::k_serialization_failure;
      } else if (dynamic_cast<const pqxx::statement_completion_unknown*>(&error) != nullptr) {
        state = sqlstate::k_statement_completion_unknown;
      }
      throw DbError(clean_message(error.what()), {target(), std::string(sql), state, 0, false, 0});
    } catch (const pqxx::failure& error) {
      throw DbError(clean_message(error.what()), {target(), std::string(sql), {}, 0, false, 0});
    } catch (const pqxx::usage_error& error) {
      throw DbError(clean_message(error.what()), {target(), std::string(sql), {}, 0, false, 0});
    }
  }

  std::string m_url;
  std::unique_ptr<pqxx::connection> m_connection;
  std::vector<std::string_view> m_fields; ///< stream_result's row buffers, reused
  std::vector<bool> m_nulls;
  long long m_last_affected = 0;
  std::string m_pending_begin; ///< a BEGIN the next statement carries (begin_transaction)
};

} // namespace

std::unique_ptr<Connection> connect_postgres(const util::DatabaseUrl& url, const ConnectOptions& options) {
  return std::make_unique<PostgresConnection>(url, options);
}

} // namespace grant::db
