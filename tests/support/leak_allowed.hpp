#pragma once

namespace grant::test {

// libpqxx 6.4 leaks the PGresult of a statement run on a session the server has already closed
// (it throws broken_connection before taking ownership of it): 2 KiB inside the library, shown by
// a plain libpqxx program too. LeakSanitizer is paused for that one statement only; the weak
// symbols are null outside sanitizer builds.
extern "C" void __lsan_disable() __attribute__((weak));
extern "C" void __lsan_enable() __attribute__((weak));

struct LibpqxxLeakAllowed {
  LibpqxxLeakAllowed() {
    if (__lsan_disable != nullptr) {
      __lsan_disable();
    }
  }
  ~LibpqxxLeakAllowed() {
    if (__lsan_enable != nullptr) {
      __lsan_enable();
    }
  }
  LibpqxxLeakAllowed(const LibpqxxLeakAllowed&) = delete;
  LibpqxxLeakAllowed& operator=(const LibpqxxLeakAllowed&) = delete;
};

} // namespace grant::test
