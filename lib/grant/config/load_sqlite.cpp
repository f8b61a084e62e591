#include <grant/config/reader.hpp>

namespace grant::config::detail {

SqliteSettings Reader::sqlite(const Json& value, const std::string& key_path) const {
  require_object(value, key_path);
  allow_keys(value, key_path, {"foreign_keys"});
  SqliteSettings out;
  if (value.contains("foreign_keys")) {
    out.foreign_keys = boolean(value["foreign_keys"], key_path + ".foreign_keys");
  }
  return out;
}

} // namespace grant::config::detail
