#include <grant/util/sha256.hpp>

#include <nettle/sha2.h>

#include <cstdint>

namespace grant::util {

std::string sha256_hex(std::string_view data) {
  sha256_ctx context;
  sha256_init(&context);
  sha256_update(&context, data.size(), reinterpret_cast<const std::uint8_t*>(data.data()));
  std::uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_digest(&context, sizeof digest, digest);
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(sizeof digest * 2);
  for (const auto byte : digest) {
    out += k_hex[byte >> 4];
    out += k_hex[byte & 0x0f];
  }
  return out;
}

} // namespace grant::util
