#pragma once
// Internal building blocks of zlb::factorize, exposed for the tests.
// Every function here is pure: no globals, no heap, safe to call from any thread.
// The long-running ones (rho, ECM) charge a Budget and throw Cancelled when it expires; their
// overloads without one never stop early.
#include "factor/factor.hpp"
#include "factor/u128.hpp"

#include <cstdint>

namespace zlb::detail {

// A budget that never expires.
class Unlimited final : public Budget {
    bool expired() override { return false; }
};

// Deterministic Miller-Rabin for odd n >= 3 that fits 64 bits (trial division not required).
bool is_prime64(std::uint64_t n);

// Baillie-PSW (strong base-2 Miller-Rabin + extra strong Lucas) for odd n >= 2^64 that has no
// prime factor below 64.
bool is_prime_bpsw128(u128 n);

// floor(n^(1/k)) for k >= 2.
u128 integer_root(u128 n, unsigned k);

// If n == r^k for some prime k <= max_exponent and r > 1, returns r and sets k (the smallest
// such k); otherwise returns 0.
u128 perfect_power_root(u128 n, unsigned max_exponent, unsigned& k);

// Fermat's method for at most `steps` steps: finds a factor quickly when n = p*q with p and q
// within about n^(1/4) of each other. Returns 0 when nothing was found. n must be odd.
u128 fermat_factor(u128 n, unsigned steps);

// Pollard-Brent rho with x -> x^2 + c. Returns a factor of odd composite n that may be n itself
// (a failed attempt: retry with another c) or 0 when the iteration budget ran out.
std::uint64_t rho64(std::uint64_t n, std::uint64_t c, std::uint64_t max_iterations,
                    Budget& budget);
u128 rho128(u128 n, u128 c, std::uint64_t max_iterations, Budget& budget);
inline std::uint64_t rho64(std::uint64_t n, std::uint64_t c, std::uint64_t max_iterations) {
    Unlimited budget;
    return rho64(n, c, max_iterations, budget);
}
inline u128 rho128(u128 n, u128 c, std::uint64_t max_iterations) {
    Unlimited budget;
    return rho128(n, c, max_iterations, budget);
}

// Lenstra ECM on odd composite n that is not a perfect power and has no prime factor below
// 1024. Returns a proper factor (1 < d < n), possibly composite. Runs until it succeeds: sigma
// changes with every curve and the bounds grow; rho takes turns when curves keep finding all
// factors at once, and below 2^64 it takes over for good after hundreds of failed curves.
std::uint64_t ecm64(std::uint64_t n, Budget& budget);
u128 ecm128(u128 n, Budget& budget);
inline std::uint64_t ecm64(std::uint64_t n) {
    Unlimited budget;
    return ecm64(n, budget);
}
inline u128 ecm128(u128 n) {
    Unlimited budget;
    return ecm128(n, budget);
}

// One ECM curve with Suyama parameter sigma (>= 6) and explicit bounds; returns the gcd it found
// (1 when the curve failed, n when every factor was found at once). For tests and tuning.
std::uint64_t ecm64_curve(std::uint64_t n, std::uint32_t sigma, std::uint32_t b1, std::uint32_t b2);
u128 ecm128_curve(u128 n, std::uint32_t sigma, std::uint32_t b1, std::uint32_t b2);

} // namespace zlb::detail
