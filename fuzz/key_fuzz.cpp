// shard::Key. The input is split at 0x1f bytes into key parts. Properties: only KeyError leaves
// from_text; the canonical bytes decode (independently of key.cpp, per docs/hash-vectors.md)
// into exactly size() parts; parse -> encode -> parse is stable (the decoded parts, written as
// text again, give the same bytes); a reused Key (assign_text) equals a fresh one; integer()
// agrees with the typing rule; the keyspace id is a function of the bytes.
#include "fuzz_common.hpp"

#include <grant/shard/key.hpp>

#include <charconv>
#include <variant>
#include <vector>

using namespace grant;

namespace {

using Part = std::variant<std::int64_t, std::string>;

std::uint64_t big_endian(std::string_view bytes, std::size_t at, std::size_t width) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    value = (value << 8) | static_cast<std::uint8_t>(bytes[at + i]);
  }
  return value;
}

// 0x01 + 8 bytes big-endian two's complement, or 0x02 + 4 bytes big-endian length + bytes.
std::vector<Part> decode(std::string_view bytes) {
  std::vector<Part> parts;
  std::size_t at = 0;
  while (at < bytes.size()) {
    const auto tag = static_cast<std::uint8_t>(bytes[at]);
    if (tag == shard::Key::k_integer_tag) {
      fuzz::check(at + 9 <= bytes.size(), "an integer part has 8 bytes");
      parts.emplace_back(static_cast<std::int64_t>(big_endian(bytes, at + 1, 8)));
      at += 9;
    } else {
      fuzz::check(tag == shard::Key::k_string_tag, "a part starts with a known tag");
      fuzz::check(at + 5 <= bytes.size(), "a string part has a 4-byte length");
      const auto length = big_endian(bytes, at + 1, 4);
      fuzz::check(at + 5 + length <= bytes.size(), "a string part's bytes are all there");
      parts.emplace_back(std::string(bytes.substr(at + 5, length)));
      at += 5 + length;
    }
  }
  return parts;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::as_text(data, size);
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const auto end = text.find('\x1f', start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }
  shard::Key key;
  const bool parsed = fuzz::run_parser([&] { key = shard::Key::from_text(parts); }, fuzz::NeedsWhere::no,
                                       [](const Error& error) {
                                         fuzz::check(dynamic_cast<const shard::KeyError*>(&error) != nullptr,
                                                     "a bad key is a KeyError", error.what());
                                       });
  // An empty part is no key, and a part holding a NUL byte is a binary file, never a key.
  bool any_bad = false;
  for (const auto part : parts) {
    any_bad = any_bad || part.empty() || part.find('\0') != std::string_view::npos;
  }
  fuzz::check(parsed != any_bad, "from_text refuses exactly the keys with an empty part or a NUL byte");
  if (!parsed) {
    return 0;
  }
  fuzz::check(key.size() == parts.size(), "one part per input part");
  const auto decoded = decode(key.bytes());
  fuzz::check(decoded.size() == parts.size(), "the canonical bytes hold size() parts");

  // Typing rule, independently: canonical decimal int64 is an integer, the rest strings.
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::int64_t value = 0;
    const auto* first = parts[i].data();
    const auto* last = first + parts[i].size();
    const auto [end, error] = std::from_chars(first, last, value);
    const bool canonical = error == std::errc() && end == last && std::to_string(value) == parts[i];
    if (canonical) {
      fuzz::check(std::holds_alternative<std::int64_t>(decoded[i]) && std::get<std::int64_t>(decoded[i]) == value,
                  "a canonical decimal int64 is an integer part", std::string(parts[i]));
      texts.push_back(std::to_string(value));
    } else {
      fuzz::check(std::holds_alternative<std::string>(decoded[i]) && std::get<std::string>(decoded[i]) == parts[i],
                  "anything else is the string itself", std::string(parts[i]));
      texts.push_back(std::get<std::string>(decoded[i]));
    }
  }
  // parse -> encode -> parse.
  std::vector<std::string_view> views(texts.begin(), texts.end());
  const auto again = shard::Key::from_text(views);
  fuzz::check(again == key, "parse -> encode -> parse is stable");
  shard::Key built;
  for (const auto& part : decoded) {
    if (const auto* integer = std::get_if<std::int64_t>(&part)) {
      built.add_integer(*integer);
    } else {
      built.add_string(std::get<std::string>(part));
    }
  }
  fuzz::check(built == key, "the encoding is a function of the typed parts");
  shard::Key reused = shard::Key::from_text({"warm", "up", "123"});
  reused.assign_text(parts);
  fuzz::check(reused == key && reused.size() == key.size(), "assign_text equals a fresh key");
  fuzz::check(reused.keyspace_id() == key.keyspace_id(), "the keyspace id is a function of the bytes");
  fuzz::check(key.integer().has_value() == (decoded.size() == 1 && std::holds_alternative<std::int64_t>(decoded[0])),
              "integer() is set exactly for one integer part");
  fuzz::check(!key.to_display().empty(), "a key displays");
  fuzz::check(shard::keyspace_id_hex(key.keyspace_id()).size() == 16, "a keyspace id prints as 16 hex digits");
  return 0;
}
