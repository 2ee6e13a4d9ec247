#pragma once
// Integer factorization up to 2^128-1: trial division, deterministic Miller-Rabin,
// Pollard-Brent rho and Lenstra ECM, all in Montgomery arithmetic.
#include "factor/u128.hpp"

#include <vector>

namespace zlb {

// True when n is prime. Deterministic for every 64-bit n; for larger n a strong
// BPSW-style test with no known counterexample.
bool is_prime(u128 n);

// Appends the prime factors of n to out in ascending order, with multiplicity.
// n == 1 appends nothing. n == 0 is a caller error: it throws std::invalid_argument.
// out is cleared first; passing the same vector again avoids allocation.
void factorize(u128 n, std::vector<u128>& out);

inline std::vector<u128> factorize(u128 n) {
    std::vector<u128> out;
    factorize(n, out);
    return out;
}

} // namespace zlb
