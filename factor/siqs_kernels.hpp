#pragma once
// The two vector loops of the SIQS sieve (siqs.cpp): finding the candidates in a sieved block,
// and finding which factor-base primes divide a candidate's value. SSE2 (part of every x86-64)
// where the target has it, plain loops otherwise; the second also in AVX2.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace zlb::detail::siqs_kernels {

// Per-prime arrays are padded to a multiple of this many entries.
constexpr std::size_t kLanes = 32;
constexpr std::size_t padded(std::size_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

// ceil(2^16 / p): with it the quotient estimate in root_matches is exact or one too big.
constexpr std::uint16_t mulhi_magic(std::uint32_t p) {
    return static_cast<std::uint16_t>((65536 + p - 1) / p);
}

// Sets bit i % 32 of masks[i / 32], for each i < count (a multiple of kLanes), exactly when
// idx mod p[i] is r1[i] or r2[i]. Needs idx < 2^16, odd p[i] < 2^15, m[i] = mulhi_magic(p[i])
// and roots below p[i] (a root of 0xffff never matches: padding). AVX2 when the processor has
// it (chosen once, at start-up), SSE2 otherwise (siqs_kernels.cpp).
//
// idx mod p without a division, 8 (SSE2) or 16 (AVX2) 16-bit lanes at once: q' = floor(idx * m / 2^16) is
// floor(idx / p) or one more, since idx * (m p - 2^16) / (p 2^16) < idx / 2^16 < 1; so
// idx - q' p lies in [-p, p) and one signed correction gives the remainder.
void root_match_masks(std::uint32_t idx, const std::uint16_t* p, const std::uint16_t* m,
                      const std::uint16_t* r1, const std::uint16_t* r2, std::size_t count,
                      std::uint32_t* masks);

// Every implementation of root_match_masks this build and processor can run (plain always),
// so tests check each against brute force, not only the one chosen here.
using RootMatchImpl = void (*)(std::uint32_t, const std::uint16_t*, const std::uint16_t*,
                               const std::uint16_t*, const std::uint16_t*, std::size_t,
                               std::uint32_t*);
struct RootMatchKernel {
    const char* name;
    RootMatchImpl fn;
};
std::vector<RootMatchKernel> root_match_kernels();

// Calls found(j) for each byte s[j] (j < len, a multiple of 64) with bit 7 set, in increasing
// order, and resets the whole block to `init` in the same pass: candidates are a few per block,
// so 64 bytes are tested at once, and the block is ready for the next sieve without a second
// pass. found may not touch s.
template <class Found>
inline void scan_reset(std::uint8_t* s, std::uint32_t len, std::uint8_t init, Found&& found) {
#if defined(__SSE2__)
    const __m128i fill = _mm_set1_epi8(static_cast<char>(init));
    for (std::uint32_t j = 0; j < len; j += 64) {
        auto* v = reinterpret_cast<__m128i*>(s + j);
        const __m128i a = _mm_loadu_si128(v), b = _mm_loadu_si128(v + 1);
        const __m128i c = _mm_loadu_si128(v + 2), d = _mm_loadu_si128(v + 3);
        for (int k = 0; k < 4; ++k)
            _mm_storeu_si128(v + k, fill);
        if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d))) == 0)
            continue;
        std::uint64_t mask = static_cast<std::uint32_t>(_mm_movemask_epi8(a)) |
                             std::uint64_t(static_cast<std::uint32_t>(_mm_movemask_epi8(b))) << 16 |
                             std::uint64_t(static_cast<std::uint32_t>(_mm_movemask_epi8(c))) << 32 |
                             std::uint64_t(static_cast<std::uint32_t>(_mm_movemask_epi8(d))) << 48;
        while (mask != 0) {
            found(j + static_cast<std::uint32_t>(std::countr_zero(mask)));
            mask &= mask - 1;
        }
    }
#else
    for (std::uint32_t j = 0; j < len; ++j) {
        if (s[j] & 0x80) found(j);
        s[j] = init;
    }
#endif
}

} // namespace zlb::detail::siqs_kernels
