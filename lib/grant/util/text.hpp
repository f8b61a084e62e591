#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

// Text from outside (names, keys, file names, server values, messages) on its way out: to a
// terminal, to a JSON document. Every printer of grant goes through these two doors.
namespace grant::util {

/// Length of the valid UTF-8 sequence that starts at `text[at]`, or 0 when none does (a stray
/// continuation byte, an overlong form, a surrogate, a cut-short sequence, a byte above F4).
std::size_t utf8_sequence_length(std::string_view text, std::size_t at);

/// `text` with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD, one
/// per maximal invalid subpart (as nlohmann::json's error_handler_t::replace does it).
std::string valid_utf8(std::string_view text);

/// `text` safe to show on a terminal: control characters (C0, DEL, C1) and bytes that are not
/// valid UTF-8 are shown escaped, `\n` `\r` `\t` by name, others as `\x1b` (a C1 character as
/// `\u009b`). Controls listed in `keep` pass as they are. With `keep_colors`, ANSI color codes
/// (ESC [ digits and ; m, what Context::paint adds) pass too. Plain ASCII and valid UTF-8 text is
/// returned unchanged.
std::string printable(std::string_view text, std::string_view keep = {}, bool keep_colors = false);

/// The JSON text of `value`: the only way grant serializes JSON. Strings that are not valid
/// UTF-8 have their invalid bytes replaced by U+FFFD, so the output is valid UTF-8 whatever went in.
inline std::string json_text(const nlohmann::json& value, int indent = -1) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}
inline std::string json_text(const nlohmann::ordered_json& value, int indent = -1) {
  return value.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

} // namespace grant::util
