// Tests for the self-initialising quadratic sieve (factor/siqs*.cpp) and its place in
// zlb::factorize. Expected answers come from the construction (products of primes chosen here)
// or from brute force over small moduli; results are self-checked (proper divisors, prime
// factors that multiply back to n).
#include "factor/factor.hpp"
#include "factor/factor_detail.hpp"
#include "factor/primes.hpp"
#include "tests/expires_after.hpp"
#include "factor/siqs.hpp"
#include "factor/siqs_math.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

using zlb::u128;

namespace {

u128 random_prime(std::mt19937_64& rng, unsigned bits) {
    for (;;) {
        u128 x = (u128(rng()) << 64) | rng();
        if (bits < 128) x &= (u128(1) << bits) - 1;
        x |= (u128(1) << (bits - 1)) | 1;
        if (zlb::is_prime(x)) return x;
    }
}

void check_factorization(u128 n, const std::vector<u128>& factors) {
    u128 product = 1;
    for (std::size_t i = 0; i < factors.size(); ++i) {
        CHECK(zlb::is_prime(factors[i]));
        if (i > 0) CHECK(factors[i - 1] <= factors[i]);
        product *= factors[i];
    }
    CHECK(product == n);
}

} // namespace

TEST_CASE("siqs_math: square roots and inverses modulo small primes match brute force") {
    using namespace zlb::detail::siqs_math;
    for (std::uint32_t p : {3u, 5u, 7u, 13u, 17u, 41u, 97u, 257u, 65521u}) {
        CAPTURE(p);
        const std::uint32_t step = p > 1000 ? 997 : 1;
        for (std::uint32_t a = 1; a < p; a += step) {
            CHECK(std::uint64_t(invmod(a, p)) * a % p == 1);
            if (powmod(a, (p - 1) / 2, p) != 1) continue;
            const std::uint32_t r = sqrtmod(a, p);
            CHECK(std::uint64_t(r) * r % p == a);
        }
    }
}

TEST_CASE("siqs_math: k*n and (k*n - b) / a past 2^128") {
    using namespace zlb::detail::siqs_math;
    const u128 n = ~u128(0) - 158; // near the top, so k*n needs the third limb
    const Wide w = mul_small(n, 61);
    CHECK(w.hi == 60);
    CHECK(w.lo == n * 61); // the low 128 bits wrap
    // (61 n - b) / a for a chosen quotient q: 61 n = a q + b with b < a.
    const std::uint64_t a = 1000000007;
    const u128 q = sub_div(w, 0, a);
    const u128 b = w.lo - q * a; // exact in the low 128 bits
    CHECK(b < a);
    CHECK(sub_div(w, b, a) == q);
    CHECK(mod_small(n, 65521) == static_cast<std::uint32_t>(n % 65521));
}

TEST_CASE("siqs splits balanced semiprimes from 66 to 128 bits") {
    std::mt19937_64 rng(20261201);
    for (unsigned bits : {66u, 72u, 80u, 88u, 96u, 104u, 112u, 120u, 128u}) {
        for (int i = 0; i < 3; ++i) {
            const u128 p = random_prime(rng, bits / 2);
            const u128 q = random_prime(rng, bits - bits / 2);
            CAPTURE(bits);
            const u128 d = zlb::detail::siqs(p * q);
            CHECK((d == p || d == q));
        }
    }
}

TEST_CASE("siqs splits products of three and four primes near the crossover") {
    std::mt19937_64 rng(7);
    for (unsigned bits : {22u, 24u, 27u, 30u}) {
        for (int i = 0; i < 3; ++i) {
            const u128 n = random_prime(rng, bits) * random_prime(rng, bits) *
                           random_prime(rng, bits) * (bits < 27 ? random_prime(rng, 16) : 1);
            CAPTURE(bits);
            const u128 d = zlb::detail::siqs(n);
            CHECK(d > 1);
            CHECK(d < n);
            CHECK(n % d == 0);
            std::vector<u128> out;
            zlb::factorize(n, out);
            check_factorization(n, out);
            CHECK(out.size() == (bits < 27 ? 4u : 3u));
        }
    }
}

TEST_CASE("siqs finds a factor that lies in its own factor base") {
    // Every prime factor is between 1024 and 2^13, where the factor base is built.
    const u128 n = u128(1031) * 1033 * 1039 * 1049 * 1051 * 1061 * 1063 * 1069 * 1087 * 1091;
    const u128 d = zlb::detail::siqs(n);
    CHECK(d > 1);
    CHECK(d < n);
    CHECK(n % d == 0);
    std::vector<u128> out;
    zlb::factorize(n * 4099, out);
    check_factorization(n * 4099, out);
    CHECK(out.size() == 11);
}

TEST_CASE("siqs: squares of primes times a prime, and a prime squared times a semiprime") {
    std::mt19937_64 rng(11);
    for (int i = 0; i < 4; ++i) {
        const u128 p = random_prime(rng, 24), q = random_prime(rng, 30);
        const u128 n = p * p * q;
        std::vector<u128> out;
        zlb::factorize(n, out);
        check_factorization(n, out);
        CHECK(out.size() == 3);
        const u128 r = random_prime(rng, 36);
        zlb::factorize(n * r, out);
        check_factorization(n * r, out);
        CHECK(out.size() == 4);
    }
}

TEST_CASE("siqs stops at the K-th check of an expiring budget") {
    std::mt19937_64 rng(3);
    const u128 n = random_prime(rng, 64) * random_prime(rng, 64);
    for (std::uint64_t k : {1, 2, 5}) {
        CAPTURE(k);
        ExpiresAfter budget(k);
        CHECK_THROWS_AS(zlb::detail::siqs(n, budget), zlb::Cancelled);
        CHECK(budget.polls() == k);
    }
    ExpiresAfter never(0);
    const u128 d = zlb::detail::siqs(n, never);
    CHECK((d > 1 && d < n && n % d == 0));
    CHECK(never.polls() > 5); // it did charge its work
}
