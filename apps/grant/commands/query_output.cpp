// grant query's output formats: table, csv, json. Each prints rows as they stream in.
#include <grant/query_output.hpp>

#include <grant/util/strings.hpp>
#include <grant/util/text.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <deque>

namespace grant::cli {

namespace {

bool is_numeric(db::ValueType type) {
  return type == db::ValueType::integer || type == db::ValueType::number;
}

// Display width: UTF-8 code points (continuation bytes take no column).
std::size_t display_width(std::string_view text) {
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// psql's aligned format, streaming: the first rows set the widths.
class TablePrinter final : public RowPrinter {
public:
  using RowPrinter::RowPrinter;

  void end(long long affected) override {
    if (!m_header_done) {
      print_sample();
    }
    if (m_columns.empty()) {
      m_buffer += std::to_string(affected) + (affected == 1 ? " row" : " rows") + " affected\n";
    } else {
      m_buffer += "(" + std::to_string(m_rows) + (m_rows == 1 ? " row)\n" : " rows)\n");
    }
    RowPrinter::end(affected);
  }

protected:
  void on_columns() override {
    if (m_shard_column) {
      m_names.emplace_back("shard");
      m_right.push_back(false);
    }
    for (const auto& column : m_columns) {
      m_names.push_back(util::printable(column.name));
      m_right.push_back(is_numeric(column.type));
    }
    for (const auto& name : m_names) {
      m_widths.push_back(display_width(name));
    }
  }

  void on_row(const std::string& shard, const db::RowView& row) override {
    std::vector<std::string> cells;
    cells.reserve(m_names.size());
    if (m_shard_column) {
      cells.push_back(util::printable(shard));
    }
    // One line per row: tabs and newlines inside a value would break the columns, and control
    // bytes would drive the terminal; all are shown escaped (\n, \t, \x1b).
    for (std::size_t c = 0; c < row.fields.size(); ++c) {
      cells.push_back(row.nulls[c] ? std::string() : util::printable(row.fields[c]));
    }
    if (m_header_done) {
      print_line(cells);
      return;
    }
    if (row.types != nullptr && m_sample.empty()) { // SQLite types values: the first row decides
      const std::size_t first = m_shard_column ? 1 : 0;
      for (std::size_t c = 0; c < row.fields.size() && first + c < m_right.size(); ++c) {
        m_right[first + c] = is_numeric((*row.types)[c]);
      }
    }
    for (std::size_t c = 0; c < cells.size() && c < m_widths.size(); ++c) {
      m_widths[c] = std::max(m_widths[c], display_width(cells[c]));
    }
    m_sample.push_back(std::move(cells));
    if (m_sample.size() >= k_table_sample) {
      print_sample();
    }
  }

private:
  void print_sample() {
    m_header_done = true;
    if (m_names.empty()) {
      return;
    }
    std::string rule;
    for (std::size_t c = 0; c < m_names.size(); ++c) {
      const auto pad = m_widths[c] - display_width(m_names[c]);
      m_buffer += (c == 0 ? " " : " | ") + std::string(pad / 2, ' ') + m_names[c] + std::string(pad - pad / 2, ' ');
      rule += (c == 0 ? "" : "+") + std::string(m_widths[c] + 2, '-');
    }
    m_buffer += "\n" + rule + "\n";
    for (const auto& cells : m_sample) {
      print_line(cells);
    }
    m_sample.clear();
  }

  void print_line(const std::vector<std::string>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const auto width = c < m_widths.size() ? m_widths[c] : 0;
      const auto used = display_width(cells[c]);
      const std::string pad(width > used ? width - used : 0, ' ');
      const bool last = c + 1 == cells.size();
      m_buffer += c == 0 ? " " : " | ";
      if (c < m_right.size() && m_right[c]) {
        m_buffer += pad + cells[c];
      } else {
        m_buffer += cells[c];
        if (!last) {
          m_buffer += pad;
        }
      }
    }
    m_buffer += '\n';
    maybe_flush();
  }

  std::vector<std::string> m_names;
  std::vector<bool> m_right;
  std::vector<std::size_t> m_widths;
  std::deque<std::vector<std::string>> m_sample;
  bool m_header_done = false;
};

// RFC 4180 quoting (a header line, fields with a comma, quote or line break quoted); rows end in
// LF like psql --csv, or CRLF (RFC 4180's line end) when asked. Values pass byte for byte.
class CsvPrinter final : public RowPrinter {
public:
  CsvPrinter(bool shard_column, std::FILE* out, bool crlf)
      : RowPrinter(shard_column, out), m_line_end(crlf ? "\r\n" : "\n") {}

protected:
  void on_columns() override {
    if (m_columns.empty()) {
      return; // a statement without a result (INSERT, CREATE TABLE): no header either
    }
    bool first = true;
    if (m_shard_column) {
      field("shard");
      first = false;
    }
    for (const auto& column : m_columns) {
      if (!first) {
        m_buffer += ',';
      }
      first = false;
      field(column.name);
    }
    m_buffer += m_line_end;
  }

  void on_row(const std::string& shard, const db::RowView& row) override {
    if (m_shard_column) {
      field(shard);
      if (!row.fields.empty()) {
        m_buffer += ',';
      }
    }
    for (std::size_t c = 0; c < row.fields.size(); ++c) {
      if (c > 0) {
        m_buffer += ',';
      }
      if (!row.nulls[c]) {
        field(row.fields[c], true);
      }
    }
    m_buffer += m_line_end;
    maybe_flush();
  }

private:
  // `quote_empty`: an empty string is "" so that it differs from NULL (an empty field).
  void field(std::string_view text, bool quote_empty = false) {
    // One pass over the bytes: find_first_of with a set calls memchr once per byte of `text`.
    const bool special =
        std::any_of(text.begin(), text.end(), [](char c) { return c == ',' || c == '"' || c == '\r' || c == '\n'; });
    const bool quote = (quote_empty && text.empty()) || special;
    if (!quote) {
      m_buffer.append(text);
      return;
    }
    m_buffer += '"';
    for (const char c : text) {
      m_buffer += c;
      if (c == '"') {
        m_buffer += '"';
      }
    }
    m_buffer += '"';
  }

  std::string_view m_line_end;
};

class JsonPrinter final : public RowPrinter {
public:
  using RowPrinter::RowPrinter;

  void end(long long affected) override {
    if (m_columns.empty() && m_rows == 0) {
      m_buffer += "{\"affected\": " + std::to_string(affected) + "}\n";
    } else {
      m_buffer += m_rows == 0 ? "[]\n" : "\n]\n";
    }
    RowPrinter::end(affected);
  }

protected:
  void on_columns() override {
    if (m_shard_column) {
      append_json_string(m_keys.emplace_back(), "shard");
    }
    for (const auto& column : m_columns) {
      append_json_string(m_keys.emplace_back(), column.name);
    }
  }

  void on_row(const std::string& shard, const db::RowView& row) override {
    m_buffer += m_rows == 0 ? "[\n  {" : ",\n  {";
    std::size_t key = 0;
    if (m_shard_column) {
      m_buffer += m_keys[key++] + ": ";
      append_json_string(m_buffer, shard);
    }
    for (std::size_t c = 0; c < row.fields.size(); ++c, ++key) {
      if (key > 0) {
        m_buffer += ", ";
      }
      m_buffer += key < m_keys.size() ? m_keys[key] : "\"?column?\"";
      m_buffer += ": ";
      value(row.fields[c], row.nulls[c], type_of(row, c));
    }
    m_buffer += '}';
    maybe_flush();
  }

private:
  void value(std::string_view text, bool null, db::ValueType type) {
    if (null) {
      m_buffer += "null";
    } else if (is_numeric(type) && is_json_number(text)) {
      m_buffer.append(text);
    } else if (type == db::ValueType::boolean && (text == "t" || text == "f")) {
      m_buffer += text == "t" ? "true" : "false";
    } else if (type == db::ValueType::json) {
      // The server's json/jsonb output is a JSON value already (in UTF-8 unless the database's
      // encoding is SQL_ASCII).
      m_buffer += util::valid_utf8(text);
    } else {
      append_json_string(m_buffer, text);
    }
  }

  std::vector<std::string> m_keys;
};

} // namespace

std::unique_ptr<RowPrinter> RowPrinter::make(QueryFormat format, bool shard_column, std::FILE* out, bool crlf) {
  switch (format) {
  case QueryFormat::table:
    return std::unique_ptr<RowPrinter>(new TablePrinter(shard_column, out));
  case QueryFormat::csv:
    return std::unique_ptr<RowPrinter>(new CsvPrinter(shard_column, out, crlf));
  case QueryFormat::json:
    break;
  }
  return std::unique_ptr<RowPrinter>(new JsonPrinter(shard_column, out));
}

RowPrinter::~RowPrinter() = default;

void RowPrinter::columns(const std::vector<db::Column>& columns) {
  m_columns = columns;
  on_columns();
}

void RowPrinter::row(const std::string& shard, const db::RowView& row) {
  on_row(shard, row);
  ++m_rows;
}

void RowPrinter::end(long long /*affected*/) {
  flush();
}

void RowPrinter::flush() {
  if (!m_buffer.empty()) {
    std::fwrite(m_buffer.data(), 1, m_buffer.size(), m_out);
    m_buffer.clear();
  }
  std::fflush(m_out);
}

db::ValueType RowPrinter::type_of(const db::RowView& row, std::size_t column) const {
  if (row.types != nullptr) {
    return (*row.types)[column];
  }
  return column < m_columns.size() ? m_columns[column].type : db::ValueType::text;
}

void append_json_string(std::string& out, std::string_view text) {
  const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x80 && c != '"' && c != '\\';
  });
  if (plain) {
    out += '"';
    out.append(text);
    out += '"';
    return;
  }
  out += util::json_text(nlohmann::json(std::string(text)));
}

bool is_json_number(std::string_view text) {
  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  std::size_t i = 0;
  const auto digits = [&] {
    const auto start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0) {
      ++i;
    }
    return i > start;
  };
  if (i < text.size() && text[i] == '-') {
    ++i;
  }
  if (i < text.size() && text[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!digits()) {
      return false;
    }
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
      ++i;
    }
    if (!digits()) {
      return false;
    }
  }
  return i == text.size();
}

} // namespace grant::cli
