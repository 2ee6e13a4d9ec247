// Tests for the self-initialising quadratic sieve (factor/siqs*.cpp) and its place in
// zlb::factorize. Expected answers come from the construction (products of primes chosen here)
// or from brute force over small moduli; results are self-checked (proper divisors, prime
// factors that multiply back to n).
#include "factor/factor.hpp"
#include "factor/factor_detail.hpp"
#include "factor/primes.hpp"
#include "tests/expires_after.hpp"
#include "factor/siqs.hpp"
#include "factor/siqs_kernels.hpp"
#include "factor/siqs_math.hpp"
#include "factor/siqs_relations.hpp"

#include <doctest/doctest.h>

#include <algorithm>
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
        const Mod16 mod(p);
        for (std::uint32_t a = 1; a < p; a += step) {
            CHECK(std::uint64_t(invmod(a, p)) * a % p == 1);
            if (mod.pow(a, (p - 1) / 2) != 1) continue;
            const std::uint32_t r = mod.sqrt(a);
            CHECK(std::uint64_t(r) * r % p == a);
        }
    }
}

TEST_CASE("siqs_math: Mod16 remainders, products and square roots match plain arithmetic") {
    using namespace zlb::detail::siqs_math;
    std::mt19937_64 rng(5);
    for (std::uint32_t p : {3u, 5u, 61u, 1021u, 32749u, 65521u}) {
        CAPTURE(p);
        const Mod16 mod(p);
        for (int i = 0; i < 2000; ++i) {
            const auto x = static_cast<std::uint32_t>(rng());
            CHECK(mod.reduce(x) == x % p);
            const auto a = static_cast<std::uint32_t>(rng() % p), b = static_cast<std::uint32_t>(rng() % p);
            CHECK(mod.mul(a, b) == std::uint64_t(a) * b % p);
            const std::uint64_t w = rng();
            CHECK(mod.of(w) == w % p);
        }
        for (std::uint32_t a = 0; a < std::min(p, 3000u); ++a) {
            bool residue = a == 0;
            for (std::uint32_t r = 1; r < p && !residue && p < 3000; ++r)
                residue = std::uint64_t(r) * r % p == a;
            if (p >= 3000) residue = a == 0 || mod.pow(a, (p - 1) / 2) == 1;
            const std::uint32_t root = mod.sqrt(a);
            if (residue)
                CHECK(std::uint64_t(root) * root % p == a);
            else
                CHECK(root == ~std::uint32_t(0));
        }
    }
}

TEST_CASE("siqs_kernels: root matches of every position against brute force, every kernel") {
    using namespace zlb::detail::siqs_kernels;
    std::mt19937_64 rng(9);
    const std::size_t count = padded(70); // odd primes from 3, then padding that never matches
    std::vector<std::uint16_t> p(count, 32749), m(count), r1(count, 0xffff), r2(count, 0xffff);
    for (std::size_t i = 0; i < 70; ++i) {
        p[i] = zlb::detail::kPrimes16[i + 1 + (i > 40 ? 3400 : 0)]; // small ones and some near 2^15
        r1[i] = static_cast<std::uint16_t>(rng() % p[i]);
        r2[i] = static_cast<std::uint16_t>(rng() % p[i]);
    }
    for (std::size_t i = 0; i < count; ++i)
        m[i] = mulhi_magic(p[i]);
    std::vector<std::uint32_t> masks(count / 32);
    auto kernels = root_match_kernels();
    kernels.push_back({"chosen", root_match_masks});
    CHECK(kernels.size() >= 2);
    for (const auto& kernel : kernels) {
        CAPTURE(kernel.name);
        for (std::uint32_t idx = 0; idx < 65536; idx += (idx < 300 ? 1 : 97)) {
            std::fill(masks.begin(), masks.end(), 0xdeadbeef); // each mask is written whole
            kernel.fn(idx, p.data(), m.data(), r1.data(), r2.data(), count, masks.data());
            for (std::size_t i = 0; i < count; ++i) {
                const bool want = i < 70 && (idx % p[i] == r1[i] || idx % p[i] == r2[i]);
                CAPTURE(idx);
                CAPTURE(i);
                CHECK(((masks[i / 32] >> (i % 32)) & 1) == (want ? 1u : 0u));
            }
        }
    }
}

TEST_CASE("siqs_relations: the partial index returns the first row stored under a prime") {
    zlb::detail::PartialIndex index;
    for (std::uint32_t i = 0; i < 5000; ++i) // grows past its first size several times
        CHECK(index.find_or_insert(2 * std::uint64_t(i) + 1000003, i) == i);
    for (std::uint32_t i = 0; i < 5000; ++i)
        CHECK(index.find_or_insert(2 * std::uint64_t(i) + 1000003, 99999) == i);
    CHECK(index.find_or_insert(7, 42) == 42);
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
