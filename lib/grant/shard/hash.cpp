#include <grant/shard/key_range.hpp>
#include <grant/shard/strategy.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>

namespace grant::shard::detail {

namespace {

struct Slice {
  KeyRange range;
  std::size_t shard = 0;
};

// Keyspace id -> the shard whose Vitess key range holds it; the slices tile the keyspace.
class HashResolver final : public Resolver {
public:
  HashResolver(const config::Database& db, const std::vector<Slice>& slices) : Resolver(db) {
    for (const auto& slice : slices) {
      m_starts.push_back(slice.range.start);
      m_owners.push_back(slice.shard);
    }
  }

private:
  std::size_t resolve_key(const Key& key) const override {
    return m_owners[last_at_or_below(m_starts, key.keyspace_id())];
  }

  std::vector<std::uint64_t> m_starts;
  std::vector<std::size_t> m_owners;
};

std::string describe(const config::Database& db, const Slice& slice) {
  return util::in_quotes(slice.range.to_string()) + " (shard " + util::in_quotes(db.shards[slice.shard].name) + ")";
}

std::string range_path(const config::Database& db, std::size_t shard) {
  return index_path(db.key_path + ".shards", shard) + ".key_range";
}

bool explicit_slices(const BuildContext& context, std::vector<Slice>& slices) {
  const auto& db = context.db;
  bool ok = true;
  for (std::size_t i = 0; i < db.shards.size(); ++i) {
    if (!db.shards[i].key_range) {
      context.add("shard " + util::in_quotes(db.shards[i].name) + " has no key_range but other shards have one",
                  range_path(db, i), "give every shard a key_range, or none for an even split");
      ok = false;
      continue;
    }
    std::string error;
    const auto range = parse_key_range(*db.shards[i].key_range, error);
    if (!range) {
      context.add("malformed key_range " + util::in_quotes(*db.shards[i].key_range) + " of shard " +
                      util::in_quotes(db.shards[i].name) + ": " + error,
                  range_path(db, i), "Vitess notation: \"-80\", \"80-\", \"40-80\", \"-\" for everything");
      ok = false;
      continue;
    }
    slices.push_back({*range, i});
  }
  return ok;
}

// The ranges must tile the keyspace: sorted by start, each begins where the previous ended.
bool check_coverage(const BuildContext& context, std::vector<Slice>& slices) {
  const auto& db = context.db;
  std::stable_sort(slices.begin(), slices.end(),
                   [](const Slice& a, const Slice& b) { return a.range.start < b.range.start; });
  bool ok = true;
  std::uint64_t cursor = 0;
  bool reached_end = false;
  const Slice* furthest = nullptr; // the slice reaching furthest so far: the one an overlap hits
  for (const auto& slice : slices) {
    if (reached_end || slice.range.start < cursor) {
      context.add("key_range " + describe(db, slice) + " overlaps " + describe(db, *furthest),
                  range_path(db, slice.shard), "every keyspace id must belong to exactly one shard");
      ok = false;
    } else if (slice.range.start > cursor) {
      const KeyRange gap{cursor, slice.range.start, false};
      context.add("key ranges leave keyspace ids " + util::in_quotes(gap.to_string()) + " to no shard (before " +
                      describe(db, slice) + ")",
                  range_path(db, slice.shard), "key ranges must cover the keyspace from - to - without gaps");
      ok = false;
    }
    if (!reached_end && (slice.range.open_end || slice.range.end > cursor)) {
      cursor = slice.range.end;
      reached_end = slice.range.open_end;
      furthest = &slice;
    }
  }
  if (!reached_end && furthest != nullptr) {
    const KeyRange gap{cursor, 0, true};
    context.add("key ranges leave keyspace ids " + util::in_quotes(gap.to_string()) + " to no shard (after " +
                    describe(db, *furthest) + ")",
                range_path(db, furthest->shard), "the last range must be open-ended, like \"c0-\"");
    ok = false;
  }
  return ok;
}

std::unique_ptr<Resolver> build_hash(const BuildContext& context) {
  const auto& db = context.db;
  const bool any_range = std::any_of(db.shards.begin(), db.shards.end(),
                                     [](const config::Shard& shard) { return shard.key_range.has_value(); });
  std::vector<Slice> slices;
  if (!any_range) {
    const auto ranges = even_key_ranges(db.shards.size());
    if (ranges.empty()) {
      context.add("an even split supports at most " + std::to_string(k_max_even_split_shards) + " shards",
                  db.key_path + ".shards", "give every shard a key_range");
      return nullptr;
    }
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      slices.push_back({ranges[i], i});
    }
    return std::make_unique<HashResolver>(db, slices);
  }
  if (!explicit_slices(context, slices) || !check_coverage(context, slices)) {
    return nullptr;
  }
  return std::make_unique<HashResolver>(db, slices);
}

} // namespace

const Strategy& hash_strategy() {
  static const Strategy strategy{"hash", {}, false, false, true, &build_hash};
  return strategy;
}

} // namespace grant::shard::detail
