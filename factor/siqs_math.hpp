#pragma once
// Small number theory for the SIQS set-up: arithmetic modulo a factor-base prime p < 2^16
// (Mod16, by multiplications) and the product k*n, which can exceed 2^128 by the
// multiplier's few bits.
#include "factor/u128.hpp"

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace zlb::detail::siqs_math {

// Arithmetic modulo one prime p < 2^16, products without a division (whose latency is about
// twice that of the two multiplications here): for x < 2^32, x mod p is the high 64 bits of
// (m x mod 2^64) p with m = floor((2^64 - 1) / p) + 1 (Lemire, Kaser and Kurz, "Faster
// remainder by direct computation", 2019). Products of two residues stay below 2^32.
struct Mod16 {
    std::uint32_t p = 0;
    std::uint64_t m = 0;

    Mod16() = default;
    explicit Mod16(std::uint32_t prime) : p(prime), m(~std::uint64_t(0) / prime + 1) {}

    std::uint32_t reduce(std::uint32_t x) const {
        return static_cast<std::uint32_t>((u128(m * x) * p) >> 64);
    }
    std::uint32_t mul(std::uint32_t a, std::uint32_t b) const { return reduce(a * b); }
    // A wider x: one division beats a chain of four or more reductions.
    std::uint32_t of(std::uint64_t x) const { return static_cast<std::uint32_t>(x % p); }
    std::uint32_t pow(std::uint32_t b, std::uint32_t e) const {
        std::uint32_t r = 1;
        for (; e != 0; e >>= 1) {
            if (e & 1) r = mul(r, b);
            b = mul(b, b);
        }
        return r;
    }
    // A square root of a residue a < p, or -1 (all ones) if a is a non-residue; p odd.
    std::uint32_t sqrt(std::uint32_t a) const;
};

inline std::uint32_t Mod16::sqrt(std::uint32_t a) const {
    constexpr std::uint32_t kNone = ~std::uint32_t(0);
    if (a == 0) return 0;
    if (p % 4 == 3) { // the root candidate also decides residuosity
        const std::uint32_t r = pow(a, (p + 1) / 4);
        return mul(r, r) == a ? r : kNone;
    }
    if (pow(a, (p - 1) / 2) != 1) return kNone;
    // Tonelli-Shanks with p - 1 = q 2^s.
    std::uint32_t q = p - 1, s = 0;
    while ((q & 1) == 0) {
        q >>= 1;
        ++s;
    }
    std::uint32_t z = 2;
    while (pow(z, (p - 1) / 2) != p - 1)
        ++z;
    std::uint32_t c = pow(z, q), r = pow(a, (q + 1) / 2), t = pow(a, q);
    std::uint32_t m_left = s;
    while (t != 1) {
        std::uint32_t i = 0;
        for (std::uint32_t u = t; u != 1; u = mul(u, u))
            ++i;
        std::uint32_t b = c;
        for (std::uint32_t j = 0; j + 1 < m_left - i; ++j)
            b = mul(b, b);
        m_left = i;
        c = mul(b, b);
        t = mul(t, c);
        r = mul(r, b);
    }
    return r;
}

// a^-1 mod p for 0 < a < p, by the extended Euclid algorithm: its ~ln p divisions cost less
// than the chain of ~1.5 log2 p products of Fermat's a^(p-2).
inline std::uint32_t invmod(std::uint32_t a, std::uint32_t p) {
    std::int32_t t0 = 0, t1 = 1; // |t| <= p < 2^16
    std::uint32_t r0 = p, r1 = a;
    while (r1 != 0) {
        const std::uint32_t q = r0 / r1;
        const std::uint32_t r2 = r0 - q * r1;
        r0 = r1;
        r1 = r2;
        const std::int32_t t2 = t0 - static_cast<std::int32_t>(q) * t1;
        t0 = t1;
        t1 = t2;
    }
    return static_cast<std::uint32_t>(t0 < 0 ? t0 + static_cast<std::int32_t>(p) : t0);
}

// n mod p without a 128-bit division.
inline std::uint32_t mod_small(u128 n, std::uint32_t p) {
    const std::uint64_t two64 = (~std::uint64_t(0) % p + 1) % p;
    const auto hi = static_cast<std::uint64_t>(n >> 64) % p;
    const auto lo = static_cast<std::uint64_t>(n) % p;
    return static_cast<std::uint32_t>((hi * two64 + lo) % p);
}

// k*n as a 192-bit number hi:lo.
struct Wide {
    u128 lo = 0;
    std::uint64_t hi = 0;
};

inline Wide mul_small(u128 n, std::uint64_t k) {
    const u128 low = u128(static_cast<std::uint64_t>(n)) * k;
    const u128 high = u128(static_cast<std::uint64_t>(n >> 64)) * k;
    Wide w;
    w.lo = low + (high << 64);
    w.hi = static_cast<std::uint64_t>(high >> 64) + (w.lo < low ? 1 : 0);
    return w;
}

inline long double to_long_double(Wide w) {
    return std::ldexp(static_cast<long double>(w.hi), 128) + static_cast<long double>(w.lo);
}

// (w - b) / a for b <= w and a result below 2^128 (so w.hi < a).
inline u128 sub_div(Wide w, u128 b, std::uint64_t a) {
    const u128 lo = w.lo - b;
    const std::uint64_t hi = w.hi - (w.lo < b ? 1 : 0);
    const u128 top = (u128(hi) << 64) | static_cast<std::uint64_t>(lo >> 64);
    const u128 q1 = top / a;
    const u128 bottom = ((top % a) << 64) | static_cast<std::uint64_t>(lo);
    return (q1 << 64) | (bottom / a);
}

} // namespace zlb::detail::siqs_math
