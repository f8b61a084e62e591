// The copy of one table from one source shard: heap block ranges read on one thread, written to
// their targets with their checkpoint on another.
#include <grant/rebalance/work.hpp>

#include <grant/db/sqlstate.hpp>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace grant::rebalance {

namespace {

/// Queues rows for the change applier, as if an application had just written them.
void defer_rows(const TableSql& table, db::Connection& from, const Node& node,
                const std::vector<std::vector<db::Value>>& rows) {
  std::string pks = "{";
  std::string keys = "{";
  const auto literal = [](const std::vector<std::size_t>& columns, const std::vector<db::Value>& row) {
    std::vector<std::string_view> parts;
    for (const auto index : columns) {
      parts.push_back(row[index] ? std::string_view(*row[index]) : std::string_view());
    }
    std::string quoted = "\"";
    for (const char c : text_array_literal(parts)) {
      if (c == '"' || c == '\\') {
        quoted += '\\';
      }
      quoted += c;
    }
    return quoted + "\"";
  };
  for (const auto& row : rows) {
    pks += (pks.size() > 1 ? "," : "") + literal(table.pk(), row);
    keys += (keys.size() > 1 ? "," : "") + literal(table.key(), row);
  }
  from.query(
      "INSERT INTO " + grant_table(node.schema, "changes") +
          " (table_name, pk, key) SELECT $1, p::text[], k::text[] FROM unnest($2::text[], $3::text[]) AS u(p, k)",
      {table.name(), pks + "}", keys + "}"});
}

/// Where a table's copy stands: the next heap block to read.
struct Checkpoint {
  std::uint64_t next_block = 0;
  bool done = false;
};

Checkpoint read_checkpoint(db::Connection& session, const Node& node, const TableSql& table) {
  const auto rows = session.query("SELECT COALESCE(next_block, 0), done FROM " + grant_table(node.schema, "progress") +
                                      " WHERE table_name = $1",
                                  {table.name()});
  Checkpoint out;
  if (!rows.empty()) {
    out.next_block = std::stoull(rows.rows[0][0].value_or("0"));
    out.done = rows.rows[0][1].value_or("f") == "t";
  }
  return out;
}

/// The table's size in heap blocks now, and how many blocks hold about `batch` rows.
std::pair<std::uint64_t, std::uint64_t> table_blocks(db::Connection& session, const TableSql& table,
                                                     std::size_t batch) {
  const auto row = session
                       .query("SELECT pg_relation_size(c.oid) / current_setting('block_size')::bigint, "
                              "GREATEST(c.reltuples, 0)::bigint, GREATEST(c.relpages, 0) FROM pg_class c "
                              "WHERE c.oid = to_regclass($1)",
                              {table.qualified()})
                       .rows.at(0);
  const auto blocks = std::stoull(row[0].value_or("0"));
  const auto tuples = std::stoull(row[1].value_or("0"));
  const auto pages = std::stoull(row[2].value_or("0"));
  const auto per_block = pages > 0 && tuples > 0 ? std::max<std::uint64_t>(1, tuples / pages) : 40;
  return {blocks, std::max<std::uint64_t>(1, batch / per_block)};
}

/// One page read from the source, waiting to be written.
struct Page {
  std::uint64_t end_block = 0;
  std::uint64_t scanned = 0;
  std::uint64_t moved = 0;
  std::map<std::size_t, std::vector<std::vector<db::Value>>> buckets; ///< per target node
};

/// Reader and writer of one table's copy meet here: at most two pages wait, so memory stays flat.
class PageQueue {
public:
  /// False once the writer failed: the reader stops.
  bool push(Page page) {
    std::unique_lock lock(m_mutex);
    m_space.wait(lock, [&] { return m_pages.size() < 2 || m_failed; });
    if (m_failed) {
      return false;
    }
    m_pages.push_back(std::move(page));
    m_ready.notify_one();
    return true;
  }
  /// Empty once the reader closed the queue and every page was taken.
  std::optional<Page> pop() {
    std::unique_lock lock(m_mutex);
    m_ready.wait(lock, [&] { return !m_pages.empty() || m_closed; });
    if (m_pages.empty()) {
      return std::nullopt;
    }
    auto page = std::move(m_pages.front());
    m_pages.pop_front();
    m_space.notify_one();
    return page;
  }
  void close() {
    std::lock_guard lock(m_mutex);
    m_closed = true;
    m_ready.notify_one();
  }
  void fail() {
    std::lock_guard lock(m_mutex);
    m_failed = true;
    m_space.notify_one();
  }

private:
  std::mutex m_mutex;
  std::condition_variable m_ready;
  std::condition_variable m_space;
  std::deque<Page> m_pages;
  bool m_closed = false;
  bool m_failed = false;
};

/// Writes one page to its targets, then its checkpoint on the source (through `ledger`).
void write_page(Work& work, std::size_t source, const TableSql& table, db::Connection& ledger,
                const std::vector<db::Connection*>& to, const Page& page, std::uint64_t total) {
  const auto& node = work.fleet.node(source);
  for (const auto& [target, rows] : page.buckets) {
    try {
      upsert_rows(table, *to.at(target), rows, true, nullptr, true);
    } catch (const db::DbError& error) {
      if (error.sqlstate() != db::sqlstate::k_foreign_key_violation) {
        throw;
      }
      // A parent row is not on the target yet: an application changed it during the copy and
      // its change waits in the backlog. These rows join the backlog behind it.
      defer_rows(table, ledger, node, rows);
    }
  }
  const auto progress = grant_table(node.schema, "progress");
  ledger.query("INSERT INTO " + progress +
                   " (table_name, next_block, rows_copied, done) VALUES ($1, $2::bigint, $3::bigint, false) "
                   "ON CONFLICT (table_name) DO UPDATE SET next_block = EXCLUDED.next_block, "
                   "rows_copied = " +
                   progress + ".rows_copied + EXCLUDED.rows_copied",
               {table.name(), std::to_string(page.end_block), std::to_string(page.moved)});
  work.throttle(ledger, source, to, page.scanned);
  work.report("copy", table.name(), node.name, total);
}

} // namespace

// The copy reads the heap in block ranges (a TID range scan, no index, no sort): first the
// shard keys and row ids, then the whole rows of the ones that move, by row id. A row that an
// application updates meanwhile may move to a block already read, or change between the two
// reads: the capture trigger (installed before the first read) has recorded it, and applying the
// captured changes copies it then. So the copy needs no snapshot, and each page commits alone.
// One thread reads pages while another writes the previous one and its checkpoint.
std::uint64_t copy_table(Work& work, std::size_t source, const TableSql& table, db::Connection& from,
                         db::Connection& ledger, const std::vector<db::Connection*>& to, std::uint64_t total) {
  const auto& node = work.fleet.node(source);
  auto checkpoint = read_checkpoint(from, node, table);
  if (checkpoint.done) {
    return 0;
  }
  const auto [blocks, blocks_per_page] = table_blocks(from, table, std::max<std::size_t>(1, work.options.batch_size));
  const auto keys_sql = table.select_block_keys();
  const auto rows_sql = table.select_by_tids();
  PageQueue queue;
  std::exception_ptr failure;
  std::uint64_t copied = 0;
  std::thread writer([&] {
    try {
      while (auto page = queue.pop()) {
        retry_batch(work, node, "a page of " + table.name(),
                    [&] { write_page(work, source, table, ledger, to, *page, total); });
        copied += page->moved;
      }
    } catch (...) {
      failure = std::current_exception();
      queue.fail();
    }
  });
  try {
    shard::Key scratch;
    std::vector<std::string_view> parts;
    for (auto next = checkpoint.next_block; next < blocks;) {
      Page page;
      page.end_block = std::min(blocks, next + blocks_per_page);
      const auto first_tid = "(" + std::to_string(next) + ",0)";
      const auto end_tid = "(" + std::to_string(page.end_block) + ",0)";
      next = page.end_block;
      const auto keys = from.query(keys_sql, {first_tid, end_tid});
      page.scanned = keys.size();
      std::string tids = "{";
      for (const auto& row : keys.rows) {
        parts.clear();
        for (std::size_t i = 1; i < row.size(); ++i) {
          parts.push_back(row[i] ? std::string_view(*row[i]) : std::string_view());
        }
        const auto owners = work.fleet.owners(scratch, parts);
        if (owners.old_node == source && owners.new_node != source && owners.new_node != k_none) {
          tids += (tids.size() > 1 ? ",\"" : "\"") + *row[0] + "\"";
        }
      }
      tids += "}";
      if (tids.size() > 2) {
        auto rows = from.query(rows_sql, {tids, first_tid, end_tid});
        for (auto& row : rows.rows) {
          parts.clear();
          for (const auto index : table.key()) {
            parts.push_back(row[index] ? std::string_view(*row[index]) : std::string_view());
          }
          const auto owners = work.fleet.owners(scratch, parts); // again: the row may have changed
          if (owners.old_node == source && owners.new_node != source && owners.new_node != k_none) {
            page.buckets[owners.new_node].push_back(std::move(row));
            ++page.moved;
          }
        }
      }
      if (!queue.push(std::move(page))) {
        break;
      }
    }
  } catch (...) {
    queue.fail();
    queue.close();
    writer.join();
    throw;
  }
  queue.close();
  writer.join();
  if (failure) {
    std::rethrow_exception(failure);
  }
  const auto progress = grant_table(node.schema, "progress");
  from.query("INSERT INTO " + progress +
                 " (table_name, next_block, done) VALUES ($1, $2::bigint, true) "
                 "ON CONFLICT (table_name) DO UPDATE SET done = true",
             {table.name(), std::to_string(blocks)});
  return copied;
}

} // namespace grant::rebalance
