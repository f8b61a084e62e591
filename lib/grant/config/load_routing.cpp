#include <grant/config/reader.hpp>

#include <grant/util/strings.hpp>

namespace grant::config {

std::string_view read_your_writes_name(ReadYourWrites mode) {
  switch (mode) {
  case ReadYourWrites::lsn:
    return "lsn";
  case ReadYourWrites::window:
    return "window";
  case ReadYourWrites::off:
    return "off";
  }
  return "lsn";
}

namespace detail {

RoutingSettings Reader::routing(const Json& value, const std::string& key_path) const {
  require_object(value, key_path);
  allow_keys(value, key_path, {"read_your_writes", "read_your_writes_ms"});
  RoutingSettings out;
  if (value.contains("read_your_writes")) {
    const auto mode = string(value["read_your_writes"], key_path + ".read_your_writes");
    const std::vector<std::string> known{"lsn", "window", "off"};
    if (mode == "lsn") {
      out.read_your_writes = ReadYourWrites::lsn;
    } else if (mode == "window") {
      out.read_your_writes = ReadYourWrites::window;
    } else if (mode == "off") {
      out.read_your_writes = ReadYourWrites::off;
    } else {
      const auto suggestion = util::closest_match(mode, known);
      fail("unknown read_your_writes mode " + util::in_quotes(mode), key_path + ".read_your_writes",
           suggestion.empty() ? "modes: " + util::join(known, ", ")
                              : "did you mean " + util::in_quotes(suggestion) + "?");
    }
  }
  optional_integer(value, key_path, "read_your_writes_ms", 0, 3600000, out.read_your_writes_ms);
  return out;
}

} // namespace detail

} // namespace grant::config
