#pragma once
// Montgomery modular arithmetic modulo an odd n: Mont64 for n < 2^64, Mont128 for n < 2^128.
//
// Residues live in Montgomery form x*R mod n (R = 2^64 or 2^128), always fully reduced to
// [0, n). Reduction is the subtractive variant of REDC: with n' = n^-1 mod R, the multiple
// m = T*n' mod R makes m*n agree with T in the low word, so (T - m*n)/R is simply
// hi(T) - hi(m*n). That difference lies in (-n, n), so one conditional add of n finishes the
// job and nothing overflows even when n is just below R.
//
// Both classes expose the same interface so that rho, ECM and the primality tests are written
// once as templates.
#include "core/u128.hpp"

#include <bit>
#include <cstdint>

namespace zlb::detail {

inline int ctz128(u128 x) {
    const auto lo = static_cast<std::uint64_t>(x);
    return lo != 0 ? std::countr_zero(lo)
                   : 64 + std::countr_zero(static_cast<std::uint64_t>(x >> 64));
}

inline int bit_width128(u128 x) {
    const auto hi = static_cast<std::uint64_t>(x >> 64);
    return hi != 0 ? 64 + std::bit_width(hi) : std::bit_width(static_cast<std::uint64_t>(x));
}

// High 128 bits of the 256-bit product a*b, from four 64x64 products.
inline u128 mulhi128(u128 a, u128 b) {
    const auto a0 = static_cast<std::uint64_t>(a), a1 = static_cast<std::uint64_t>(a >> 64);
    const auto b0 = static_cast<std::uint64_t>(b), b1 = static_cast<std::uint64_t>(b >> 64);
    const u128 p00 = u128(a0) * b0, p01 = u128(a0) * b1;
    const u128 p10 = u128(a1) * b0, p11 = u128(a1) * b1;
    // Three 64-bit terms plus a carry word cannot overflow 128 bits.
    const u128 mid = (p00 >> 64) + static_cast<std::uint64_t>(p01) + static_cast<std::uint64_t>(p10);
    return p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
}

// Stein's binary gcd: no divisions, which matters for 128-bit operands where division is a
// library call.
template <class T> T binary_gcd(T a, T b) {
    if (a == 0) return b;
    if (b == 0) return a;
    auto ctz = [](T x) {
        if constexpr (sizeof(T) == 16) return ctz128(x);
        else return std::countr_zero(x);
    };
    const int shift = ctz(a | b);
    a >>= ctz(a);
    do {
        b >>= ctz(b);
        if (a > b) {
            const T t = a;
            a = b;
            b = t;
        }
        b -= a;
    } while (b != 0);
    return a << shift;
}

// Shared by both widths: modular inverse by the binary extended Euclid algorithm, working on
// the raw residue. Invariants: x1*a == u and x2*a == v (mod n); halving mod n is exact because
// n is odd. Returns 0 and stores gcd(a, n) in g when a is not invertible.
template <class T> T binary_inverse(T a, T n, T& g) {
    auto half = [n](T x) { return (x & 1) ? (x >> 1) + (n >> 1) + 1 : x >> 1; };
    auto sub = [n](T x, T y) { return x >= y ? x - y : x + (n - y); };
    T u = a % n, v = n, x1 = 1, x2 = 0;
    if (u == 0) {
        g = n;
        return 0;
    }
    for (;;) {
        while ((u & 1) == 0) {
            u >>= 1;
            x1 = half(x1);
        }
        while ((v & 1) == 0) {
            v >>= 1;
            x2 = half(x2);
        }
        if (u == v) break;
        if (u > v) {
            u -= v;
            x1 = sub(x1, x2);
        } else {
            v -= u;
            x2 = sub(x2, x1);
        }
    }
    g = u;
    return u == 1 ? x1 : 0;
}

class Mont64 {
public:
    using T = std::uint64_t;

    explicit Mont64(T n) : n_(n) {
        // Newton's iteration doubles the correct low bits: n*n == 1 mod 8 gives 3, then 6..96.
        T inv = n;
        for (int i = 0; i < 5; ++i) inv *= 2 - n * inv;
        ninv_ = inv;
        one_ = (T(0) - n) % n;
        r2_ = static_cast<T>(u128(one_) * one_ % n);
        r3_ = mul(r2_, r2_);
    }

    T modulus() const { return n_; }
    T one() const { return one_; }
    T minus_one() const { return n_ - one_; }

    T mul(T a, T b) const {
        const u128 t = u128(a) * b;
        const auto lo = static_cast<T>(t), hi = static_cast<T>(t >> 64);
        const T m = lo * ninv_;
        const auto mn = static_cast<T>((u128(m) * n_) >> 64);
        const T r = hi - mn;
        return hi < mn ? r + n_ : r;
    }
    T sqr(T a) const { return mul(a, a); }
    T add(T a, T b) const {
        // a + b may wrap when n > 2^63; the wrapped value is still correct after subtracting n.
        const T s = a + b;
        return (s < a || s >= n_) ? s - n_ : s;
    }
    T sub(T a, T b) const { return a >= b ? a - b : a - b + n_; }

    T to(T x) const { return mul(x % n_, r2_); }
    T from(T x) const { return mul(x, 1); }

    // Montgomery-form inverse of a, or 0 (with g = gcd(a, n) > 1) when none exists.
    // The raw inverse of a*R is a^-1*R^-1; one multiplication by R^3 lifts it to a^-1*R.
    T inverse(T a, T& g) const {
        const T inv = binary_inverse<T>(a, n_, g);
        return inv == 0 ? 0 : mul(inv, r3_);
    }

    T pow(T base, T e) const {
        T r = one_;
        while (e != 0) {
            if (e & 1) r = mul(r, base);
            base = sqr(base);
            e >>= 1;
        }
        return r;
    }

private:
    T n_, ninv_, one_, r2_, r3_;
};

class Mont128 {
public:
    using T = u128;

    explicit Mont128(T n) : n_(n) {
        T inv = n;
        for (int i = 0; i < 6; ++i) inv *= 2 - n * inv;
        ninv_ = inv;
        one_ = (T(0) - n) % n;
        // R^2 mod n without a 256-bit division: double R mod n another 128 times.
        T r = one_;
        for (int i = 0; i < 128; ++i) r = add(r, r);
        r2_ = r;
        r3_ = mul(r2_, r2_);
    }

    T modulus() const { return n_; }
    T one() const { return one_; }
    T minus_one() const { return n_ - one_; }

    T mul(T a, T b) const {
        const auto a0 = static_cast<std::uint64_t>(a), a1 = static_cast<std::uint64_t>(a >> 64);
        const auto b0 = static_cast<std::uint64_t>(b), b1 = static_cast<std::uint64_t>(b >> 64);
        const u128 p00 = u128(a0) * b0, p01 = u128(a0) * b1;
        const u128 p10 = u128(a1) * b0, p11 = u128(a1) * b1;
        const u128 mid =
            (p00 >> 64) + static_cast<std::uint64_t>(p01) + static_cast<std::uint64_t>(p10);
        const u128 lo = (mid << 64) | static_cast<std::uint64_t>(p00);
        const u128 hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
        const T m = lo * ninv_;
        const T mn = mulhi128(m, n_);
        const T r = hi - mn;
        return hi < mn ? r + n_ : r;
    }
    T sqr(T a) const { return mul(a, a); }
    T add(T a, T b) const {
        const T s = a + b;
        return (s < a || s >= n_) ? s - n_ : s;
    }
    T sub(T a, T b) const { return a >= b ? a - b : a - b + n_; }

    T to(T x) const { return mul(x % n_, r2_); }
    T from(T x) const { return mul(x, 1); }

    T inverse(T a, T& g) const {
        const T inv = binary_inverse<T>(a, n_, g);
        return inv == 0 ? 0 : mul(inv, r3_);
    }

    T pow(T base, T e) const {
        T r = one_;
        while (e != 0) {
            if (e & 1) r = mul(r, base);
            base = sqr(base);
            e >>= 1;
        }
        return r;
    }

private:
    T n_, ninv_, one_, r2_, r3_;
};

} // namespace zlb::detail
