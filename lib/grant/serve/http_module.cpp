// The HTTP listener's entry point when the grant program loads it as a module (grant-serve.so;
// apps/grant/modules.cpp looks this name up). The caller owns the listener it returns.
#include <grant/serve/http.hpp>
#include <grant/version.hpp>

extern "C" {

const char* grant_module_version_serve() {
  return GRANT_VERSION;
}

grant::serve::HttpListener* grant_module_http_listener(grant::serve::GetHandler* handler, int threads) {
  return grant::serve::make_http_listener(std::move(*handler), threads).release();
}
}
