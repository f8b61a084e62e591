#pragma once

#include <grant/registry/registry.hpp>
#include <grant/shard/resolver.hpp>

namespace grant::shard {

/// A LookupLoader that reads `resolver.table` ({database, name, key_column, shard_column})
/// from the writer of that database through `registry`.
LookupLoader table_loader(registry::Registry& registry);

} // namespace grant::shard
