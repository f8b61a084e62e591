// Shared by the fuzz targets: how a violated property stops the run, and the rule that only
// grant::Error may leave a parser.
#pragma once

#include <grant/error.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

namespace grant::fuzz {

[[noreturn]] inline void fail(std::string_view property, std::string_view detail = {}) {
  std::fprintf(stderr, "\n*** fuzz property violated: %.*s\n", static_cast<int>(property.size()), property.data());
  if (!detail.empty()) {
    std::fprintf(stderr, "*** %.*s\n", static_cast<int>(detail.size()), detail.data());
  }
  std::abort();
}

inline void check(bool ok, std::string_view property, std::string_view detail = {}) {
  if (!ok) {
    fail(property, detail);
  }
}

enum class NeedsWhere { yes, no };

/// Runs `body`; a grant::Error is the expected way to refuse input (with a location when
/// `where` says so, and then handed to `on_error`), anything else fails the run.
template <typename Body, typename OnError> bool run_parser(Body&& body, NeedsWhere where, OnError&& on_error) {
  try {
    body();
    return true;
  } catch (const grant::Error& error) {
    check(std::string_view(error.what()).size() > 0, "a grant::Error has a message");
    if (where == NeedsWhere::yes) {
      check(!error.where().empty(), "a grant::Error names where (file:line or key path)", error.what());
    }
    on_error(error);
    return false;
  } catch (const std::exception& error) {
    fail("only grant::Error may leave a parser", std::string("got std::exception: ") + error.what());
  } catch (...) {
    fail("only grant::Error may leave a parser", "got a non-std exception");
  }
}

template <typename Body> bool run_parser(Body&& body, NeedsWhere where) {
  return run_parser(std::forward<Body>(body), where, [](const grant::Error&) {});
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Splits off the text up to the first '\n' (the rest is returned in `text`).
inline std::string_view take_line(std::string_view& text) {
  const auto newline = text.find('\n');
  const auto line = text.substr(0, newline);
  text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
  return line;
}

} // namespace grant::fuzz
