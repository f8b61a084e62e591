#include <grant/config/interpolate.hpp>

#include <grant/error.hpp>

namespace grant::config {

std::string interpolate(std::string_view text, const EnvLookup& env, const std::string& key_path) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out += text[i++];
      continue;
    }
    const auto close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      throw ConfigError("unterminated ${ in " + key_path, key_path, "close it with }, or write $${ for a literal ${");
    }
    const std::string_view body = text.substr(i + 2, close - i - 2);
    const auto dash = body.find(":-");
    const std::string name(body.substr(0, dash));
    if (name.empty()) {
      throw ConfigError("empty variable name in ${} at " + key_path, key_path);
    }
    for (const char c : name) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
        throw ConfigError("invalid variable name '" + name + "' at " + key_path, key_path,
                          "variable names are letters, digits and _");
      }
    }
    const auto value = env(name);
    if (value && !value->empty()) {
      out += *value;
    } else if (dash != std::string_view::npos) {
      out += body.substr(dash + 2);
    } else if (value) {
      out += *value;
    } else {
      throw ConfigError("environment variable " + name + " is not set (used by " + key_path + ")", key_path,
                        "export " + name + "=..., or give a default: ${" + name + ":-VALUE}");
    }
    i = close + 1;
  }
  return out;
}

} // namespace grant::config
