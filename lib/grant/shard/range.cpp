#include <grant/shard/range_segments.hpp>
#include <grant/shard/strategy.hpp>
#include <grant/util/strings.hpp>

#include <algorithm>
#include <limits>

namespace grant::shard::detail {

namespace {

constexpr auto k_min = std::numeric_limits<std::int64_t>::min();

struct Span {
  std::optional<std::int64_t> from; ///< inclusive; nullopt = open
  std::optional<std::int64_t> to;   ///< exclusive; nullopt = open
  std::size_t shard = 0;
  std::size_t index = 0; ///< position in `ranges`, for key paths
};

std::string bound(const std::optional<std::int64_t>& value) {
  return value ? std::to_string(*value) : "null";
}

std::string describe(const Span& span) {
  return "ranges[" + std::to_string(span.index) + "] [" + bound(span.from) + ", " + bound(span.to) + ")";
}

// The int64 line cut into segments, each owned by a range's shard or the default.
class RangeResolver final : public Resolver {
public:
  RangeResolver(const config::Database& db, const std::vector<Span>& spans, std::size_t default_shard)
      : Resolver(db), m_segments(cut_range_segments(spans, default_shard)) {}

private:
  std::size_t resolve_key(const Key& key) const override {
    const auto value = key.integer();
    if (!value) [[unlikely]] {
      throw_not_integer(key);
    }
    const auto owner = m_segments.owners[last_at_or_below(m_segments.starts, *value)];
    if (owner == k_no_shard) [[unlikely]] {
      throw_no_shard(key, "add a range covering it, or a \"default\" shard");
    }
    return owner;
  }

  RangeSegments m_segments;
};

std::optional<Span> read_span(const BuildContext& context, const Json& item, const std::string& path,
                              std::size_t index) {
  if (!item.is_object()) {
    context.add(path + " must be an object like {\"shard\": \"s0\", \"from\": 0, \"to\": 1000}", path);
    return std::nullopt;
  }
  context.allow_keys(item, path, {"shard", "from", "to"}, "a range");
  Span span;
  span.index = index;
  bool ok = true;
  if (!item.contains("shard")) {
    context.add(path + " names no shard", member_path(path, "shard"));
    ok = false;
  } else if (const auto shard = context.shard_ref(item["shard"], member_path(path, "shard"))) {
    span.shard = *shard;
  } else {
    ok = false;
  }
  for (const char* end : {"from", "to"}) {
    const auto end_path = member_path(path, end);
    auto& target = std::string_view(end) == "from" ? span.from : span.to;
    if (!item.contains(end)) {
      context.add(end_path + " is missing", end_path, "use null for an open end");
      ok = false;
    } else if (!item[end].is_null()) {
      target = context.integer(item[end], end_path);
      ok = ok && target.has_value();
    }
  }
  if (ok && span.to && span.from.value_or(k_min) >= *span.to) {
    context.add(describe(span) + " is empty: from must be below to (to is exclusive)", member_path(path, "to"));
    ok = false;
  }
  return ok ? std::optional<Span>(span) : std::nullopt;
}

bool check_spans(const BuildContext& context, std::vector<Span>& spans, bool has_default) {
  const auto ranges_path = context.path("ranges");
  const auto hint = "add a range for it or a \"default\" shard";
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.from.value_or(k_min) != b.from.value_or(k_min) ? a.from.value_or(k_min) < b.from.value_or(k_min)
                                                            : a.from.has_value() < b.from.has_value();
  });
  bool ok = true;
  if (spans.empty()) {
    if (!has_default) {
      context.add("the range resolver has no ranges and no default, so it owns no key", ranges_path, hint);
    }
    return has_default;
  }
  if (spans.front().from.value_or(k_min) != k_min && !has_default) {
    context.add("keys below " + std::to_string(*spans.front().from) + " belong to no shard",
                index_path(ranges_path, spans.front().index) + ".from", hint);
    ok = false;
  }
  const Span* furthest = &spans.front();
  for (std::size_t i = 1; i < spans.size(); ++i) {
    const auto& span = spans[i];
    const auto from_path = index_path(ranges_path, span.index) + ".from";
    if (!furthest->to || !span.from || *span.from < *furthest->to) {
      context.add(describe(span) + " overlaps " + describe(*furthest), from_path,
                  "a key must belong to exactly one range");
      ok = false;
    } else if (*span.from > *furthest->to && !has_default) {
      context.add("keys from " + std::to_string(*furthest->to) + " to " + std::to_string(*span.from) +
                      " (exclusive) belong to no shard: a gap between " + describe(*furthest) + " and " +
                      describe(span),
                  from_path, hint);
      ok = false;
    }
    if (furthest->to && (!span.to || *span.to > *furthest->to)) {
      furthest = &span;
    }
  }
  if (furthest->to && !has_default) {
    context.add("keys from " + std::to_string(*furthest->to) + " up belong to no shard",
                index_path(ranges_path, furthest->index) + ".to", hint);
    ok = false;
  }
  return ok;
}

std::unique_ptr<Resolver> build_range(const BuildContext& context) {
  auto default_shard = k_no_shard;
  bool ok = true;
  if (const auto* value = context.param("default")) {
    const auto shard = context.shard_ref(*value, context.path("default"));
    default_shard = shard.value_or(k_no_shard);
    ok = shard.has_value();
  }
  const auto* ranges = context.param("ranges");
  if (ranges == nullptr || !ranges->is_array()) {
    context.add(ranges == nullptr ? "the range resolver needs \"ranges\""
                                  : context.path("ranges") + " must be an array",
                context.path("ranges"),
                "\"ranges\": [{\"shard\": \"s0\", \"from\": null, \"to\": 1000}, {\"shard\": \"s1\", \"from\": 1000, "
                "\"to\": null}]");
    return nullptr;
  }
  std::vector<Span> spans;
  for (std::size_t i = 0; i < ranges->size(); ++i) {
    if (auto span = read_span(context, (*ranges)[i], index_path(context.path("ranges"), i), i)) {
      spans.push_back(*span);
    } else {
      ok = false;
    }
  }
  if (!ok || !check_spans(context, spans, default_shard != k_no_shard)) {
    return nullptr;
  }
  return std::make_unique<RangeResolver>(context.db, spans, default_shard);
}

} // namespace

const Strategy& range_strategy() {
  static const Strategy strategy{"range", {"ranges", "default"}, true, true, false, &build_range};
  return strategy;
}

} // namespace grant::shard::detail
