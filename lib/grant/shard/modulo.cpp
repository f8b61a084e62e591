#include <grant/shard/strategy.hpp>

namespace grant::shard::detail {

namespace {

// shards[key mod N], with a non-negative remainder so that -1 lands on the last shard.
class ModuloResolver final : public Resolver {
public:
  explicit ModuloResolver(const config::Database& db)
      : Resolver(db), m_count(static_cast<std::int64_t>(db.shards.size())) {}

private:
  std::size_t resolve_key(const Key& key) const override {
    const auto value = key.integer();
    if (!value) [[unlikely]] {
      throw_not_integer(key);
    }
    auto remainder = *value % m_count;
    if (remainder < 0) {
      remainder += m_count;
    }
    return static_cast<std::size_t>(remainder);
  }

  std::int64_t m_count;
};

std::unique_ptr<Resolver> build_modulo(const BuildContext& context) {
  return std::make_unique<ModuloResolver>(context.db);
}

} // namespace

const Strategy& modulo_strategy() {
  static const Strategy strategy{"modulo", {}, true, true, false, &build_modulo};
  return strategy;
}

} // namespace grant::shard::detail
