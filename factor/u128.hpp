#pragma once
// 128-bit unsigned integers: the factorization domain and their decimal form on the wire.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zlb {

using u128 = unsigned __int128;

// Parses a plain decimal number (digits only, no sign, no spaces) that fits in 128 bits.
std::optional<u128> parse_u128(std::string_view text);

// Decimal form of n.
std::string to_string_u128(u128 n);

} // namespace zlb
