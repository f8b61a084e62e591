#include <grant/util/text.hpp>

#include <algorithm>

namespace grant::util {

namespace {

constexpr std::string_view k_replacement = "\xEF\xBF\xBD"; // U+FFFD

bool in(unsigned char c, unsigned char low, unsigned char high) {
  return c >= low && c <= high;
}

// How many bytes from `at` could still start a valid sequence (at least 1): the maximal
// invalid subpart that becomes one U+FFFD.
std::size_t invalid_prefix_length(std::string_view text, std::size_t at) {
  const auto c = static_cast<unsigned char>(text[at]);
  std::size_t need = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (in(c, 0xC2, 0xDF)) {
    need = 1;
  } else if (in(c, 0xE0, 0xEF)) {
    need = 2;
    low = c == 0xE0 ? 0xA0 : 0x80;
    high = c == 0xED ? 0x9F : 0xBF;
  } else if (in(c, 0xF0, 0xF4)) {
    need = 3;
    low = c == 0xF0 ? 0x90 : 0x80;
    high = c == 0xF4 ? 0x8F : 0xBF;
  } else {
    return 1;
  }
  std::size_t length = 1;
  for (std::size_t k = 1; k <= need && at + k < text.size(); ++k) {
    const auto next = static_cast<unsigned char>(text[at + k]);
    if (!(k == 1 ? in(next, low, high) : in(next, 0x80, 0xBF))) {
      break;
    }
    ++length;
  }
  return length;
}

void append_hex(std::string& out, std::string_view prefix, unsigned value, int digits) {
  static constexpr char k_digits[] = "0123456789abcdef";
  out += prefix;
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
    out += k_digits[(value >> shift) & 0xF];
  }
}

// ESC [ (digits | ;)* m: a color code, nothing that moves the cursor or retitles a window.
std::size_t color_code_length(std::string_view text, std::size_t at) {
  if (at + 2 >= text.size() || text[at + 1] != '[') {
    return 0;
  }
  for (std::size_t i = at + 2; i < text.size(); ++i) {
    if (text[i] == 'm') {
      return i - at + 1;
    }
    if ((text[i] < '0' || text[i] > '9') && text[i] != ';') {
      return 0;
    }
  }
  return 0;
}

} // namespace

std::size_t utf8_sequence_length(std::string_view text, std::size_t at) {
  if (at >= text.size()) {
    return 0;
  }
  if (static_cast<unsigned char>(text[at]) < 0x80) {
    return 1;
  }
  const auto length = invalid_prefix_length(text, at);
  const auto c = static_cast<unsigned char>(text[at]);
  const std::size_t full = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  return c >= 0xC2 && length == full ? full : 0;
}

std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (const auto length = utf8_sequence_length(text, i); length > 0) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += k_replacement;
      i += invalid_prefix_length(text, i);
    }
  }
  return out;
}

std::string printable(std::string_view text, std::string_view keep, bool keep_colors) {
  const bool plain = std::all_of(text.begin(), text.end(), [&](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u >= 0x20 && u < 0x7F) || keep.find(c) != std::string_view::npos;
  });
  if (plain) {
    return std::string(text);
  }
  std::string out;
  out.reserve(text.size() + 16);
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F) {
      out += c;
      ++i;
    } else if (u < 0x80) { // C0 control or DEL
      const auto color = keep_colors && c == '\x1b' ? color_code_length(text, i) : 0;
      if (color > 0) {
        out.append(text.substr(i, color));
        i += color;
        continue;
      }
      if (keep.find(c) != std::string_view::npos) {
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == '\t') {
        out += "\\t";
      } else {
        append_hex(out, "\\x", u, 2);
      }
      ++i;
    } else if (const auto length = utf8_sequence_length(text, i); length == 0) {
      append_hex(out, "\\x", u, 2);
      ++i;
    } else if (u == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0) { // C1: U+0080..U+009F
      append_hex(out, "\\u", static_cast<unsigned char>(text[i + 1]), 4);
      i += 2;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

} // namespace grant::util
