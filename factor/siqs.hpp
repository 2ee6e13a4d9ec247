#pragma once
// The self-initialising quadratic sieve (see siqs.cpp): zlb::factorize's splitter for
// composites too large for ECM to be the faster method.
#include "factor/factor.hpp"
#include "factor/u128.hpp"

#include <cstdint>
#include <vector>

namespace zlb::detail {

// A proper factor (1 < d < n) of odd composite n >= 2^40 that is not a perfect power and has no
// prime factor below 1024, possibly composite. Charges budget about once per sieve block and
// throws Cancelled when it expires.
u128 siqs(u128 n, Budget& budget);
u128 siqs(u128 n);

// One relation (A x + B)^2 == product (mod n): `factors` lists factor-base indices with
// multiplicity (index 0 stands for -1), `large` is the square root of the large-prime part
// (1 for a full relation, the shared large prime for two combined partial relations).
struct SiqsRelation {
    u128 y = 0; // A x + B mod n, or the product of two such values for a combined pair
    std::uint64_t large = 1;
    std::vector<std::uint32_t> factors;
};

// Gaussian elimination over GF(2) on the relations' exponent vectors, then the square root of
// each dependency found: returns a proper factor of n, or 0 when every dependency gave a
// trivial one. primes[i] is the factor-base prime of index i (primes[0], for -1, is unused).
u128 siqs_combine(u128 n, const std::vector<std::uint32_t>& primes,
                  const std::vector<SiqsRelation>& relations);

} // namespace zlb::detail
