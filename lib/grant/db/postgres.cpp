// The PostgreSQL adapter: the only file that includes libpqxx.
#include <grant/db/connection.hpp>

#include <grant/util/strings.hpp>

#include <pqxx/pqxx>

#include <algorithm>
#include <regex>

namespace grant::db {

namespace {

// libpqxx prefixes nothing useful; keep the server's words, drop trailing newlines.
std::string clean_message(const std::string& raw) {
  std::string text = util::redact_secrets(raw);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  // The severity word adds nothing to "grant: error:", wherever libpq put it.
  for (const std::string_view severity : {"ERROR:  ", "FATAL:  "}) {
    for (auto pos = text.find(severity); pos != std::string::npos; pos = text.find(severity, pos)) {
      text.erase(pos, severity.size());
    }
  }
  return text;
}

int line_from_message(const std::string& message) {
  static const std::regex k_line(R"(LINE (\d+):)");
  std::smatch match;
  return std::regex_search(message, match, k_line) ? std::stoi(match[1]) : 0;
}

std::string with_parameter(std::string url, std::string_view name, const std::string& value) {
  if (url.find(std::string(name) + "=") != std::string::npos) {
    return url;
  }
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += std::string(name) + "=" + value;
  return url;
}

class PostgresConnection final : public Connection {
public:
  PostgresConnection(const util::DatabaseUrl& url, const ConnectOptions& options)
      : Connection(options.target.empty() ? url.redacted() : options.target), m_url(url.redacted()) {
    const int seconds = std::max(2, (options.connect_timeout_ms + 999) / 1000);
    std::string conninfo = with_parameter(url.raw, "connect_timeout", std::to_string(seconds));
    conninfo = with_parameter(conninfo, "application_name", options.application_name);
    try {
      m_connection = std::make_unique<pqxx::connection>(conninfo);
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

  void execute(std::string_view sql) override {
    run(sql, [&](pqxx::nontransaction& work) { work.exec(std::string(sql)); });
  }

  Rows query(std::string_view sql, const Params& params) override {
    Rows rows;
    run(sql, [&](pqxx::nontransaction& work) {
      const pqxx::result result =
          params.empty() ? work.exec(std::string(sql))
                         : work.exec_params(std::string(sql), pqxx::prepare::make_dynamic_params(params));
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
    });
    return rows;
  }

  void stream(std::string_view select_sql, const RowCallback& on_row) override {
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
    return !m_broken && m_connection && m_connection->is_open();
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

private:
  template <typename Body> void run(std::string_view sql, Body&& body) {
    if (m_broken) {
      throw DbError("connection to " + target() + " was lost earlier",
                    {target(), std::string(sql), {}, 0, true, 0}, "reconnect and retry");
    }
    try {
      pqxx::nontransaction work(*m_connection);
      body(work);
    } catch (const pqxx::sql_error& error) {
      const auto message = clean_message(error.what());
      throw DbError(message, {target(), std::string(sql), error.sqlstate(), 0, false, line_from_message(message)});
    } catch (const pqxx::broken_connection& error) {
      m_broken = true;
      throw DbError("lost the connection to " + target() + ": " + clean_message(error.what()),
                    {target(), std::string(sql), {}, 0, true, 0}, "check the server, then re-run");
    } catch (const pqxx::in_doubt_error& error) {
      m_broken = true;
      throw DbError(clean_message(error.what()), {target(), std::string(sql), {}, 0, true, 0});
    } catch (const pqxx::failure& error) {
      throw DbError(clean_message(error.what()), {target(), std::string(sql), {}, 0, false, 0});
    } catch (const pqxx::usage_error& error) {
      throw DbError(clean_message(error.what()), {target(), std::string(sql), {}, 0, false, 0});
    }
  }

  // COPY text format: tab-separated, \N for NULL, backslash escapes.
  static void split_copy_line(const std::string& line, std::vector<std::string>& decoded,
                              std::vector<std::string_view>& fields, std::vector<bool>& nulls) {
    fields.clear();
    nulls.clear();
    // Size the decode buffers first: views into them must not move while the row is built.
    const auto columns = static_cast<std::size_t>(std::count(line.begin(), line.end(), '\t')) + 1;
    if (decoded.size() < columns) {
      decoded.resize(columns);
    }
    std::size_t field_count = 0;
    std::size_t start = 0;
    while (true) {
      auto end = line.find('\t', start);
      if (end == std::string::npos) {
        end = line.size();
      }
      const std::string_view raw(line.data() + start, end - start);
      if (raw == "\\N") {
        fields.emplace_back();
        nulls.push_back(true);
      } else if (raw.find('\\') == std::string_view::npos) {
        fields.push_back(raw);
        nulls.push_back(false);
      } else {
        auto& out = decoded[field_count];
        out.clear();
        for (std::size_t i = 0; i < raw.size(); ++i) {
          if (raw[i] != '\\' || i + 1 == raw.size()) {
            out += raw[i];
            continue;
          }
          const char next = raw[++i];
          switch (next) {
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'v': out += '\v'; break;
          default:
            if (next >= '0' && next <= '7') {
              int value = next - '0';
              for (int k = 0; k < 2 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7'; ++k) {
                value = value * 8 + (raw[++i] - '0');
              }
              out += static_cast<char>(value);
            } else {
              out += next;
            }
          }
        }
        fields.emplace_back(out);
        nulls.push_back(false);
      }
      ++field_count;
      if (end == line.size()) {
        return;
      }
      start = end + 1;
    }
  }

  std::string m_url;
  std::unique_ptr<pqxx::connection> m_connection;
  bool m_broken = false;
};

} // namespace

std::unique_ptr<Connection> connect_postgres(const util::DatabaseUrl& url, const ConnectOptions& options) {
  return std::make_unique<PostgresConnection>(url, options);
}

} // namespace grant::db
