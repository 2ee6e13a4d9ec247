#pragma once
// Small number theory for the SIQS set-up: arithmetic modulo a factor-base prime p < 2^16 (in
// 32 bits: a 32-bit division is several times cheaper than a 64-bit one) and the product k*n,
// which can exceed 2^128 by the multiplier's few bits.
#include "factor/u128.hpp"

#include <cmath>
#include <cstdint>

namespace zlb::detail::siqs_math {

// a*b mod p for a, b < p < 2^16.
inline std::uint32_t mulmod(std::uint32_t a, std::uint32_t b, std::uint32_t p) {
    return a * b % p;
}

inline std::uint32_t powmod(std::uint32_t b, std::uint32_t e, std::uint32_t p) {
    std::uint32_t r = 1;
    for (; e != 0; e >>= 1) {
        if (e & 1) r = mulmod(r, b, p);
        b = mulmod(b, b, p);
    }
    return r;
}

// a^-1 mod p for 0 < a < p, by the extended Euclid algorithm.
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

// A square root of the quadratic residue a mod odd prime p (Tonelli-Shanks).
inline std::uint32_t sqrtmod(std::uint32_t a, std::uint32_t p) {
    if (a == 0) return 0;
    if (p % 4 == 3) return powmod(a, (p + 1) / 4, p);
    std::uint32_t q = p - 1, s = 0;
    while ((q & 1) == 0) {
        q >>= 1;
        ++s;
    }
    std::uint32_t z = 2;
    while (powmod(z, (p - 1) / 2, p) != p - 1)
        ++z;
    std::uint32_t c = powmod(z, q, p), r = powmod(a, (q + 1) / 2, p), t = powmod(a, q, p);
    std::uint32_t m = s;
    while (t != 1) {
        std::uint32_t i = 0;
        for (std::uint32_t u = t; u != 1; u = mulmod(u, u, p))
            ++i;
        std::uint32_t b = c;
        for (std::uint32_t j = 0; j + 1 < m - i; ++j)
            b = mulmod(b, b, p);
        m = i;
        c = mulmod(b, b, p);
        t = mulmod(t, c, p);
        r = mulmod(r, b, p);
    }
    return r;
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
