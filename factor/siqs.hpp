#pragma once
// The self-initialising quadratic sieve (see siqs.cpp): zlb::factorize's splitter for
// composites too large for ECM to be the faster method.
#include "factor/factor.hpp"
#include "factor/u128.hpp"

#include <cstdint>

namespace zlb::detail {

// A proper factor (1 < d < n) of odd composite n >= 2^40 that is not a perfect power and has no
// prime factor below 1024, possibly composite. Charges budget about once per sieve block and
// throws Cancelled when it expires.
u128 siqs(u128 n, Budget& budget);
u128 siqs(u128 n);

} // namespace zlb::detail
