#include <grant/util/conninfo.hpp>

#include <grant/util/strings.hpp>

#include <libpq-fe.h>

#include <memory>

namespace grant::util {

Conninfo parse_conninfo(const std::string& uri) {
  Conninfo out;
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconninfoParse(uri.c_str(), &error),
                                                                       &PQconninfoFree);
  if (!options) {
    out.error = error != nullptr ? std::string(trim(error)) : "invalid URI";
    PQfreemem(error);
    return out;
  }
  out.valid = true;
  for (auto* option = options.get(); option->keyword != nullptr; ++option) {
    if (option->val != nullptr) {
      out.options.emplace_back(option->keyword, option->val);
    }
  }
  return out;
}

} // namespace grant::util
