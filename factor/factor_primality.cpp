// Primality testing.
//
// Below 2^64 the answer is exact: strong Miller-Rabin tests with base sets that are known to
// have no strong pseudoprime in range ({2, 7, 61} below 2^32 by Jaeschke; the seven bases of
// Jim Sinclair below 2^64).
//
// Above 2^64 we use Baillie-PSW: a strong base-2 test followed by an extra strong Lucas test
// with Baillie's parameters (Q = 1, P = 3, 4, 5, ... until (P^2 - 4 | n) = -1). The two tests
// fail on nearly disjoint sets of composites, and no composite is known to pass both; it is
// also much cheaper than a dozen Miller-Rabin rounds because most composites stop at base 2.
#include "factor/factor.hpp"
#include "factor/factor_detail.hpp"
#include "factor/montgomery.hpp"
#include "factor/primes.hpp"

#include <cstdint>

namespace zlb::detail {
namespace {

// Strong probable-prime test of odd n > 2 to base a, whose Montgomery form is `base`.
// d * 2^s = n - 1 with d odd.
template <class M>
bool strong_probable_prime(const M& m, typename M::T base, typename M::T d, int s) {
    using T = typename M::T;
    const T one = m.one(), minus_one = m.minus_one();
    T x = m.pow(base, d);
    if (x == one || x == minus_one) return true;
    for (int i = 1; i < s; ++i) {
        x = m.sqr(x);
        if (x == minus_one) return true;
        if (x == one) return false; // a nontrivial square root of 1: n is composite
    }
    return false;
}

// Jacobi symbol (a | n) for odd n > 0, by the binary algorithm with quadratic reciprocity.
int jacobi(u128 a, u128 n) {
    a %= n;
    int result = 1;
    while (a != 0) {
        const int twos = ctz128(a);
        a >>= twos;
        // (2 | n) = -1 exactly when n = 3 or 5 mod 8.
        const auto n8 = static_cast<unsigned>(n & 7);
        if ((twos & 1) && (n8 == 3 || n8 == 5)) result = -result;
        if ((a & 3) == 3 && (n & 3) == 3) result = -result;
        const u128 t = a;
        a = n % t;
        n = t;
    }
    return n == 1 ? result : 0;
}

// Extra strong Lucas test (Baillie, OEIS A217719) for odd n > 2^64 with no small factors and
// not a perfect square. With Q = 1 only the V sequence is needed:
//   V(2k) = V(k)^2 - 2,  V(2k+1) = V(k) V(k+1) - P,
// and U(d) == 0 is read off V via D*U(d) = 2 V(d+1) - P V(d), D being invertible mod n.
bool extra_strong_lucas(u128 n) {
    std::uint32_t p = 3;
    for (;; ++p) {
        const u128 disc = u128(p) * p - 4;
        const int j = jacobi(disc, n);
        if (j == -1) break;
        if (j == 0) return false; // disc < n shares a factor with n
        if (p == 40 && integer_root(n, 2) * integer_root(n, 2) == n) return false;
    }
    const Mont128 m(n);
    // n is odd and above 2^64, so n + 1 does not overflow for any candidate that reached here
    // (2^128 - 1 is divisible by 3 and never gets this far).
    const u128 np1 = n + 1;
    const int s = ctz128(np1);
    const u128 d = np1 >> s;
    const u128 big_p = m.to(p), two = m.add(m.one(), m.one());
    u128 v = two, w = big_p; // V(k), V(k+1) starting at k = 0
    for (int bit = bit_width128(d) - 1; bit >= 0; --bit) {
        const u128 vw = m.sub(m.mul(v, w), big_p);
        if ((d >> bit) & 1) {
            v = vw;
            w = m.sub(m.sqr(w), two);
        } else {
            w = vw;
            v = m.sub(m.sqr(v), two);
        }
    }
    const u128 minus_two = m.sub(0, two);
    if ((v == two || v == minus_two) && m.add(w, w) == m.mul(big_p, v)) return true;
    for (int r = 0; r < s - 1; ++r) {
        if (v == 0) return true;
        v = m.sub(m.sqr(v), two);
    }
    return false;
}

} // namespace

bool is_prime64(std::uint64_t n) {
    const std::uint64_t d0 = n - 1;
    const int s = std::countr_zero(d0);
    const std::uint64_t d = d0 >> s;
    const Mont64 m(n);
    if (n < (std::uint64_t(1) << 32)) {
        for (std::uint64_t a : {2u, 7u, 61u}) {
            if (a % n == 0) continue;
            if (!strong_probable_prime(m, m.to(a), d, s)) return false;
        }
        return true;
    }
    for (std::uint64_t a :
         {2ull, 325ull, 9375ull, 28178ull, 450775ull, 9780504ull, 1795265022ull}) {
        // A base that is a multiple of n says nothing; the set stays deterministic without it.
        if (a % n == 0) continue;
        if (!strong_probable_prime(m, m.to(a), d, s)) return false;
    }
    return true;
}

bool is_prime_bpsw128(u128 n) {
    const Mont128 m(n);
    const u128 d0 = n - 1;
    const int s = ctz128(d0);
    if (!strong_probable_prime(m, m.to(2), d0 >> s, s)) return false;
    return extra_strong_lucas(n);
}

} // namespace zlb::detail

namespace zlb {

bool is_prime(u128 n) {
    if (n < 4) return n >= 2;
    if ((n & 1) == 0) return false;
    // The first odd primes decide small n outright and remove the factors that the Lucas
    // parameter search must not see.
    const bool wide = (n >> 64) != 0;
    for (std::size_t i = 0; i < 17; ++i) { // odd primes up to 61
        const detail::TrialPrime& t = detail::kTrialPrimes[i];
        const bool divisible =
            wide ? n * t.inv128 <= t.lim128 : static_cast<std::uint64_t>(n) * t.inv64 <= t.lim64;
        if (divisible) return n == t.p;
    }
    if (n < 61 * 61) return true;
    if (!wide) return detail::is_prime64(static_cast<std::uint64_t>(n));
    return detail::is_prime_bpsw128(n);
}

} // namespace zlb
