// The grant program's loaders for the parts of the library it loads on first use
// (lib/CMakeLists.txt says which and why): the PostgreSQL adapter, grant-postgres.so, the MySQL
// adapter, grant-mysql.so, and the HTTP listener of `grant serve`, grant-serve.so. Each function here stands in for the
// library's own definition, which is in the module: its first call loads the module (from beside
// the program in a build tree, else from the installed module folder) and later calls reuse it.
// A program or test linking the whole library (grant::grant) never compiles this file.
#include <grant/db/engine.hpp>
#include <grant/error.hpp>
#include <grant/serve/http.hpp>
#include <grant/util/conninfo.hpp>
#include <grant/util/strings.hpp>
#include <grant/version.hpp>

#include <dlfcn.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

namespace grant::cli {

namespace {

// The folders a module may be in: beside the program (a build tree), then the installed module
// folder relative to it (bin/../lib/grant, or bin/../lib/<multiarch>/grant).
std::vector<std::filesystem::path> module_dirs() {
  std::error_code error;
  auto program = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) {
    // Without /proc: the path the program was started by, as the dynamic loader recorded it.
    Dl_info info{};
    program = ::dladdr(reinterpret_cast<void*>(&module_dirs), &info) != 0 && info.dli_fname != nullptr
                  ? std::filesystem::absolute(info.dli_fname, error)
                  : std::filesystem::path();
  }
  const auto dir = program.parent_path();
  return {dir, (dir / GRANT_MODULE_DIR_FROM_BIN).lexically_normal()};
}

void* load_module(const std::string& name, const std::string& what) {
  std::string failures;
  std::vector<std::string> looked;
  for (const auto& dir : module_dirs()) {
    const auto file = dir / (name + ".so");
    looked.push_back(file.string());
    std::error_code error;
    if (!std::filesystem::exists(file, error)) {
      continue;
    }
    // RTLD_NOW: a module that does not fit this program fails here, with the symbol named.
    if (void* handle = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      // Program and module share class layouts: one from another release must not be used.
      using Version = const char* (*)();
      // grant-postgres -> grant_module_version_postgres: a name of its own per module, as both
      // are also in libgrant.a.
      const auto symbol = "grant_module_version_" + name.substr(name.find('-') + 1);
      const auto version = reinterpret_cast<Version>(::dlsym(handle, symbol.c_str()));
      const std::string found = version != nullptr ? version() : "an unknown version";
      if (found == GRANT_VERSION) {
        return handle;
      }
      ::dlclose(handle);
      failures += (failures.empty() ? "" : "; ") + file.string() + " is from grant " + found + ", this program is " +
                  GRANT_VERSION;
      continue;
    }
    const char* message = ::dlerror();
    failures += (failures.empty() ? "" : "; ") + std::string(message != nullptr ? message : file.string());
  }
  throw Error(ErrorKind::usage,
              "cannot load grant's " + what + " (" + name +
                  ".so): " + (failures.empty() ? "not found at " + util::join(looked, " or ") : failures),
              {}, "reinstall grant: the module ships with the program, in " + looked.back());
}

template <typename Function> Function entry(void* module, const char* name) {
  ::dlerror();
  void* address = ::dlsym(module, name);
  if (address == nullptr) {
    throw Error(ErrorKind::usage, std::string("grant's module has no ") + name + ": it is from another build", {},
                "reinstall grant");
  }
  return reinterpret_cast<Function>(address);
}

void* postgres_module() {
  static void* const module = load_module("grant-postgres", "PostgreSQL adapter");
  return module;
}

void* mysql_module() {
  static void* const module = load_module("grant-mysql", "MySQL adapter");
  return module;
}

} // namespace

} // namespace grant::cli

namespace grant::db {

const Engine& mysql_engine() {
  static const Engine* const engine =
      cli::entry<const Engine* (*)()>(cli::mysql_module(), "grant_module_mysql_engine")();
  return *engine;
}

const Engine& postgres_engine() {
  static const Engine* const engine =
      cli::entry<const Engine* (*)()>(cli::postgres_module(), "grant_module_postgres_engine")();
  return *engine;
}

} // namespace grant::db

namespace grant::util {

Conninfo parse_conninfo(const std::string& uri) {
  using Parse = void (*)(const std::string*, Conninfo*);
  static const auto parse = cli::entry<Parse>(cli::postgres_module(), "grant_module_parse_conninfo");
  Conninfo out;
  parse(&uri, &out);
  return out;
}

} // namespace grant::util

namespace grant::serve {

std::unique_ptr<HttpListener> make_http_listener(GetHandler handler, int threads) {
  using Make = HttpListener* (*)(GetHandler*, int);
  static const auto make =
      cli::entry<Make>(cli::load_module("grant-serve", "HTTP listener for grant serve"), "grant_module_http_listener");
  return std::unique_ptr<HttpListener>(make(&handler, threads));
}

} // namespace grant::serve
