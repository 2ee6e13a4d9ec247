// root_match_masks (siqs_kernels.hpp) for SSE2, AVX2 and targets with neither.
#include "factor/siqs_kernels.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ZLB_SIQS_AVX2 1
#include <immintrin.h>
#endif

namespace zlb::detail::siqs_kernels {
namespace {

#if defined(__SSE2__)
void masks_sse2(std::uint32_t idx, const std::uint16_t* p, const std::uint16_t* m,
                const std::uint16_t* r1, const std::uint16_t* r2, std::size_t count,
                std::uint32_t* masks) {
    const __m128i x = _mm_set1_epi16(static_cast<short>(idx));
    const __m128i zero = _mm_setzero_si128();
    auto lanes = [&](std::size_t i) { // 0xffff in lane k when prime i + k matches
        auto load = [i](const std::uint16_t* a) {
            return _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i));
        };
        const __m128i vp = load(p);
        __m128i r = _mm_sub_epi16(x, _mm_mullo_epi16(_mm_mulhi_epu16(x, load(m)), vp));
        r = _mm_add_epi16(r, _mm_and_si128(_mm_cmpgt_epi16(zero, r), vp));
        return _mm_or_si128(_mm_cmpeq_epi16(r, load(r1)), _mm_cmpeq_epi16(r, load(r2)));
    };
    for (std::size_t i = 0; i < count; i += kLanes) {
        const auto lo = static_cast<std::uint32_t>(
            _mm_movemask_epi8(_mm_packs_epi16(lanes(i), lanes(i + 8))));
        const auto hi = static_cast<std::uint32_t>(
            _mm_movemask_epi8(_mm_packs_epi16(lanes(i + 16), lanes(i + 24))));
        masks[i / 32] = lo | hi << 16;
    }
}
#endif

// Plain C++: the fallback on targets without SSE2, and the reference the tests hold the
// vector versions to.
void masks_plain(std::uint32_t idx, const std::uint16_t* p, const std::uint16_t*,
                 const std::uint16_t* r1, const std::uint16_t* r2, std::size_t count,
                 std::uint32_t* masks) {
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint32_t r = idx % p[i];
        if (i % 32 == 0) masks[i / 32] = 0;
        if (r == r1[i] || r == r2[i]) masks[i / 32] |= std::uint32_t(1) << (i % 32);
    }
}

#if defined(ZLB_SIQS_AVX2)
__attribute__((target("avx2"))) void masks_avx2(std::uint32_t idx, const std::uint16_t* p,
                                                const std::uint16_t* m,
                                                const std::uint16_t* r1,
                                                const std::uint16_t* r2, std::size_t count,
                                                std::uint32_t* masks) {
    const __m256i x = _mm256_set1_epi16(static_cast<short>(idx));
    const __m256i zero = _mm256_setzero_si256();
    auto lanes = [&](std::size_t i) __attribute__((target("avx2"))) {
        auto load = [i](const std::uint16_t* a) __attribute__((target("avx2"))) {
            return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
        };
        const __m256i vp = load(p);
        __m256i r =
            _mm256_sub_epi16(x, _mm256_mullo_epi16(_mm256_mulhi_epu16(x, load(m)), vp));
        r = _mm256_add_epi16(r, _mm256_and_si256(_mm256_cmpgt_epi16(zero, r), vp));
        return _mm256_or_si256(_mm256_cmpeq_epi16(r, load(r1)), _mm256_cmpeq_epi16(r, load(r2)));
    };
    for (std::size_t i = 0; i < count; i += kLanes) {
        // packs works within 128-bit halves: quadwords (i 0-7, i+16 0-7, i 8-15, i+16 8-15)
        // are put back in order by the permutation 0, 2, 1, 3.
        const __m256i packed = _mm256_permute4x64_epi64(
            _mm256_packs_epi16(lanes(i), lanes(i + 16)), 0xd8);
        masks[i / 32] = static_cast<std::uint32_t>(_mm256_movemask_epi8(packed));
    }
}
#endif

RootMatchImpl choose_impl() {
#if defined(ZLB_SIQS_AVX2)
    if (__builtin_cpu_supports("avx2")) return masks_avx2;
#endif
#if defined(__SSE2__)
    return masks_sse2;
#else
    return masks_plain;
#endif
}

const RootMatchImpl kImpl = choose_impl();

} // namespace

std::vector<RootMatchKernel> root_match_kernels() {
    std::vector<RootMatchKernel> out{{"plain", masks_plain}};
#if defined(__SSE2__)
    out.push_back({"sse2", masks_sse2});
#endif
#if defined(ZLB_SIQS_AVX2)
    if (__builtin_cpu_supports("avx2")) out.push_back({"avx2", masks_avx2});
#endif
    return out;
}

void root_match_masks(std::uint32_t idx, const std::uint16_t* p, const std::uint16_t* m,
                      const std::uint16_t* r1, const std::uint16_t* r2, std::size_t count,
                      std::uint32_t* masks) {
    kImpl(idx, p, m, r1, r2, count, masks);
}

} // namespace zlb::detail::siqs_kernels
