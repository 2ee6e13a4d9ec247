#pragma once
// Small primes for factorization, all computed at compile time: the primes below 2^16, the
// trial-division table (odd primes below 1024 with their inverses modulo 2^64 and 2^128), and
// a segmented sieve that enumerates primes up to 2^32 from a fixed stack buffer.
#include "factor/u128.hpp"

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace zlb::detail {

inline constexpr std::uint32_t kPrimes16Limit = 1u << 16;
inline constexpr std::size_t kPrimes16Count = 6542; // primes below 2^16

inline constexpr auto kPrimes16 = [] {
    std::array<bool, kPrimes16Limit> composite{};
    std::array<std::uint16_t, kPrimes16Count> primes{};
    std::size_t count = 0;
    for (std::uint32_t i = 2; i < kPrimes16Limit; ++i) {
        if (composite[i]) continue;
        primes[count++] = static_cast<std::uint16_t>(i);
        for (std::uint32_t j = i * i; j < kPrimes16Limit; j += i)
            composite[j] = true;
    }
    return primes;
}();

// Trial division covers the odd primes below this bound, so any cofactor left below its square
// is prime.
inline constexpr std::uint32_t kTrialLimit = 1024;
inline constexpr std::size_t kTrialCount = 171; // odd primes below 1024

struct TrialPrime {
    std::uint32_t p;
    // x is divisible by p exactly when x * inv (mod 2^w) <= max / p: multiplication by the
    // inverse is a bijection that maps the multiples of p onto [0, max/p].
    std::uint64_t inv64, lim64;
    u128 inv128, lim128;
};

// The divisibility test's constants for odd p (Newton's iteration doubles the correct low bits
// of the inverse; p itself is right to 3).
constexpr TrialPrime trial_prime(std::uint32_t p) {
    std::uint64_t inv64 = p;
    for (int k = 0; k < 5; ++k)
        inv64 *= 2 - p * inv64;
    u128 inv128 = p;
    for (int k = 0; k < 6; ++k)
        inv128 *= 2 - p * inv128;
    return {p, inv64, ~std::uint64_t(0) / p, inv128, ~u128(0) / p};
}

inline constexpr auto kTrialPrimes = [] {
    std::array<TrialPrime, kTrialCount> table{};
    for (std::size_t i = 0; i < kTrialCount; ++i)
        table[i] = trial_prime(kPrimes16[i + 1]);
    return table;
}();
static_assert(kPrimes16[kTrialCount] < kTrialLimit && kPrimes16[kTrialCount + 1] > kTrialLimit);

// The primes from 1024 to 8192, with 64-bit inverses only: trial division by them splits a
// composite below 2^26 (whose smallest factor is below 8192) faster than rho would.
inline constexpr std::uint32_t kMidTrialLimit = 8192;
inline constexpr std::size_t kMidTrialCount = 856; // primes in (1024, 8192)

struct TrialPrime64 {
    std::uint32_t p;
    std::uint64_t inv, lim; // as in TrialPrime
};

inline constexpr auto kMidTrialPrimes = [] {
    std::array<TrialPrime64, kMidTrialCount> table{};
    for (std::size_t i = 0; i < kMidTrialCount; ++i) {
        const std::uint32_t p = kPrimes16[kTrialCount + 1 + i];
        std::uint64_t inv = p;
        for (int k = 0; k < 5; ++k)
            inv *= 2 - p * inv;
        table[i] = {p, inv, ~std::uint64_t(0) / p};
    }
    return table;
}();
static_assert(kPrimes16[kTrialCount + kMidTrialCount] < kMidTrialLimit &&
              kPrimes16[kTrialCount + kMidTrialCount + 1] > kMidTrialLimit);

// Calls f(p) for every prime p with lo <= p < hi, in increasing order; hi must not exceed 2^32.
// Above 2^16 it sieves the odd numbers of 2^17-wide windows with the compile-time table into
// an 8 KiB bitset on the stack (never the heap), then walks the clear bits. f returns false to
// stop early.
template <class F> void for_each_prime(std::uint64_t lo, std::uint64_t hi, F&& f) {
    for (std::size_t i = 0; i < kPrimes16Count; ++i) {
        const std::uint32_t p = kPrimes16[i];
        if (p >= hi) return;
        if (p >= lo && !f(std::uint64_t(p))) return;
    }
    constexpr std::uint64_t kWindow = 1u << 17; // numbers per window; bit k is start + 2k + 1
    constexpr std::size_t kWords = kWindow / 2 / 64;
    std::array<std::uint64_t, kWords> composite;
    std::uint64_t start = lo > kPrimes16Limit ? lo & ~std::uint64_t(1) : kPrimes16Limit;
    for (; start < hi; start += kWindow) {
        composite.fill(0);
        const std::uint64_t end = start + kWindow;
        for (std::size_t i = 1; i < kPrimes16Count; ++i) {
            const std::uint64_t p = kPrimes16[i];
            if (p * p >= end) break;
            std::uint64_t first = (start + p - 1) / p * p;
            if (first < p * p) first = p * p;
            if ((first & 1) == 0) first += p;
            for (std::uint64_t k = (first - start) / 2; k < kWindow / 2; k += p)
                composite[k / 64] |= std::uint64_t(1) << (k % 64);
        }
        for (std::size_t w = 0; w < kWords; ++w) {
            for (std::uint64_t bits = ~composite[w]; bits != 0; bits &= bits - 1) {
                const std::uint64_t m = start + 2 * (64 * w + std::countr_zero(bits)) + 1;
                if (m >= hi) return;
                if (m >= lo && !f(m)) return;
            }
        }
    }
}

} // namespace zlb::detail
