#pragma once
// SIQS tuning (siqs_params.cpp): parameters by the size of n and the multiplier k.
#include "factor/u128.hpp"

#include <cstdint>

namespace zlb::detail {

// Tuning by the bit size of n, interpolated linearly between measured rows.
struct SiqsParams {
    double bits;
    double fb_size;    // primes in the factor base
    double blocks;     // 32 KiB blocks in [-M, M); below 1, a fraction of one block
    double lp_mult;    // large-prime bound / largest factor-base prime
    double thresh_adj; // bits subtracted from log2 |g| beyond the large prime's
};

SiqsParams siqs_params(double bits);

// Knuth-Schroeppel: the squarefree k < 62 maximising the expected log contribution of small
// primes to a sieve value, less the 1/2 log k that k adds to every value.
std::uint32_t siqs_multiplier(u128 n);

} // namespace zlb::detail
