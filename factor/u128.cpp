// Decimal conversion for 128-bit unsigned integers.
//
// Both directions work in chunks of 19 decimal digits (10^19 < 2^64) so that only one 128-bit
// multiplication or division is needed per chunk instead of per digit.
#include "factor/u128.hpp"

#include <array>
#include <cstdint>

namespace zlb {
namespace {

constexpr std::uint64_t kChunk = 10'000'000'000'000'000'000ull; // 10^19
constexpr int kChunkDigits = 19;

} // namespace

std::optional<u128> parse_u128(std::string_view text) {
    if (text.empty()) return std::nullopt;
    u128 value = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t len = text.size() - pos;
        // The first chunk takes the remainder so that later chunks are all full.
        if (pos == 0 && len % kChunkDigits != 0)
            len %= kChunkDigits;
        else
            len = kChunkDigits;
        std::uint64_t chunk = 0, scale = 1;
        for (std::size_t i = 0; i < len; ++i) {
            const char c = text[pos + i];
            if (c < '0' || c > '9') return std::nullopt;
            chunk = chunk * 10 + static_cast<std::uint64_t>(c - '0');
            scale *= 10;
        }
        // value * scale + chunk must stay below 2^128.
        constexpr u128 kMax = ~u128(0);
        if (value > (kMax - chunk) / scale) return std::nullopt;
        value = value * scale + chunk;
        pos += len;
    }
    return value;
}

std::string to_string_u128(u128 n) {
    std::array<char, 40> buf; // 2^128 - 1 has 39 digits
    std::size_t pos = buf.size();
    do {
        auto chunk = static_cast<std::uint64_t>(n % kChunk);
        n /= kChunk;
        // Full chunks below the leading one keep their leading zeros.
        for (int i = 0; i < kChunkDigits && (n != 0 || chunk != 0); ++i) {
            buf[--pos] = static_cast<char>('0' + chunk % 10);
            chunk /= 10;
        }
    } while (n != 0);
    if (pos == buf.size()) buf[--pos] = '0';
    return std::string(buf.data() + pos, buf.size() - pos);
}

} // namespace zlb
