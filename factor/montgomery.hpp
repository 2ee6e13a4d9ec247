#pragma once
// Montgomery modular arithmetic modulo an odd n: Mont64 for n < 2^64, Mont128 for n < 2^128.
//
// Residues live in Montgomery form x*R mod n (R = 2^64 or 2^128), always fully reduced to
// [0, n), so that products need one REDC and equality tests are plain comparisons. Both
// classes expose the same interface, so rho, ECM and the primality tests are written once as
// templates, and MontLanes runs K independent computations modulo the same n side by side.
#include "factor/u128.hpp"

#include <array>
#include <bit>
#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

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

// Stein's binary gcd: no divisions, which matters for 128-bit operands where division is a
// library call.
template <class T> T binary_gcd(T a, T b) {
    if (a == 0) return b;
    if (b == 0) return a;
    auto ctz = [](T x) {
        if constexpr (sizeof(T) == 16)
            return ctz128(x);
        else
            return std::countr_zero(x);
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

// All-ones when c holds. The conditional corrections in Montgomery arithmetic depend on
// effectively random data, so they are written as masks: a mispredicted branch costs more than
// the whole multiplication.
template <class T> inline T mask_if(bool c) {
    return T(0) - T(c);
}

// Mont64 reduces with the subtractive variant of REDC: with n' = n^-1 mod 2^64, the multiple
// m = T*n' mod 2^64 makes m*n agree with T in the low word, so (T - m*n)/2^64 is simply
// hi(T) - hi(m*n). That lies in (-n, n), so one conditional add of n finishes the job and
// nothing overflows even when n is just below 2^64.
class Mont64 {
  public:
    using T = std::uint64_t;

    explicit Mont64(T n) : n_(n) {
        // Newton's iteration doubles the correct low bits: n*n == 1 mod 8 gives 3, then 6..96.
        T inv = n;
        for (int i = 0; i < 5; ++i)
            inv *= 2 - n * inv;
        ninv_ = inv;
        one_ = (T(0) - n) % n;
        r2_ = static_cast<T>(u128(one_) * one_ % n);
        r3_ = mul(r2_, r2_);
    }

    T modulus() const { return n_; }
    T one() const { return one_; }
    T minus_one() const { return n_ - one_; }

    [[gnu::always_inline]] T mul(T a, T b) const {
        const u128 t = u128(a) * b;
        const auto lo = static_cast<T>(t), hi = static_cast<T>(t >> 64);
        const T m = lo * ninv_;
        const auto mn = static_cast<T>((u128(m) * n_) >> 64);
        return (hi - mn) + (n_ & mask_if<T>(hi < mn));
    }
    T sqr(T a) const { return mul(a, a); }
    // a + b == a - (n - b) mod n, and the subtraction form cannot overflow even for n near R.
    T add(T a, T b) const { return sub(a, n_ - b); }
    T sub(T a, T b) const { return (a - b) + (n_ & mask_if<T>(a < b)); }

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

// Mont128 works on two 64-bit limbs with explicit carries: the 256-bit product, then two
// word-level REDC steps (each adds the multiple of n that clears the lowest word) and a final
// conditional subtraction. Written on u128 directly, GCC turns the conditional corrections into
// branches and spends about twice the instructions on carry handling.
class Mont128 {
  public:
    using T = u128;

    explicit Mont128(T n) : n_(n), n0_(lo(n)), n1_(hi(n)) {
        std::uint64_t inv = n0_;
        for (int i = 0; i < 5; ++i)
            inv *= 2 - n0_ * inv;
        nq_ = 0 - inv; // -n^-1 mod 2^64: adding m*n with m = t0*nq clears the low limb
        one_ = (T(0) - n) % n;
        // R^2 mod n without a 256-bit division: double R mod n another 128 times.
        T r = one_;
        for (int i = 0; i < 128; ++i)
            r = add(r, r);
        r2_ = r;
        r3_ = mul(r2_, r2_);
    }

    T modulus() const { return n_; }
    T one() const { return one_; }
    T minus_one() const { return n_ - one_; }

    // Product scanning followed by two word-level REDC steps; the result before the final
    // correction is below 2n, so it needs a third limb t4 that is 0 or 1.
    [[gnu::always_inline]] T mul(T a, T b) const {
        const std::uint64_t a0 = lo(a), a1 = hi(a), b0 = lo(b), b1 = hi(b);
        const u128 p00 = u128(a0) * b0, p01 = u128(a0) * b1;
        const u128 p10 = u128(a1) * b0, p11 = u128(a1) * b1;
        std::uint64_t t0 = lo(p00), t1, t2, t3, t4;
        unsigned char c = addc(0, hi(p00), lo(p01), t1);
        c = addc(c, hi(p01), lo(p11), t2);
        t3 = hi(p11) + c;
        c = addc(0, t1, lo(p10), t1);
        c = addc(c, t2, hi(p10), t2);
        t3 += c; // a*b < 2^256, so no carry out

        reduce_step(t0, t1, t2, t3, t4 = 0);
        std::uint64_t t5 = 0;
        reduce_step(t1, t2, t3, t4, t5);

        std::uint64_t s0, s1, unused;
        c = subb(0, t2, n0_, s0);
        c = subb(c, t3, n1_, s1);
        c = subb(c, t4, 0, unused); // borrow here means the value was already below n
        return add_masked(s0, s1, c);
    }
    T sqr(T a) const { return mul(a, a); }
    T add(T a, T b) const { return sub(a, n_ - b); } // cannot overflow, unlike a + b
    T sub(T a, T b) const {
        std::uint64_t d0, d1;
        unsigned char c = subb(0, lo(a), lo(b), d0);
        c = subb(c, hi(a), hi(b), d1);
        return add_masked(d0, d1, c);
    }

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
    static std::uint64_t lo(u128 x) { return static_cast<std::uint64_t>(x); }
    static std::uint64_t hi(u128 x) { return static_cast<std::uint64_t>(x >> 64); }
    // Add/subtract with carry. On x86-64 the intrinsics become adc/sbb chains; GCC does not
    // recognise the portable spelling as well.
    static unsigned char addc(unsigned char c, std::uint64_t a, std::uint64_t b,
                              std::uint64_t& out) {
#if defined(__x86_64__)
        unsigned long long r;
        c = _addcarry_u64(c, a, b, &r);
        out = r;
        return c;
#else
        const u128 s = u128(a) + b + c;
        out = lo(s);
        return static_cast<unsigned char>(hi(s));
#endif
    }
    static unsigned char subb(unsigned char c, std::uint64_t a, std::uint64_t b,
                              std::uint64_t& out) {
#if defined(__x86_64__)
        unsigned long long r;
        c = _subborrow_u64(c, a, b, &r);
        out = r;
        return c;
#else
        const u128 d = u128(a) - b - c;
        out = lo(d);
        return static_cast<unsigned char>(hi(d) & 1);
#endif
    }

    // (d1:d0) + n when borrow is set, else (d1:d0), without a branch.
    T add_masked(std::uint64_t d0, std::uint64_t d1, unsigned char borrow) const {
        const std::uint64_t mask = 0 - std::uint64_t(borrow);
        const unsigned char c = addc(0, d0, n0_ & mask, d0);
        addc(c, d1, n1_ & mask, d1);
        return (u128(d1) << 64) | d0;
    }

    // Adds m*n with m = x0*nq to (x0, x1, x2, x3, x4), which zeroes x0; the caller then treats
    // (x1, x2, x3, x4) as the value divided by 2^64.
    [[gnu::always_inline]] void reduce_step(std::uint64_t x0, std::uint64_t& x1, std::uint64_t& x2,
                                            std::uint64_t& x3, std::uint64_t& x4) const {
        const std::uint64_t m = x0 * nq_;
        const u128 q0 = u128(m) * n0_, q1 = u128(m) * n1_;
        std::uint64_t w1, unused;
        const unsigned char cw = addc(0, hi(q0), lo(q1), w1);
        const std::uint64_t w2 = hi(q1) + cw; // m*n < 2^192
        unsigned char c = addc(0, x0, lo(q0), unused);
        c = addc(c, x1, w1, x1);
        c = addc(c, x2, w2, x2);
        c = addc(c, x3, 0, x3);
        x4 += c;
    }

    T n_;
    std::uint64_t n0_, n1_, nq_;
    T one_, r2_, r3_;
};

// K independent residues modulo the same n, each operation applied lane by lane. ECM runs K
// curves at once on this type: a Montgomery multiplication is a chain of dependent multiplies,
// and one curve does not always have enough independent work to hide that latency, while K
// interleaved curves do (measured: 2 lanes about 20% faster per curve for 64 bits, 4 lanes
// about twice as fast for 128 bits). The curve code is the same template either way.
template <class Base, unsigned K> class MontLanes {
  public:
    using Scalar = typename Base::T;
    using T = std::array<Scalar, K>;

    explicit MontLanes(const Base& m) : m_(m) {}

    const Base& base() const { return m_; }
    T one() const { return broadcast(m_.one()); }
    static T broadcast(Scalar x) {
        T r;
        r.fill(x);
        return r;
    }

    [[gnu::always_inline]] T mul(const T& a, const T& b) const {
        T r;
        for (unsigned k = 0; k < K; ++k)
            r[k] = m_.mul(a[k], b[k]);
        return r;
    }
    T sqr(const T& a) const { return mul(a, a); }
    T add(const T& a, const T& b) const {
        T r;
        for (unsigned k = 0; k < K; ++k)
            r[k] = m_.add(a[k], b[k]);
        return r;
    }
    T sub(const T& a, const T& b) const {
        T r;
        for (unsigned k = 0; k < K; ++k)
            r[k] = m_.sub(a[k], b[k]);
        return r;
    }

  private:
    Base m_;
};

} // namespace zlb::detail
