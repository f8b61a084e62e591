// The MySQL / MariaDB adapter over MariaDB Connector/C (libmariadb, which speaks to both).
#include <grant/db/cancel.hpp>
#include <grant/db/mysql_text.hpp>
#include <grant/db/socket_session.hpp>
#include <grant/util/mysql_url.hpp>
#include <grant/util/strings.hpp>

#include <mysql.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <mutex>

#include <poll.h>
#include <sys/socket.h>

namespace grant::db {

namespace {

using mysql_text::is_connection_error;
using mysql_text::line_from_message;
using mysql_text::value_type;
using mysql_text::with_params;

struct Result {
  MYSQL_RES* result = nullptr;
  explicit Result(MYSQL_RES* r) : result(r) {}
  ~Result() {
    if (result != nullptr) {
      mysql_free_result(result);
    }
  }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
};

class MysqlConnection final : public SocketSession {
public:
  MysqlConnection(const util::DatabaseUrl& url, const ConnectOptions& options)
      : SocketSession(options.target.empty() ? url.redacted() : options.target), m_url(util::parse_mysql_url(url.raw)) {
    static std::once_flag k_library;
    std::call_once(k_library, [] { mysql_library_init(0, nullptr, nullptr); });
    m_handle = mysql_init(nullptr);
    if (m_handle == nullptr) {
      throw DbError("out of memory opening a MySQL session", {target(), {}, {}, 0, true, 0});
    }
    try {
      open(m_handle, options.connect_timeout_ms, options.application_name);
      m_socket = static_cast<int>(mysql_get_socket(m_handle));
      m_mariadb = std::string(mysql_get_server_info(m_handle)).find("MariaDB") != std::string::npos;
      m_reset_sql =
          std::string("SET SESSION sql_mode = DEFAULT, foreign_key_checks = DEFAULT, unique_checks = DEFAULT, "
                      "time_zone = DEFAULT, lock_wait_timeout = DEFAULT, ") +
          (m_mariadb ? "max_statement_time = DEFAULT" : "max_execution_time = DEFAULT") + "; USE " +
          quote_identifier(m_url.database) + ";";
    } catch (...) {
      mysql_close(m_handle); // no destructor runs for a constructor that throws
      throw;
    }
  }

  ~MysqlConnection() override { mysql_close(m_handle); }

  Dialect dialect() const override { return Dialect::mysql; }
  const Engine& engine() const override { return mysql_engine(); }

  void execute(std::string_view sql) override {
    bounded(sql, [&] { drain(sql); });
  }

  Rows query(std::string_view sql, const Params& params) override {
    const auto text = with_params(sql, params);
    Rows rows;
    bounded(text, [&] {
      send(text);
      Result result(mysql_store_result(m_handle));
      if (result.result == nullptr) {
        if (mysql_field_count(m_handle) != 0) {
          fail(text);
        }
        rows.affected = static_cast<long long>(mysql_affected_rows(m_handle));
      } else {
        const unsigned width = mysql_num_fields(result.result);
        const MYSQL_FIELD* fields = mysql_fetch_fields(result.result);
        for (unsigned c = 0; c < width; ++c) {
          rows.columns.emplace_back(fields[c].name);
        }
        while (MYSQL_ROW row = mysql_fetch_row(result.result)) {
          const unsigned long* lengths = mysql_fetch_lengths(result.result);
          std::vector<Value> values;
          values.reserve(width);
          for (unsigned c = 0; c < width; ++c) {
            values.push_back(row[c] == nullptr ? Value{} : Value{std::string(row[c], lengths[c])});
          }
          rows.rows.push_back(std::move(values));
        }
        rows.affected = static_cast<long long>(rows.rows.size());
      }
      skip_more_results(text);
    });
    return rows;
  }

  void stream(std::string_view select_sql, const RowCallback& on_row) override {
    bounded(select_sql, [&] {
      send(select_sql);
      each_row(
          select_sql, [&](const RowView& row) { on_row(row); }, nullptr);
    });
  }

  void stream_result(std::string_view sql, ResultSink& sink, const StreamOptions& options) override {
    std::optional<Transaction> own;
    if (options.read_only && transaction_depth() == 0) {
      own.emplace(*this, TxOptions{Isolation::default_level, true});
    }
    long long affected = 0;
    bounded(sql, [&] {
      send(sql);
      if (mysql_field_count(m_handle) == 0) {
        affected = static_cast<long long>(mysql_affected_rows(m_handle));
        sink.columns({});
      } else {
        affected = each_row(
            sql, [&](const RowView& row) { sink.row(row); },
            [&](const std::vector<Column>& columns) { sink.columns(columns); });
      }
      skip_more_results(sql);
    });
    sink.finished(affected);
    if (own) {
      own->commit();
    }
  }

  void cancel() noexcept override {
    // MySQL has no cancel request on the wire: a second session asks the server to stop this
    // one's statement (KILL QUERY), which then fails with "Query execution was interrupted".
    try {
      MYSQL* killer = mysql_init(nullptr);
      if (killer == nullptr) {
        return;
      }
      try {
        open(killer, 2000, "grant-cancel");
        const auto statement = "KILL QUERY " + std::to_string(mysql_thread_id(m_handle));
        mysql_real_query(killer, statement.data(), statement.size());
      } catch (...) {
      }
      mysql_close(killer);
    } catch (...) {
      // Not sent (the server is gone): the statement ends with the session instead.
    }
  }

  void set_statement_timeout(std::chrono::milliseconds timeout) override {
    if (m_mariadb) {
      execute("SET SESSION max_statement_time = " + std::to_string(static_cast<double>(timeout.count()) / 1000.0));
    } else {
      execute("SET SESSION max_execution_time = " + std::to_string(timeout.count()));
    }
  }

  std::string reset_session_sql() const override { return m_reset_sql; }

  int session_pid() const noexcept override { return static_cast<int>(mysql_thread_id(m_handle)); }

  bool in_recovery() override {
    // A replica is a server that replicates from another (the replication settings are there
    // even while its threads are stopped).
    try {
      return !query("SHOW REPLICA STATUS", {}).empty();
    } catch (const DbError& error) {
      if (error.connection_lost()) {
        throw;
      }
      return query("SELECT @@read_only", {}).scalar() == Value{"1"}; // not allowed to look: the next best sign
    }
  }

  std::string server_version() override {
    const std::string info = mysql_get_server_info(m_handle);
    return std::string(m_mariadb ? "MariaDB " : "MySQL ") + info.substr(0, info.find('-'));
  }

  bool is_usable() const noexcept override { return !m_broken && !m_interrupted; }

protected:
  std::string begin_statement(const TxOptions& options) const override {
    std::string out;
    switch (options.isolation) {
    case Isolation::default_level:
      break;
    case Isolation::read_committed:
      out = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; ";
      break;
    case Isolation::repeatable_read:
      out = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; ";
      break;
    case Isolation::serializable:
      out = "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE; ";
      break;
    }
    return out + (options.read_only ? "START TRANSACTION READ ONLY" : "START TRANSACTION");
  }

private:
  void open(MYSQL* handle, int connect_timeout_ms, const std::string& program) {
    const unsigned seconds = static_cast<unsigned>(std::max(1, (connect_timeout_ms + 999) / 1000));
    mysql_optionsv(handle, MYSQL_OPT_CONNECT_TIMEOUT, &seconds);
    mysql_optionsv(handle, MYSQL_SET_CHARSET_NAME, m_url.charset.c_str());
    mysql_optionsv(handle, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", program.c_str());
    if (m_url.ssl_mode == "disabled") {
      const my_bool off = 0;
      mysql_optionsv(handle, MYSQL_OPT_SSL_ENFORCE, &off);
    } else if (m_url.ssl_mode == "required" || m_url.ssl_mode == "verify-ca" || m_url.ssl_mode == "verify-identity") {
      const my_bool on = 1;
      mysql_optionsv(handle, MYSQL_OPT_SSL_ENFORCE, &on);
      if (m_url.ssl_mode != "required") {
        mysql_optionsv(handle, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
      }
    }
    const bool by_socket = !m_url.socket.empty();
    if (mysql_real_connect(handle, by_socket ? nullptr : m_url.host.c_str(), m_url.user.c_str(),
                           m_url.password.empty() ? nullptr : m_url.password.c_str(), m_url.database.c_str(),
                           by_socket ? 0 : m_url.port, by_socket ? m_url.socket.c_str() : nullptr,
                           CLIENT_MULTI_STATEMENTS | CLIENT_FOUND_ROWS) == nullptr) {
      const std::string message = mysql_error(handle);
      const unsigned code = mysql_errno(handle);
      const std::string where = by_socket ? m_url.socket : m_url.host + ":" + std::to_string(m_url.port);
      std::string hint = "check that the server runs and listens there, and the URL's host and port";
      if (code == 1045) {
        hint = "check the user and password in the URL";
      } else if (code == 1049) {
        hint = "create the database (CREATE DATABASE " + quote_identifier(m_url.database) + ") or fix the URL";
      }
      // The server answered and refused (1045 access denied, 1049 unknown database): not a lost
      // connection, and nothing to wait for.
      const bool refused = code == 1045 || code == 1049;
      throw DbError("cannot connect to MySQL at " + where + " (" + target() + "): " + util::redact_secrets(message) +
                        " [" + std::to_string(code) + "]",
                    {target(), {}, mysql_sqlstate(handle), 0, !refused, 0}, hint);
    }
  }

  [[noreturn]] void fail(std::string_view sql) {
    const unsigned code = mysql_errno(m_handle);
    const std::string message = mysql_error(m_handle);
    const std::string state = mysql_sqlstate(m_handle);
    if (is_connection_error(code)) {
      m_broken = true;
      throw DbError("lost the connection to " + target() + ": " + message,
                    {target(), std::string(sql), state, 0, true, 0}, "check the server, then re-run");
    }
    if (code == 1317 /* ER_QUERY_INTERRUPTED */ && cancel::requested() != 0) {
      throw Interrupted(target() + ": cancelled on the server by " + cancel::signal_name(cancel::requested()) + " (" +
                            message + ")",
                        target());
    }
    throw DbError("ERROR " + std::to_string(code) + " (" + state + "): " + message,
                  {target(), std::string(sql), state, 0, false, line_from_message(message)});
  }

  void send(std::string_view sql) {
    if (mysql_real_query(m_handle, sql.data(), sql.size()) != 0) {
      fail(sql);
    }
  }

  // Runs a script of statements, reading and dropping each result.
  void drain(std::string_view sql) {
    send(sql);
    while (true) {
      if (MYSQL_RES* result = mysql_store_result(m_handle)) {
        mysql_free_result(result);
      } else if (mysql_field_count(m_handle) != 0) {
        fail(sql);
      }
      const int more = mysql_next_result(m_handle);
      if (more < 0) {
        return;
      }
      if (more > 0) {
        fail(sql);
      }
    }
  }

  void skip_more_results(std::string_view sql) {
    while (mysql_more_results(m_handle)) {
      if (mysql_next_result(m_handle) > 0) {
        fail(sql);
      }
      if (MYSQL_RES* result = mysql_store_result(m_handle)) {
        mysql_free_result(result);
      }
    }
  }

  // Reads the current result row by row without holding it; returns the rows read.
  long long each_row(std::string_view sql, const std::function<void(const RowView&)>& on_row,
                     const std::function<void(const std::vector<Column>&)>& on_columns) {
    Result result(mysql_use_result(m_handle));
    if (result.result == nullptr) {
      if (mysql_field_count(m_handle) != 0) {
        fail(sql);
      }
      if (on_columns) {
        on_columns({});
      }
      return 0;
    }
    const unsigned width = mysql_num_fields(result.result);
    if (on_columns) {
      const MYSQL_FIELD* fields = mysql_fetch_fields(result.result);
      std::vector<Column> columns;
      for (unsigned c = 0; c < width; ++c) {
        columns.push_back({fields[c].name, value_type(fields[c])});
      }
      on_columns(columns);
    }
    std::vector<std::string_view> views(width);
    std::vector<bool> nulls(width);
    long long count = 0;
    while (MYSQL_ROW row = mysql_fetch_row(result.result)) {
      const unsigned long* lengths = mysql_fetch_lengths(result.result);
      for (unsigned c = 0; c < width; ++c) {
        nulls[c] = row[c] == nullptr;
        views[c] = row[c] == nullptr ? std::string_view() : std::string_view(row[c], lengths[c]);
      }
      on_row(RowView{views, nulls});
      ++count;
    }
    if (mysql_errno(m_handle) != 0) {
      fail(sql);
    }
    return count;
  }

  util::MysqlUrl m_url;
  MYSQL* m_handle = nullptr;
  bool m_mariadb = false;
  std::string m_reset_sql;
};

} // namespace

std::unique_ptr<Connection> connect_mysql(const util::DatabaseUrl& url, const ConnectOptions& options) {
  return std::make_unique<MysqlConnection>(url, options);
}

} // namespace grant::db
