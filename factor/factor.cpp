// zlb::factorize: the strategy that ties the algorithms together.
//
// 1. Powers of two by a shift, then trial division by the odd primes below 1024 (an exact
//    division is a multiplication by the inverse of p, so this is cheap). A cofactor below
//    1024^2 is then prime, and one below 8192^2 is settled by trial division up to 8192.
// 2. Each remaining cofactor sits on a small fixed-size stack with its multiplicity. It is
//    finished when prime (Miller-Rabin below 2^64, BPSW above); perfect powers are taken apart
//    by integer roots.
// 3. Otherwise it is split: below 2^30 by Pollard-Brent rho, whose ~sqrt(p) steps beat the
//    fixed cost of a curve there; up to 2^64 by ECM in 64-bit Montgomery arithmetic; above
//    that by a short rho run (for small primes), a few Fermat steps (for two factors near
//    sqrt(n)) and then the self-initialising quadratic sieve (siqs.cpp), whose time depends on
//    n alone rather than on its smallest factor. Both parts go back on the stack.
// 4. Sorting restores ascending order.
//
// Below 2^64 nothing here allocates except appending to out; the sieve above it allocates its
// factor base, sieve block and relations (tens of KiB) per number. There is no shared mutable
// state.
//
// Cancellation: every step charges the caller's Budget with an estimate of its cost (a number's
// trial division, each primality test, and inside rho, ECM and SIQS their batches, curves and
// sieve blocks), so a batch of numbers can be stopped between numbers and within one; see Budget.
#include "factor/factor.hpp"

#include "factor/factor_detail.hpp"
#include "factor/montgomery.hpp"
#include "factor/primes.hpp"
#include "factor/siqs.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <stdexcept>

namespace zlb {
namespace {

using detail::kTrialPrimes;

// Below this many bits rho's expected ~1.2 sqrt(p) steps cost less than an ECM curve.
constexpr int kRhoMaxBits = 30;
// Above 2^64 the quadratic sieve beats 128-bit ECM on balanced semiprimes already at 65 bits
// (callgrind: about 1.5 M instructions a number against 2.2 M), so it takes every size there;
// below 2^64, 64-bit ECM is faster still (0.6 M at 64 bits). bench/scenarios/s8_factor_sizes.py
// times the sizes on both sides.
// Steps of rho before SIQS: enough to find factors up to about 2^16 (small n) or 2^23 (large n)
// for a fraction of the sieve's cost, which is 1.5 M instructions at 65 bits and 100 M at 128.
constexpr std::uint64_t rho_prepass_steps(int bits) {
    return bits <= 80 ? 256 : bits <= 100 ? 1024 : 4096;
}
constexpr std::uint64_t kMidTrialBelow =
    std::uint64_t(detail::kMidTrialLimit) * detail::kMidTrialLimit;
constexpr u128 kPrimeBelow = u128(detail::kTrialLimit) * detail::kTrialLimit;
// Budget charges, in multiplications: trial division by 171 primes, Miller-Rabin with up to 7
// bases below 2^64, BPSW above.
constexpr std::uint64_t kTrialCost = 200;
constexpr std::uint64_t kPrime64Cost = 500;
constexpr std::uint64_t kPrime128Cost = 1500;
static_assert(detail::kTrialLimit == 1u << 10, "the perfect-power bound assumes factors > 2^10");

// Divides out every odd prime below 1024; n is odd on entry.
void trial_divide(u128& n, std::vector<u128>& out) {
    std::size_t i = 0;
    for (; i < kTrialPrimes.size() && (n >> 64) != 0; ++i) {
        const auto& t = kTrialPrimes[i];
        while (n * t.inv128 <= t.lim128) {
            n *= t.inv128; // exact quotient n / p
            out.push_back(t.p);
        }
    }
    auto small = static_cast<std::uint64_t>(n);
    if ((n >> 64) == 0) {
        for (; i < kTrialPrimes.size(); ++i) {
            const auto& t = kTrialPrimes[i];
            if (std::uint64_t(t.p) * t.p > small) break;
            while (small * t.inv64 <= t.lim64) {
                small *= t.inv64;
                out.push_back(t.p);
            }
        }
        n = small;
    }
    if (n > 1 && n < kPrimeBelow) {
        out.push_back(n);
        n = 1;
    }
}

// For m < 8192^2 with no factor below 1024: its smallest prime factor, or m itself when prime.
// Cheaper than Miller-Rabin plus rho at this size.
std::uint64_t smallest_factor_below_2_26(std::uint64_t m) {
    for (const auto& t : detail::kMidTrialPrimes) {
        if (std::uint64_t(t.p) * t.p > m) break;
        if (m * t.inv <= t.lim) return t.p;
    }
    return m;
}

// Primality of a cofactor that is odd, has no prime factor below 1024 and is at least 1024^2.
bool cofactor_is_prime(u128 m, Budget& budget) {
    if ((m >> 64) == 0) {
        budget.charge(kPrime64Cost);
        return detail::is_prime64(static_cast<std::uint64_t>(m));
    }
    budget.charge(kPrime128Cost);
    return detail::is_prime_bpsw128(m);
}

// A proper factor of a composite m with no factor below 1024 that is not a perfect power.
u128 split(u128 m, Budget& budget) {
    if ((m >> 64) == 0) {
        const auto m64 = static_cast<std::uint64_t>(m);
        if (std::bit_width(m64) > kRhoMaxBits) return detail::ecm64(m64, budget);
        for (std::uint64_t c = 1;; ++c) {
            const std::uint64_t g =
                detail::rho64(m64, c, std::numeric_limits<std::uint64_t>::max(), budget);
            if (g != 1 && g != m64) return g;
        }
    }
    // A short rho run first: cofactors this large often still hold a few primes below 2^20,
    // which rho finds in microseconds while a 128-bit curve costs far more, and which would
    // make ECM find all factors at once.
    const int bits = detail::bit_width128(m);
    if (const u128 g = detail::rho128(m, 1, rho_prepass_steps(bits), budget); g != 0 && g != m)
        return g;
    if (const u128 g = detail::fermat_factor(m, 64); g != 0) return g;
    return detail::siqs(m, budget);
}

} // namespace

void factorize(u128 n, std::vector<u128>& out) {
    detail::Unlimited budget;
    factorize(n, out, budget);
}

void factorize(u128 n, std::vector<u128>& out, Budget& budget) {
    if (n == 0) throw std::invalid_argument("factorize: 0 has no prime factorization");
    out.clear();
    budget.charge(kTrialCost);
    const int twos = detail::ctz128(n);
    for (int i = 0; i < twos; ++i)
        out.push_back(2);
    n >>= twos;
    trial_divide(n, out);

    // Each pending cofactor carries its multiplicity, so a perfect power r^k is split only
    // once. Every value is at least 1024 and together they divide n < 2^128, so at most 12
    // are ever pending.
    struct Pending {
        u128 value;
        unsigned multiplicity;
    };
    std::array<Pending, 16> pending;
    std::size_t top = 0;
    if (n != 1) pending[top++] = {n, 1};
    while (top != 0) {
        const auto [m, mult] = pending[--top];
        if (m < kMidTrialBelow) {
            const auto m64 = static_cast<std::uint64_t>(m);
            const std::uint64_t p = m < kPrimeBelow ? m64 : smallest_factor_below_2_26(m64);
            if (p == m64) {
                out.insert(out.end(), mult, m);
            } else {
                pending[top++] = {p, mult};
                pending[top++] = {m64 / p, mult};
            }
            continue;
        }
        if (cofactor_is_prime(m, budget)) {
            out.insert(out.end(), mult, m);
            continue;
        }
        // Every prime factor is above 2^10, which bounds the exponent of a perfect power.
        unsigned k = 0;
        const auto max_exponent = static_cast<unsigned>(detail::bit_width128(m) / 10);
        if (const u128 r = detail::perfect_power_root(m, max_exponent, k); r != 0) {
            pending[top++] = {r, mult * k};
            continue;
        }
        const u128 d = split(m, budget);
        pending[top++] = {d, mult};
        pending[top++] = {m / d, mult};
    }
    std::sort(out.begin(), out.end());
}

} // namespace zlb
