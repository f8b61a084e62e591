#pragma once

#include <grant/db/connection.hpp>
#include <grant/route/scatter.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace grant::cli {

enum class QueryFormat { table, csv, json };

/// Prints a result as it streams in, in one of `grant query`'s formats; with `shard_column` a
/// `shard` column comes first. Output is buffered and written in blocks, never held whole:
///  - table: psql's aligned layout; widths come from the first rows (up to k_table_sample), a
///    longer value later widens its own line only;
///  - csv: RFC 4180 quoting (a header line, quotes doubled), rows ending in LF like psql --csv or,
///    with `crlf`, in CRLF; NULL is an empty field and the empty string `""`;
///  - json: an array of objects, numbers and booleans typed, NULL as null, json columns inline.
class RowPrinter : public route::MergedSink, public db::ResultSink {
public:
  static constexpr std::size_t k_table_sample = 1000;

  static std::unique_ptr<RowPrinter> make(QueryFormat format, bool shard_column, std::FILE* out = stdout,
                                          bool crlf = false);
  ~RowPrinter() override;

  void columns(const std::vector<db::Column>& columns) override;
  void row(const std::string& shard, const db::RowView& row) override;
  void row(const db::RowView& row) override { this->row(std::string(), row); }
  void finished(long long affected) override { m_affected = affected; }
  /// What the streamed statement reported (ResultSink::finished): rows changed, or rows read.
  long long affected() const { return m_affected; }
  /// Ends the output (table footer, JSON's closing bracket) and flushes it. Not called after a
  /// failure, so that a cut-short JSON document does not parse as a whole one.
  virtual void end(long long affected);
  /// Writes what is buffered; for a failure, before the error is printed.
  void flush();

protected:
  RowPrinter(bool shard_column, std::FILE* out) : m_shard_column(shard_column), m_out(out) {}
  virtual void on_columns() = 0;
  virtual void on_row(const std::string& shard, const db::RowView& row) = 0;
  db::ValueType type_of(const db::RowView& row, std::size_t column) const;
  void maybe_flush() {
    if (m_buffer.size() >= (std::size_t{1} << 16)) {
      flush();
    }
  }

  bool m_shard_column;
  std::vector<db::Column> m_columns;
  std::string m_buffer;
  long long m_rows = 0;
  long long m_affected = 0;

private:
  std::FILE* m_out;
};

/// Appends `text` as a JSON string (quotes included); invalid UTF-8 becomes U+FFFD.
void append_json_string(std::string& out, std::string_view text);
/// True when `text` is a number JSON accepts as it is (PostgreSQL's NaN and Infinity are not).
bool is_json_number(std::string_view text);

} // namespace grant::cli
