#pragma once

#include <grant/db/connection.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace grant::route {

/// Rows copied out of a streamed result so that another thread can read them later: every field's
/// bytes in one buffer, so a batch costs a few allocations however many rows it holds, and none
/// once it is reused.
class RowBatch {
public:
  void clear() {
    m_bytes.clear();
    m_ends.clear();
    m_meta.clear();
    m_rows = 0;
    m_typed = false;
  }

  void add(const db::RowView& row) {
    m_width = row.fields.size();
    m_typed = m_typed || row.types != nullptr;
    for (std::size_t c = 0; c < m_width; ++c) {
      m_bytes.append(row.fields[c]);
      m_ends.push_back(static_cast<std::uint32_t>(m_bytes.size()));
      const auto type = row.types != nullptr ? static_cast<std::uint8_t>((*row.types)[c]) : std::uint8_t{0};
      m_meta.push_back(static_cast<std::uint8_t>(type | (row.nulls[c] ? k_null : 0)));
    }
    ++m_rows;
  }

  std::size_t rows() const { return m_rows; }
  std::size_t width() const { return m_width; }
  bool typed() const { return m_typed; }

  std::string_view field(std::size_t row, std::size_t column) const {
    const std::size_t i = row * m_width + column;
    const std::size_t begin = i == 0 ? 0 : m_ends[i - 1];
    return {m_bytes.data() + begin, m_ends[i] - begin};
  }
  bool is_null(std::size_t row, std::size_t column) const { return (m_meta[row * m_width + column] & k_null) != 0; }
  db::ValueType type(std::size_t row, std::size_t column) const {
    return static_cast<db::ValueType>(m_meta[row * m_width + column] & ~k_null);
  }

private:
  static constexpr std::uint8_t k_null = 0x80;
  std::string m_bytes;
  std::vector<std::uint32_t> m_ends;
  std::vector<std::uint8_t> m_meta; ///< per field: k_null | the value's type when typed
  std::size_t m_width = 0;
  std::size_t m_rows = 0;
  bool m_typed = false;
};

/// Turns rows of a RowBatch back into RowViews (its buffers are reused from row to row).
class BatchRowView {
public:
  db::RowView view(const RowBatch& batch, std::size_t row) {
    const auto width = batch.width();
    m_fields.resize(width);
    m_nulls.resize(width);
    for (std::size_t c = 0; c < width; ++c) {
      m_fields[c] = batch.field(row, c);
      m_nulls[c] = batch.is_null(row, c);
    }
    if (!batch.typed()) {
      return db::RowView{m_fields, m_nulls, nullptr}; // the columns' types hold (PostgreSQL)
    }
    m_types.resize(width);
    for (std::size_t c = 0; c < width; ++c) {
      m_types[c] = batch.type(row, c);
    }
    return db::RowView{m_fields, m_nulls, &m_types};
  }

private:
  std::vector<std::string_view> m_fields;
  std::vector<bool> m_nulls;
  std::vector<db::ValueType> m_types;
};

} // namespace grant::route
