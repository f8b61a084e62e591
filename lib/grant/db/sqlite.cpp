// The SQLite adapter over the sqlite3 C API.
#include <grant/db/connection.hpp>

#include <grant/db/cancel.hpp>
#include <grant/util/strings.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>

namespace grant::db {

namespace {

class Statement {
public:
  Statement() = default;
  ~Statement() { sqlite3_finalize(m_stmt); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt** out() { return &m_stmt; }
  sqlite3_stmt* get() const { return m_stmt; }

private:
  sqlite3_stmt* m_stmt = nullptr;
};

// Skips the whitespace and `--` comments in front of a statement.
std::size_t statement_start(std::string_view sql, std::size_t offset) {
  while (offset < sql.size()) {
    if (std::isspace(static_cast<unsigned char>(sql[offset])) != 0) {
      ++offset;
    } else if (sql.substr(offset, 2) == "--") {
      const auto newline = sql.find('\n', offset);
      offset = newline == std::string_view::npos ? sql.size() : newline + 1;
    } else {
      break;
    }
  }
  return offset;
}

int line_of(std::string_view sql, std::size_t offset) {
  return 1 +
         static_cast<int>(std::count(sql.begin(), sql.begin() + static_cast<long>(std::min(offset, sql.size())), '\n'));
}

class SqliteConnection final : public Connection {
public:
  SqliteConnection(const util::DatabaseUrl& url, const ConnectOptions& options)
      : Connection(options.target.empty() ? url.redacted() : options.target) {
    const auto path = url.sqlite_path.string();
    const int rc =
        sqlite3_open_v2(path.c_str(), &m_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      const std::string message = m_db != nullptr ? sqlite3_errmsg(m_db) : sqlite3_errstr(rc);
      sqlite3_close(m_db);
      m_db = nullptr;
      DbError::Details details;
      details.target = target();
      details.sqlite_code = rc;
      details.connection_lost = true;
      throw DbError("cannot open SQLite database " + util::in_quotes(path) + ": " + message, details,
                    "check that the folder exists and is writable");
    }
    sqlite3_extended_result_codes(m_db, 1);
    // Another process (or grant run) holding a write lock makes us wait rather than fail.
    sqlite3_busy_timeout(m_db, std::max(options.connect_timeout_ms, 1000));
    if (options.sqlite_foreign_keys) {
      execute("PRAGMA foreign_keys = ON"); // SQLite's default is off; the config asks for it
    }
  }

  ~SqliteConnection() override { sqlite3_close_v2(m_db); }

  Dialect dialect() const override { return Dialect::sqlite; }
  const Engine& engine() const override { return sqlite_engine(); }

  void execute(std::string_view sql) override {
    const char* cursor = sql.data();
    const char* const end = sql.data() + sql.size();
    while (cursor < end) {
      Statement statement;
      const char* tail = nullptr;
      const int rc = sqlite3_prepare_v2(m_db, cursor, static_cast<int>(end - cursor), statement.out(), &tail);
      if (rc != SQLITE_OK) {
        fail(sql, static_cast<std::size_t>(cursor - sql.data()), rc);
      }
      if (statement.get() == nullptr) { // whitespace or a comment
        cursor = tail;
        continue;
      }
      arm_deadline();
      const cancel::Running running(*this);
      int step = SQLITE_ROW;
      while (step == SQLITE_ROW) {
        step = sqlite3_step(statement.get());
      }
      if (step != SQLITE_DONE) {
        fail(sql, static_cast<std::size_t>(cursor - sql.data()), step);
      }
      cursor = tail;
    }
  }

  Rows query(std::string_view sql, const Params& params) override {
    Rows rows;
    each_row(
        sql, params,
        [&](sqlite3_stmt* stmt) {
          const int columns = sqlite3_column_count(stmt);
          std::vector<Value> values;
          values.reserve(static_cast<std::size_t>(columns));
          for (int c = 0; c < columns; ++c) {
            values.push_back(column_value(stmt, c));
          }
          rows.rows.push_back(std::move(values));
        },
        &rows.columns);
    rows.affected = sqlite3_changes(m_db);
    return rows;
  }

  void stream(std::string_view select_sql, const RowCallback& on_row) override {
    std::vector<std::string_view> fields;
    std::vector<bool> nulls;
    each_row(
        select_sql, {},
        [&](sqlite3_stmt* stmt) {
          const int columns = sqlite3_column_count(stmt);
          fields.clear();
          nulls.clear();
          for (int c = 0; c < columns; ++c) {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
            const bool is_null = sqlite3_column_type(stmt, c) == SQLITE_NULL;
            fields.emplace_back(is_null || text == nullptr
                                    ? std::string_view{}
                                    : std::string_view(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, c))));
            nulls.push_back(is_null);
          }
          on_row(RowView{fields, nulls});
        },
        nullptr);
  }

  void stream_result(std::string_view sql, ResultSink& sink, const StreamOptions& options) override {
    std::optional<Transaction> own;
    if (options.read_only && transaction_depth() == 0) {
      own.emplace(*this, TxOptions{Isolation::default_level, true});
    }
    std::vector<std::string_view> fields;
    std::vector<bool> nulls;
    std::vector<ValueType> types;
    std::vector<std::string> names;
    long long read = 0;
    bool described = false;
    const auto describe = [&] {
      std::vector<Column> columns;
      for (auto& name : names) {
        columns.push_back({std::move(name), ValueType::text}); // SQLite types each value instead
      }
      sink.columns(columns);
      described = true;
    };
    each_row(
        sql, {},
        [&](sqlite3_stmt* stmt) {
          if (!described) {
            describe();
          }
          const auto width = static_cast<std::size_t>(sqlite3_column_count(stmt));
          fields.resize(width);
          nulls.resize(width);
          types.resize(width);
          for (std::size_t c = 0; c < width; ++c) {
            const int column = static_cast<int>(c);
            const int type = sqlite3_column_type(stmt, column);
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
            nulls[c] = type == SQLITE_NULL;
            types[c] = type == SQLITE_INTEGER ? ValueType::integer
                       : type == SQLITE_FLOAT ? ValueType::number
                                              : ValueType::text;
            fields[c] = nulls[c] || text == nullptr
                            ? std::string_view{}
                            : std::string_view(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, column)));
          }
          sink.row(RowView{fields, nulls, &types});
          ++read;
        },
        &names);
    if (!described) {
      describe();
    }
    sink.finished(names.empty() && read == 0 ? sqlite3_changes(m_db) : read);
    if (own) {
      own->commit();
    }
  }

  void interrupt() noexcept override { sqlite3_interrupt(m_db); }

  void cancel() noexcept override { sqlite3_interrupt(m_db); }

  std::string reset_session_sql() const override { return {}; } // no session state a migration leaves

  void set_statement_timeout(std::chrono::milliseconds timeout) override {
    m_timeout = timeout;
    if (timeout.count() == 0) {
      sqlite3_progress_handler(m_db, 0, nullptr, nullptr);
    } else {
      sqlite3_progress_handler(m_db, 10000, &SqliteConnection::on_progress, this);
    }
  }

  bool in_recovery() override { return false; }

  std::string server_version() override { return std::string("SQLite ") + sqlite3_libversion(); }

  bool is_usable() const noexcept override { return m_db != nullptr; }

protected:
  std::string begin_statement(const TxOptions& options) const override {
    if (options.read_only) {
      auto* self = const_cast<SqliteConnection*>(this);
      self->execute("PRAGMA query_only = ON");
      self->m_query_only = true;
      return "BEGIN DEFERRED";
    }
    // Take the write lock up front: a deferred transaction that upgrades later can deadlock.
    return "BEGIN IMMEDIATE";
  }

  // Only a read-only transaction turned query_only on: a migration's commit costs no statement.
  void after_transaction() override {
    if (m_query_only) {
      execute("PRAGMA query_only = OFF");
      m_query_only = false;
    }
  }

private:
  static int on_progress(void* self) {
    auto* connection = static_cast<SqliteConnection*>(self);
    return std::chrono::steady_clock::now() > connection->m_deadline ? 1 : 0;
  }

  void arm_deadline() {
    if (m_timeout.count() > 0) {
      m_deadline = std::chrono::steady_clock::now() + m_timeout;
    }
  }

  static Value column_value(sqlite3_stmt* stmt, int column) {
    if (sqlite3_column_type(stmt, column) == SQLITE_NULL) {
      return std::nullopt;
    }
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
    return std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, column)));
  }

  template <typename OnRow>
  void each_row(std::string_view sql, const Params& params, OnRow&& on_row, std::vector<std::string>* columns) {
    Statement statement;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(m_db, sql.data(), static_cast<int>(sql.size()), statement.out(), &tail);
    if (rc != SQLITE_OK) {
      fail(sql, 0, rc);
    }
    if (statement.get() == nullptr) {
      return;
    }
    bind(statement.get(), sql, params);
    if (columns != nullptr) {
      for (int c = 0; c < sqlite3_column_count(statement.get()); ++c) {
        columns->emplace_back(sqlite3_column_name(statement.get(), c));
      }
    }
    arm_deadline();
    const cancel::Running running(*this);
    while ((rc = sqlite3_step(statement.get())) == SQLITE_ROW) {
      on_row(statement.get());
    }
    if (rc != SQLITE_DONE) {
      fail(sql, 0, rc);
    }
  }

  // `$1`, `?1` and `?` all bind positionally, so the same SQL text serves both dialects.
  void bind(sqlite3_stmt* stmt, std::string_view sql, const Params& params) {
    const int count = sqlite3_bind_parameter_count(stmt);
    for (int i = 1; i <= count; ++i) {
      std::size_t index = static_cast<std::size_t>(i);
      if (const char* name = sqlite3_bind_parameter_name(stmt, i); name != nullptr && name[1] != '\0') {
        index = static_cast<std::size_t>(std::strtoul(name + 1, nullptr, 10));
      }
      if (index == 0 || index > params.size()) {
        throw DbError("statement expects parameter " + std::to_string(index) + " but " + std::to_string(params.size()) +
                          " were given",
                      {target(), std::string(sql), {}, SQLITE_RANGE, false, 0});
      }
      const auto& value = params[index - 1];
      const int rc = value
                         ? sqlite3_bind_text(stmt, i, value->data(), static_cast<int>(value->size()), SQLITE_TRANSIENT)
                         : sqlite3_bind_null(stmt, i);
      if (rc != SQLITE_OK) {
        fail(sql, 0, rc);
      }
    }
  }

  [[noreturn]] void fail(std::string_view sql, std::size_t offset, int rc) {
    std::string message = sqlite3_errmsg(m_db);
    if (rc == SQLITE_INTERRUPT && cancel::requested() != 0 && !cancel::shielded()) {
      throw Interrupted(target() + ": stopped by " + cancel::signal_name(cancel::requested()) + " (" + message + ")",
                        target());
    }
    if (rc == SQLITE_INTERRUPT) {
      message = "statement timeout: " + message;
    }
    const int error_offset = sqlite3_error_offset(m_db);
    std::size_t at = offset + static_cast<std::size_t>(std::max(error_offset, 0));
    if (error_offset < 0) {
      at = statement_start(sql, at); // no position from SQLite: the statement's first line
    }
    DbError::Details details;
    details.target = target();
    details.statement = std::string(sql);
    details.sqlite_code = sqlite3_extended_errcode(m_db);
    details.line = line_of(sql, at);
    std::string hint;
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
      hint = "another process holds the database lock; retry when it is done";
    }
    throw DbError(message, details, hint);
  }

  sqlite3* m_db = nullptr;
  std::chrono::milliseconds m_timeout{0};
  std::chrono::steady_clock::time_point m_deadline{};
  bool m_query_only = false; ///< a read-only transaction set PRAGMA query_only
};

} // namespace

std::unique_ptr<Connection> connect_sqlite(const util::DatabaseUrl& url, const ConnectOptions& options) {
  return std::make_unique<SqliteConnection>(url, options);
}

} // namespace grant::db
