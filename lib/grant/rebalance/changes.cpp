// Applying the changes the capture triggers recorded on a source shard. A change names a row
// (table, primary key, shard key); the row's current state is read from the source, so applying
// a change twice, or after a newer one, converges on the source's state.
#include <grant/rebalance/work.hpp>

#include <grant/db/quoting.hpp>
#include <grant/db/sqlstate.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <limits>
#include <map>
#include <set>

namespace grant::rebalance {

std::vector<std::string_view> value_views(const std::vector<db::Value>& values) {
  std::vector<std::string_view> out;
  for (const auto& value : values) {
    out.push_back(value ? std::string_view(*value) : std::string_view());
  }
  return out;
}

Sessions::~Sessions() {
  const auto reset = [](registry::PooledConnection& session) {
    if (session && session->is_usable()) {
      try {
        session->reset_session();
      } catch (const Error&) {
      }
    }
  };
  reset(from);
  for (auto& session : held) {
    reset(session);
  }
}

Sessions open_sessions(Work& work, std::size_t source) {
  Sessions out;
  out.from = work.fleet.node(source).checkout();
  mark_session(*out.from);
  out.to.assign(work.fleet.nodes().size(), nullptr);
  for (const auto index : work.fleet.targets()) {
    if (index != source) {
      out.held.push_back(work.fleet.node(index).checkout());
      mark_session(*out.held.back());
      out.to[index] = &*out.held.back();
    }
  }
  return out;
}

CatchUp catch_up(Work& work, std::size_t source, db::Connection& from, const std::vector<db::Connection*>& to) {
  const auto limit = std::max<std::size_t>(work.options.batch_size, work.options.backlog_target);
  const auto start = std::chrono::steady_clock::now();
  CatchUp out;
  auto lowest = std::numeric_limits<std::uint64_t>::max();
  int without_progress = 0;
  for (;;) {
    ApplyResult round;
    retry_batch(work, work.fleet.node(source), "applying captured changes",
                [&] { round = apply_changes(work, source, from, to, limit); });
    out.applied += round.applied;
    out.remaining = round.remaining;
    const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.per_second = seconds > 0 ? static_cast<double>(out.applied) / seconds : 0;
    work.report("apply", "", work.fleet.node(source).name, 0);
    if (round.applied < work.options.backlog_target || round.remaining < work.options.backlog_target) {
      return out;
    }
    if (round.remaining < lowest) {
      lowest = round.remaining;
      without_progress = 0;
    } else if (++without_progress >= k_catch_up_patience) {
      out.converged = false;
      work.report("apply", "", work.fleet.node(source).name, 0,
                  std::to_string(round.remaining) +
                      " captured changes wait and the backlog stopped shrinking: "
                      "the applications add changes as fast as grant applies them (" +
                      std::to_string(static_cast<std::uint64_t>(out.per_second)) + "/s)");
      return out;
    }
  }
}

void mark_session(db::Connection& connection) {
  connection.execute("SELECT set_config('grant.rebalance', 'apply', false)");
}

std::string text_array_literal(const std::vector<std::string_view>& parts) {
  std::string out = "{";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    out += i > 0 ? ",\"" : "\"";
    for (const char c : parts[i]) {
      if (c == '"' || c == '\\') {
        out += '\\';
      }
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

namespace {

/// One column of `rows` as a PostgreSQL array literal: {"a","b",NULL}.
std::string column_array(const std::vector<std::vector<db::Value>>& rows, std::size_t column) {
  std::string out = "{";
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (r > 0) {
      out += ',';
    }
    db::append_array_element(out, rows[r][column]);
  }
  return out + "}";
}

} // namespace

void upsert_rows(const TableSql& table, db::Connection& to, const std::vector<std::vector<db::Value>>& rows,
                 bool replace, std::uint64_t* inserted, bool expect_new) {
  if (rows.empty()) {
    return;
  }
  if (!table.has_array_column()) {
    db::Params arrays;
    for (std::size_t c = 0; c < table.columns().size(); ++c) {
      arrays.emplace_back(column_array(rows, c));
    }
    if (expect_new) {
      try {
        const auto result = to.query(table.insert_arrays(), arrays);
        if (inserted != nullptr) {
          *inserted += static_cast<std::uint64_t>(result.affected);
        }
        return;
      } catch (const db::DbError& error) {
        if (error.sqlstate() != db::sqlstate::k_unique_violation) {
          throw;
        }
        // Some rows are there already (a resumed page): the statement changed nothing.
      }
    }
    const auto result = to.query(table.upsert_arrays(replace), arrays);
    if (inserted != nullptr) {
      *inserted += static_cast<std::uint64_t>(result.affected);
    }
    return;
  }
  const auto chunk = table.max_rows_per_statement(rows.size());
  db::Params params;
  for (std::size_t first = 0; first < rows.size(); first += chunk) {
    const auto count = std::min(chunk, rows.size() - first);
    params.clear();
    params.reserve(count * table.columns().size());
    for (std::size_t r = first; r < first + count; ++r) {
      params.insert(params.end(), rows[r].begin(), rows[r].end());
    }
    const auto result = to.query(table.upsert(count, replace), params);
    if (inserted != nullptr) {
      *inserted += static_cast<std::uint64_t>(result.affected);
    }
  }
}

void delete_rows(const TableSql& table, db::Connection& on, const std::vector<std::vector<db::Value>>& pks,
                 const std::string& condition, std::uint64_t* deleted) {
  const auto chunk = std::max<std::size_t>(1, std::min<std::size_t>(pks.size(), 65535 / table.pk().size()));
  db::Params params;
  for (std::size_t first = 0; first < pks.size(); first += chunk) {
    const auto count = std::min(chunk, pks.size() - first);
    params.clear();
    for (std::size_t r = first; r < first + count; ++r) {
      params.insert(params.end(), pks[r].begin(), pks[r].end());
    }
    const auto sql = condition.empty() ? table.delete_by_pk(count) : table.delete_fenced_by_pk(count, condition);
    const auto result = on.query(sql, params);
    if (deleted != nullptr) {
      *deleted += static_cast<std::uint64_t>(result.affected);
    }
  }
}

namespace {

std::vector<db::Value> values_of(const nlohmann::json& array) {
  std::vector<db::Value> out;
  for (const auto& value : array) {
    out.push_back(value.is_null() ? db::Value() : db::Value(value.get<std::string>()));
  }
  return out;
}

std::string joined(const std::vector<db::Value>& values) {
  std::string out;
  for (const auto& value : values) {
    out += value ? "v" + std::to_string(value->size()) + ":" + *value : "n";
  }
  return out;
}

struct Touched {
  std::vector<db::Value> pk;
  std::vector<std::vector<db::Value>> keys; ///< every shard key the row had in the changes
};

struct TableWork {
  std::map<std::string, Touched> rows;                                ///< by joined pk
  std::map<std::size_t, std::vector<std::vector<db::Value>>> deletes; ///< per target node: pks
  std::map<std::size_t, std::vector<std::vector<db::Value>>> upserts; ///< per target node: rows
};

} // namespace

ApplyResult apply_changes(Work& work, std::size_t source, db::Connection& from, const std::vector<db::Connection*>& to,
                          std::size_t limit) {
  const auto& node = work.fleet.node(source);
  const auto& tables = work.fleet.tables();
  const auto changes = from.query("SELECT seq, table_name, array_to_json(pk)::text, array_to_json(key)::text FROM " +
                                  grant_table(node.schema, "changes") + " ORDER BY seq LIMIT " + std::to_string(limit));
  ApplyResult result;
  if (changes.empty()) {
    return result;
  }
  std::vector<TableWork> per_table(tables.size());
  std::string seqs = "{";
  for (const auto& change : changes.rows) {
    seqs += (seqs.size() > 1 ? "," : "") + *change[0];
    for (std::size_t t = 0; t < tables.size(); ++t) {
      if (tables[t].name() == *change[1]) {
        auto pk = values_of(nlohmann::json::parse(*change[2]));
        auto& touched = per_table[t].rows[joined(pk)];
        touched.pk = std::move(pk);
        touched.keys.push_back(values_of(nlohmann::json::parse(change[3].value_or("[]"))));
      }
    }
  }
  seqs += "}";

  shard::Key scratch;
  const auto moving = [&](const std::vector<db::Value>& key) {
    const auto owners = work.fleet.owners(scratch, value_views(key));
    if (owners.old_node == source && owners.new_node != source && owners.new_node != k_none) {
      return owners.new_node;
    }
    return k_none;
  };
  for (std::size_t t = 0; t < tables.size(); ++t) {
    auto& table_work = per_table[t];
    if (table_work.rows.empty()) {
      continue;
    }
    const auto& table = tables[t];
    std::vector<std::vector<db::Value>> pks;
    for (const auto& [joined_pk, touched] : table_work.rows) {
      pks.push_back(touched.pk);
    }
    // The rows as they are now on the source.
    std::map<std::string, std::vector<db::Value>> current;
    const auto chunk = std::max<std::size_t>(1, std::min<std::size_t>(pks.size(), 65535 / table.pk().size()));
    for (std::size_t first = 0; first < pks.size(); first += chunk) {
      const auto count = std::min(chunk, pks.size() - first);
      db::Params params;
      for (std::size_t r = first; r < first + count; ++r) {
        params.insert(params.end(), pks[r].begin(), pks[r].end());
      }
      auto rows = from.query(table.select_by_pk(count), params);
      for (auto& row : rows.rows) {
        std::vector<db::Value> pk;
        for (const auto index : table.pk()) {
          pk.push_back(row[index]);
        }
        current[joined(pk)] = std::move(row);
      }
    }
    for (const auto& [joined_pk, touched] : table_work.rows) {
      std::size_t destination = k_none;
      if (const auto it = current.find(joined_pk); it != current.end()) {
        std::vector<db::Value> key;
        for (const auto index : table.key()) {
          key.push_back(it->second[index]);
        }
        destination = moving(key);
        if (destination != k_none) {
          table_work.upserts[destination].push_back(it->second);
        }
      }
      std::set<std::size_t> stale;
      for (const auto& key : touched.keys) {
        const auto was = moving(key);
        if (was != k_none && was != destination) {
          stale.insert(was);
        }
      }
      for (const auto target : stale) {
        table_work.deletes[target].push_back(touched.pk);
      }
    }
  }
  // Children before parents when deleting, parents before children when writing.
  for (std::size_t t = tables.size(); t-- > 0;) {
    for (const auto& [target, pks] : per_table[t].deletes) {
      delete_rows(tables[t], *to.at(target), pks);
    }
  }
  for (std::size_t t = 0; t < tables.size(); ++t) {
    for (const auto& [target, rows] : per_table[t].upserts) {
      upsert_rows(tables[t], *to.at(target), rows, true);
    }
  }
  from.query("DELETE FROM " + grant_table(node.schema, "changes") + " WHERE seq = ANY($1::bigint[])", {seqs});
  result.applied = changes.size();
  result.remaining =
      changes.size() < limit
          ? 0
          : std::stoull(
                from.query("SELECT count(*) FROM " + grant_table(node.schema, "changes")).scalar().value_or("0"));
  return result;
}

} // namespace grant::rebalance
