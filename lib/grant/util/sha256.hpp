#pragma once

#include <string>
#include <string_view>

namespace grant::util {

/// Lower-case hex SHA-256 of `data` (OpenSSL EVP).
std::string sha256_hex(std::string_view data);

} // namespace grant::util
