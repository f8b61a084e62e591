#include <grant/config/reader.hpp>

#include <grant/util/strings.hpp>

namespace grant::config::detail {

LintSettings Reader::lint(const Json& value, const std::string& key_path, LintSettings base) const {
  require_object(value, key_path);
  allow_keys(value, key_path, {"fail_on", "large_table_mb", "id_scheme"});
  if (value.contains("fail_on")) {
    const auto level = string(value["fail_on"], key_path + ".fail_on");
    if (level != "error" && level != "warning" && level != "none") {
      fail("lint.fail_on must be \"error\", \"warning\" or \"none\", not " + util::in_quotes(level),
           key_path + ".fail_on");
    }
    base.fail_on = level;
  }
  optional_integer(value, key_path, "large_table_mb", 0, 1 << 30, base.large_table_mb);
  if (value.contains("id_scheme")) {
    base.id_scheme = string(value["id_scheme"], key_path + ".id_scheme");
    if (base.id_scheme->empty()) {
      fail("lint.id_scheme must say how ids are made unique across shards, or be left out", key_path + ".id_scheme");
    }
  }
  return base;
}

} // namespace grant::config::detail
