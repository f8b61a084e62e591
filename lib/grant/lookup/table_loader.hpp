#pragma once

#include <grant/registry/registry.hpp>
#include <grant/shard/resolver.hpp>

namespace grant::lookup {

/// A LookupLoader that reads `resolver.table` ({database, name, key_column, shard_column})
/// from the writer of that database through `registry`.
shard::LookupLoader table_loader(registry::Registry& registry);

} // namespace grant::lookup
