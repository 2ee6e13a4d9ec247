// Tests for zlb::factorize, zlb::is_prime, the decimal conversions and cancellation by a Budget.
//
// Expected answers come from independent, deliberately simple code in this file (a sieve, trial
// division, Miller-Rabin with a slow double-and-add mulmod), or from a self-check: the factors
// must be prime, ascending, and multiply back to n.
#include "factor/factor.hpp"
#include "factor/factor_detail.hpp"
#include "factor/primes.hpp"
#include "tests/expires_after.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using zlb::u128;

namespace {

constexpr u128 kMax128 = ~u128(0);
constexpr u128 k2to64 = u128(1) << 64;

u128 from_decimal(const char* text) {
    const auto v = zlb::parse_u128(text);
    REQUIRE(v.has_value());
    return *v;
}

std::string str(u128 n) {
    return zlb::to_string_u128(n);
}

std::string str(const std::vector<u128>& v) {
    std::string s;
    for (u128 x : v) {
        if (!s.empty()) s += ' ';
        s += str(x);
    }
    return s;
}

// ---- independent reference arithmetic (slow but obviously correct) ----

u128 add_mod(u128 a, u128 b, u128 m) {
    return a >= m - b ? a - (m - b) : a + b;
}

u128 mul_mod(u128 a, u128 b, u128 m) {
    u128 r = 0;
    a %= m;
    for (; b != 0; b >>= 1) {
        if (b & 1) r = add_mod(r, a, m);
        a = add_mod(a, a, m);
    }
    return r;
}

u128 pow_mod(u128 a, u128 e, u128 m) {
    u128 r = 1 % m;
    for (a %= m; e != 0; e >>= 1) {
        if (e & 1) r = mul_mod(r, a, m);
        a = mul_mod(a, a, m);
    }
    return r;
}

bool strong_probable_prime_ref(u128 n, u128 a) {
    u128 d = n - 1;
    int s = 0;
    while ((d & 1) == 0) {
        d >>= 1;
        ++s;
    }
    u128 x = pow_mod(a, d, n);
    if (x == 1 || x == n - 1) return true;
    for (int i = 1; i < s; ++i) {
        x = mul_mod(x, x, n);
        if (x == n - 1) return true;
    }
    return false;
}

// Miller-Rabin with the first 20 prime bases: deterministic far beyond 2^64 in practice and,
// more to the point, independent of the code under test.
bool is_prime_ref(u128 n) {
    static constexpr unsigned kBases[] = {2,  3,  5,  7,  11, 13, 17, 19, 23, 29,
                                          31, 37, 41, 43, 47, 53, 59, 61, 67, 71};
    if (n < 2) return false;
    for (unsigned p : kBases)
        if (n % p == 0) return n == p;
    for (unsigned a : kBases)
        if (!strong_probable_prime_ref(n, a)) return false;
    return true;
}

std::vector<bool> sieve(std::uint32_t limit) {
    std::vector<bool> prime(limit, true);
    prime[0] = false;
    if (limit > 1) prime[1] = false;
    for (std::uint32_t i = 2; u128(i) * i < limit; ++i)
        if (prime[i])
            for (std::uint32_t j = i * i; j < limit; j += i)
                prime[j] = false;
    return prime;
}

std::vector<std::uint32_t> primes_below(std::uint32_t limit) {
    const auto is_p = sieve(limit);
    std::vector<std::uint32_t> primes;
    for (std::uint32_t i = 2; i < limit; ++i)
        if (is_p[i]) primes.push_back(i);
    return primes;
}

// ---- generators ----

u128 random_u128(std::mt19937_64& rng) {
    return (u128(rng()) << 64) | rng();
}

// Uniform with exactly `bits` bits.
u128 random_bits(std::mt19937_64& rng, unsigned bits) {
    u128 x = random_u128(rng);
    if (bits < 128) x &= (u128(1) << bits) - 1;
    return x | (u128(1) << (bits - 1));
}

u128 random_prime(std::mt19937_64& rng, unsigned bits) {
    for (;;) {
        const u128 p = bits == 2 ? 2 + (rng() & 1) : random_bits(rng, bits) | 1;
        if (is_prime_ref(p)) return p;
    }
}

u128 power(u128 base, unsigned e) {
    u128 r = 1;
    while (e-- > 0)
        r *= base;
    return r;
}

u128 next_prime(u128 n) {
    while (!is_prime_ref(n))
        ++n;
    return n;
}

// ---- the checks ----

void check_factorization(u128 n) {
    CAPTURE(str(n));
    const auto f = zlb::factorize(n);
    CAPTURE(str(f));
    u128 product = 1;
    for (std::size_t i = 0; i < f.size(); ++i) {
        CHECK(is_prime_ref(f[i]));
        if (i > 0) CHECK(f[i - 1] <= f[i]);
        // The product never overflows when the factors are right; guard anyway.
        if (f[i] != 0 && product <= kMax128 / f[i])
            product *= f[i];
        else
            product = 0;
    }
    CHECK(product == n);
}

void check_factors(u128 n, std::vector<u128> expected) {
    CAPTURE(str(n));
    std::sort(expected.begin(), expected.end());
    CHECK(str(zlb::factorize(n)) == str(expected));
}

} // namespace

TEST_CASE("parse_u128 and to_string_u128 round trip") {
    CHECK(zlb::parse_u128("0") == u128(0));
    CHECK(zlb::parse_u128("7") == u128(7));
    CHECK(zlb::parse_u128("007") == u128(7)); // leading zeros are just digits
    CHECK(zlb::parse_u128("18446744073709551615") == u128(~std::uint64_t(0)));
    CHECK(zlb::parse_u128("18446744073709551616") == k2to64);
    CHECK(zlb::parse_u128("340282366920938463463374607431768211455") == kMax128);
    CHECK(zlb::parse_u128(std::string(60, '0') + "42") == u128(42));

    CHECK(str(0) == "0");
    CHECK(str(10) == "10");
    CHECK(str(k2to64) == "18446744073709551616");
    CHECK(str(kMax128) == "340282366920938463463374607431768211455");
    CHECK(str(u128(10'000'000'000'000'000'000ull)) == "10000000000000000000");
    CHECK(str(u128(10'000'000'000'000'000'000ull) * 10'000'000'000'000'000'000ull) ==
          "100000000000000000000000000000000000000");

    std::mt19937_64 rng(1);
    for (int i = 0; i < 20000; ++i) {
        const u128 n = random_u128(rng) >> (rng() % 128);
        const std::string s = str(n);
        CHECK(s.size() <= 39);
        CHECK((s == "0" || s[0] != '0'));
        CHECK(zlb::parse_u128(s) == n);
    }
    for (u128 p = 1, i = 0; i < 39; ++i, p *= 10) {
        CHECK(zlb::parse_u128(str(p)) == p);
        CHECK(zlb::parse_u128(str(p - 1)) == p - 1);
    }
}

TEST_CASE("parse_u128 rejects malformed and oversized input") {
    for (const char* bad :
         {"", "-1", "+1", " 1", "1 ", "1 2", "1a", "a1", "0x10", "1.0", "1e5", "-0", "\t7",
          "340282366920938463463374607431768211456",  // 2^128
          "340282366920938463463374607431768211460",  // 2^128 + 4
          "999999999999999999999999999999999999999",  // 39 nines > 2^128
          "3402823669209384634633746074317682114550", // 2^128-1 with a digit appended
          "100000000000000000000000000000000000000000000000000"}) {
        CAPTURE(bad);
        CHECK_FALSE(zlb::parse_u128(bad).has_value());
    }
    std::string with_nul = "123";
    with_nul[1] = '\0';
    CHECK_FALSE(zlb::parse_u128(with_nul).has_value());
}

TEST_CASE("factorize rejects zero and handles tiny inputs") {
    CHECK_THROWS_AS(zlb::factorize(0), std::invalid_argument);
    std::vector<u128> out{5, 6};
    CHECK_THROWS_AS(zlb::factorize(0, out), std::invalid_argument);
    zlb::factorize(1, out);
    CHECK(out.empty());
    check_factors(2, {2});
    check_factors(3, {3});
    check_factors(4, {2, 2});
    check_factors(6, {2, 3});
    check_factors(8, {2, 2, 2});
    check_factors(9, {3, 3});
    check_factors(1023, {3, 11, 31});
    check_factors(1024u * 1024u, std::vector<u128>(20, 2));
    check_factors(1031u * 1031u, {1031, 1031}); // first prime past trial division, squared
    check_factors(1021u * 1031u, {1021, 1031});
}

TEST_CASE("factorize reuses the output vector") {
    std::vector<u128> out;
    zlb::factorize(2 * 3 * 5 * 7, out);
    zlb::factorize(11 * 13, out);
    CHECK(str(out) == "11 13");
}

TEST_CASE("every n below 10^6 factors correctly") {
    const auto is_p = sieve(1'000'000);
    std::vector<u128> out;
    for (std::uint32_t n = 1; n < 1'000'000; ++n) {
        zlb::factorize(n, out);
        u128 product = 1;
        bool ok = std::is_sorted(out.begin(), out.end());
        for (u128 f : out) {
            ok = ok && is_p[static_cast<std::uint32_t>(f)];
            product *= f;
        }
        if (!ok || product != n) FAIL("n = " << n << ": " << str(out));
    }
}

TEST_CASE("edge cases around 2^64 and 2^128") {
    check_factors(~std::uint64_t(0), {3, 5, 17, 257, 641, 65537, 6700417});
    check_factors(k2to64, std::vector<u128>(64, 2));
    check_factors(k2to64 + 1, {274177, 67280421310721});
    check_factors(from_decimal("18446744073709551557"), {from_decimal("18446744073709551557")});
    check_factors(kMax128, {3, 5, 17, 257, 641, 65537, 274177, 6700417, 67280421310721});
    check_factors(kMax128 - 158, {kMax128 - 158}); // 2^128 - 159, the largest 128-bit prime
    check_factors(kMax128 - 1, {2, kMax128 >> 1}); // 2 * (2^127 - 1), a Mersenne prime
    check_factors(kMax128 >> 1, {kMax128 >> 1});
    check_factors((u128(1) << 67) - 1, {193707721, 761838257287}); // Cole, 1903
    check_factors((u128(1) << 61) - 1, {(u128(1) << 61) - 1});
    check_factors((u128(1) << 89) - 1, {(u128(1) << 89) - 1});
    check_factors((u128(1) << 107) - 1, {(u128(1) << 107) - 1});
    for (unsigned e = 1; e < 128; ++e) {
        check_factors(u128(1) << e, std::vector<u128>(e, 2));
        check_factorization((u128(1) << e) - 1);
        check_factorization((u128(1) << e) + 1);
    }
    std::vector<u128> expected(126, 2);
    expected.push_back(3);
    check_factors(u128(3) << 126, expected);
    for (u128 n = kMax128; n > kMax128 - 100; --n)
        check_factorization(n);
    for (u128 n = k2to64 - 200; n < k2to64 + 200; ++n)
        check_factorization(n);
}

TEST_CASE("Carmichael numbers and strong pseudoprimes") {
    // Carmichael numbers pass Fermat tests to every coprime base.
    const char* const carmichael[] = {"561",
                                      "1105",
                                      "1729",
                                      "41041",
                                      "825265",
                                      "321197185",
                                      "5394826801",
                                      "232250619601",
                                      "9746347772161",
                                      "1436697831295441",
                                      "60977817398996785",
                                      "7156857700403137441",
                                      "1791562810662585767521",
                                      "87674969936234821377601"};
    // Strong pseudoprimes pass Miller-Rabin to base 2; 3825123056546413051 and the two after it
    // to every prime base up to 23, 37 and 41 respectively.
    const char* const spsp[] = {"2047",
                                "3277",
                                "4033",
                                "4681",
                                "8321",
                                "3215031751",
                                "2152302898747",
                                "3474749660383",
                                "341550071728321",
                                "3825123056546413051",
                                "318665857834031151167461",
                                "3317044064679887385961981",
                                "7999252175582851",
                                "585226005592931977",
                                "18446744066047760377"};
    auto check_composite = [](const char* text) {
        CAPTURE(text);
        const u128 n = from_decimal(text);
        CHECK_FALSE(zlb::is_prime(n));
        check_factorization(n);
    };
    for (const char* text : carmichael)
        check_composite(text);
    for (const char* text : spsp)
        check_composite(text);
}

TEST_CASE("products built to fool the base-2 test above 2^64") {
    // n = p(2p - 1) with both factors prime is a base-2 Fermat pseudoprime whenever
    // 2p - 1 = +-1 mod 8, and often a strong one; collect some above 2^64 and make sure the
    // Lucas half of BPSW rejects them.
    std::mt19937_64 rng(5);
    int found = 0;
    for (int tries = 0; found < 8 && tries < 2'000'000; ++tries) {
        const u128 p = (u128(1) << 33) + (rng() >> 31);
        const u128 q = 2 * p - 1;
        if ((q & 7) != 1 && (q & 7) != 7) continue;
        if (!is_prime_ref(p) || !is_prime_ref(q)) continue;
        const u128 n = p * q;
        if (!strong_probable_prime_ref(n, 2)) continue;
        ++found;
        CAPTURE(str(n));
        CHECK(n > k2to64);
        CHECK_FALSE(zlb::is_prime(n));
        check_factors(n, {p, q});
    }
    CHECK(found >= 4);
}

TEST_CASE("is_prime agrees with a sieve below 10^6") {
    const auto is_p = sieve(1'000'000);
    for (std::uint32_t n = 0; n < 1'000'000; ++n)
        if (zlb::is_prime(n) != is_p[n]) FAIL("n = " << n);
}

TEST_CASE("is_prime agrees with trial division on random 40-bit numbers") {
    const auto primes = primes_below(1u << 20);
    std::mt19937_64 rng(2);
    int prime_count = 0;
    for (int i = 0; i < 3000; ++i) {
        const std::uint64_t n = (rng() >> 24) | 1;
        bool expected = n > 1;
        for (std::uint32_t p : primes) {
            if (std::uint64_t(p) * p > n) break;
            if (n % p == 0) {
                expected = false;
                break;
            }
        }
        prime_count += expected;
        CAPTURE(n);
        CHECK(zlb::is_prime(n) == expected);
    }
    CHECK(prime_count > 50); // about 1 in 14 odd 40-bit numbers is prime
}

TEST_CASE("is_prime agrees with a reference Miller-Rabin on random 64- to 128-bit numbers") {
    std::mt19937_64 rng(3);
    for (int i = 0; i < 250; ++i) {
        const unsigned bits = 60 + static_cast<unsigned>(rng() % 69);
        const u128 n = random_bits(rng, bits) | 1;
        CAPTURE(str(n));
        CHECK(zlb::is_prime(n) == is_prime_ref(n));
        const u128 p = random_prime(rng, bits); // primes are rare among the random ones
        CAPTURE(str(p));
        CHECK(zlb::is_prime(p));
        if (bits <= 64) {
            CHECK_FALSE(zlb::is_prime(p * random_prime(rng, 128 - bits)));
        }
    }
}

TEST_CASE("squares, cubes and higher powers") {
    std::mt19937_64 rng(4);
    for (int i = 0; i < 20; ++i) {
        const u128 p32 = random_prime(rng, 32), p64 = random_prime(rng, 64);
        const u128 p42 = random_prime(rng, 42), p21 = random_prime(rng, 21);
        check_factors(p32 * p32, {p32, p32});
        check_factors(p64 * p64, {p64, p64});
        check_factors(p42 * p42 * p42, {p42, p42, p42});
        check_factors(p21 * p21 * p21 * p21 * p21, {p21, p21, p21, p21, p21});
        check_factors(p32 * p32 * p42, {p32, p32, p42});
        check_factors(p32 * p32 * p32 * p21, {p32, p32, p32, p21});
        const u128 q32 = random_prime(rng, 32);
        check_factors(p32 * p32 * q32 * q32, {p32, p32, q32, q32}); // (pq)^2
    }
    const u128 largest64 = from_decimal("18446744073709551557");
    check_factors(largest64 * largest64, {largest64, largest64});
    check_factors(power(1031, 12), std::vector<u128>(12, 1031));
    check_factors(power(3, 80), std::vector<u128>(80, 3));
    check_factors(power(1031, 6) * power(1033, 6),
                  {1031, 1031, 1031, 1031, 1031, 1031, 1033, 1033, 1033, 1033, 1033, 1033});
}

TEST_CASE("random semiprimes of many shapes") {
    struct Shape {
        unsigned a, b, count;
    };
    // 64+64 is the hardest shape and costs about a tenth of a second each.
    const Shape shapes[] = {{11, 11, 200}, {16, 16, 200}, {20, 21, 200}, {24, 24, 200},
                            {32, 32, 400}, {40, 24, 200}, {16, 48, 200}, {31, 33, 200},
                            {28, 36, 100}, {20, 100, 20}, {30, 98, 10},  {40, 88, 10},
                            {48, 64, 10},  {50, 78, 6},   {56, 72, 4},   {64, 64, 6},
                            {63, 64, 3},   {12, 116, 20}, {2, 126, 10},  {36, 36, 100}};
    std::mt19937_64 rng(6);
    for (const Shape& s : shapes) {
        CAPTURE(s.a);
        CAPTURE(s.b);
        for (unsigned i = 0; i < s.count; ++i) {
            const u128 p = random_prime(rng, s.a), q = random_prime(rng, s.b);
            check_factors(p * q, {p, q});
        }
    }
}

TEST_CASE("three and more large factors") {
    std::mt19937_64 rng(7);
    for (int i = 0; i < 10; ++i) {
        const u128 a = random_prime(rng, 42), b = random_prime(rng, 43), c = random_prime(rng, 42);
        check_factors(a * b * c, {a, b, c});
        const u128 d = random_prime(rng, 32), e = random_prime(rng, 32), f = random_prime(rng, 32),
                   g = random_prime(rng, 31);
        check_factors(d * e * f * g, {d, e, f, g});
        const u128 h = random_prime(rng, 21), k = random_prime(rng, 21), l = random_prime(rng, 22);
        check_factors(h * k * l, {h, k, l});
    }
}

TEST_CASE("many small primes just above the trial-division bound") {
    // ECM finds every one of these in the same curve (the gcd is n itself), so the driver has
    // to notice and let rho split them; powers make it worse because x-only arithmetic drives
    // Z to 0 modulo the whole prime power.
    const auto primes = primes_below(70000);
    std::mt19937_64 rng(12);
    for (int i = 0; i < 300; ++i) {
        std::vector<u128> chosen;
        u128 n = 1;
        const unsigned limit_bits = i % 3 == 0 ? 64 : 127;
        for (;;) {
            // Mostly primes in (1024, 70000), sometimes repeated.
            const auto it = std::lower_bound(primes.begin(), primes.end(), 1024u);
            const std::uint32_t p = (rng() & 3) == 0 && !chosen.empty()
                                        ? static_cast<std::uint32_t>(chosen.back())
                                        : it[rng() % static_cast<std::size_t>(primes.end() - it)];
            if (n > ((u128(1) << limit_bits) - 1) / p) break;
            n *= p;
            chosen.push_back(p);
        }
        check_factors(n, chosen);
    }
    u128 n = 1;
    std::vector<u128> chosen;
    for (std::uint32_t p : primes) {
        if (p < 1024) continue;
        if (n > kMax128 / p) break;
        n *= p;
        chosen.push_back(p);
    }
    check_factors(n, chosen); // 12 consecutive primes from 1031
    check_factors(u128(4019) * 4019 * 4019 * 4019 * 4019 * 7907 * 28619,
                  {4019, 4019, 4019, 4019, 4019, 7907, 28619});
}

TEST_CASE("p * q with p and q close together") {
    std::mt19937_64 rng(8);
    for (int i = 0; i < 10; ++i) {
        // Neighbouring primes near 2^63.5: hopeless for rho and ECM, instant for Fermat.
        const u128 p = next_prime(u128(13043817825332782212ull) + (rng() >> 20));
        const u128 q = next_prime(p + 1 + (rng() >> 40));
        check_factors(p * q, {p, q});
        const u128 r = next_prime(u128(1) << 31 | (rng() >> 34));
        const u128 s = next_prime(r + 1);
        check_factors(r * s, {r, s});
        check_factors(r * s * s, {r, s, s});
    }
    const u128 twin_a = from_decimal("18446744073709551427"); // near 2^64
    const u128 twin_b = next_prime(twin_a + 1);
    check_factors(twin_a * twin_b, {twin_a, twin_b});
}

TEST_CASE("random 64-bit inputs") {
    std::mt19937_64 rng(9);
    for (int i = 0; i < 3000; ++i)
        check_factorization(std::max<u128>(1, rng() >> (rng() % 64)));
    for (int i = 0; i < 1000; ++i)
        check_factorization(rng() | (std::uint64_t(1) << 63));
}

TEST_CASE("random 128-bit inputs") {
    // Uniform random 128-bit numbers usually have one large prime factor and a smooth rest, so
    // most are quick; the occasional hard cofactor is at most a 64+64 semiprime.
    std::mt19937_64 rng(10);
    for (int i = 0; i < 100; ++i)
        check_factorization(random_u128(rng));
    for (int i = 0; i < 100; ++i)
        check_factorization(random_u128(rng) >> (rng() % 64));
}

TEST_CASE("building blocks") {
    using namespace zlb::detail;
    unsigned k = 0;
    CHECK(perfect_power_root(u128(1031) * 1031 * 1031, 12, k) == 1031);
    CHECK(k == 3);
    CHECK(perfect_power_root(u128(1031) * 1031 * 1033, 12, k) == 0);
    CHECK(perfect_power_root(kMax128 - 158, 12, k) == 0);
    const u128 big = from_decimal("18446744073709551557");
    CHECK(perfect_power_root(big * big, 12, k) == big);
    CHECK(k == 2);
    for (u128 x : {u128(0), u128(1), u128(2), u128(3), u128(4), u128(99), u128(100), kMax128,
                   kMax128 - 1, k2to64, k2to64 - 1, big * big, big * big - 1}) {
        const u128 r = integer_root(x, 2);
        CHECK(r * r <= x);
        CHECK(((r + 1) > (u128(1) << 64) - 1 || (r + 1) * (r + 1) > x));
    }
    CHECK(integer_root(kMax128, 3) == from_decimal("6981463658331"));
    CHECK(integer_root(u128(1) << 120, 5) == u128(1) << 24);
    CHECK(integer_root((u128(1) << 120) - 1, 5) == (u128(1) << 24) - 1);

    const u128 p = next_prime(u128(1) << 62), q = next_prime(p + 1000);
    const u128 f = fermat_factor(p * q, 16);
    CHECK((f == p || f == q));

    // A 64-bit semiprime split by each method separately.
    const std::uint64_t a = 4294967291u, b = 4294967279u; // the two largest 32-bit primes
    const std::uint64_t n = a * b;
    const std::uint64_t r = rho64(n, 1, ~std::uint64_t(0));
    CHECK((r == a || r == b || r == n));
    const std::uint64_t e = ecm64(n);
    CHECK((e == a || e == b));
    const u128 n128 = u128(next_prime(u128(1) << 40)) * next_prime((u128(1) << 80) + 12345);
    const u128 e128 = ecm128(n128);
    CHECK((e128 > 1 && e128 < n128 && n128 % e128 == 0));
    // ecm*_curve reports a plain gcd: 1, n, or a proper factor, never anything else.
    for (std::uint32_t sigma = 6; sigma < 40; ++sigma) {
        const std::uint64_t g = ecm64_curve(n, sigma, 200, 5000);
        CHECK((g == 1 || g == n || g == a || g == b));
    }
}

TEST_CASE("for_each_prime enumerates exactly the primes") {
    const auto is_p = sieve(700000);
    std::vector<std::uint64_t> got, want;
    zlb::detail::for_each_prime(60000, 650001, [&](std::uint64_t p) {
        got.push_back(p);
        return true;
    });
    for (std::uint32_t n = 60000; n <= 650000; ++n)
        if (is_p[n]) want.push_back(n);
    CHECK(got == want);

    // Just below the 2^32 limit, against is_prime (itself checked above).
    got.clear();
    want.clear();
    const std::uint64_t lo = (std::uint64_t(1) << 32) - 300000, hi = std::uint64_t(1) << 32;
    zlb::detail::for_each_prime(lo, hi, [&](std::uint64_t p) {
        got.push_back(p);
        return true;
    });
    for (std::uint64_t n = lo; n < hi; ++n)
        if (zlb::is_prime(n)) want.push_back(n);
    CHECK(got == want);

    // Stopping early.
    int calls = 0;
    zlb::detail::for_each_prime(2, 1000000, [&](std::uint64_t p) {
        ++calls;
        return p < 100000;
    });
    CHECK(calls == 9593); // pi(100000) = 9592, plus the first prime above
}

TEST_CASE("factorize is thread-safe") {
    std::mt19937_64 rng(11);
    std::vector<u128> inputs;
    for (int i = 0; i < 300; ++i)
        inputs.push_back(random_prime(rng, 30 + i % 4) * random_prime(rng, 32));
    for (int i = 0; i < 4; ++i)
        inputs.push_back(random_prime(rng, 56) * random_prime(rng, 60));
    std::vector<std::vector<u128>> expected;
    for (u128 n : inputs)
        expected.push_back(zlb::factorize(n));

    constexpr int kThreads = 4;
    std::vector<int> mismatches(kThreads, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            std::vector<u128> out;
            for (int round = 0; round < 2; ++round)
                for (std::size_t i = 0; i < inputs.size(); ++i) {
                    // Different threads walk the list in different orders.
                    const std::size_t j = (i * (2 * t + 1) + t) % inputs.size();
                    zlb::factorize(inputs[j], out);
                    if (out != expected[j]) ++mismatches[t];
                }
        });
    }
    for (auto& th : threads)
        th.join();
    for (int t = 0; t < kThreads; ++t)
        CHECK(mismatches[t] == 0);
}

// ---- cancellation ----

namespace {

// 13633485911247841631 * 15827925615132301519: two 64-bit primes (about 10 ms of SIQS).
constexpr u128 kSlowP = 13633485911247841631u, kSlowQ = 15827925615132301519u;
constexpr u128 kSlow = kSlowP * kSlowQ;

class SteadyDeadline final : public zlb::Budget {
public:
    explicit SteadyDeadline(std::chrono::steady_clock::time_point at) : at_(at) {}

private:
    bool expired() override { return std::chrono::steady_clock::now() >= at_; }
    std::chrono::steady_clock::time_point at_;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

TEST_CASE("an expired budget stops a hard factorization at its first check") {
    ExpiresAfter budget(1);
    std::vector<u128> out;
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(zlb::factorize(kSlow, out, budget), zlb::Cancelled);
    // The first check comes after at most Budget::kCheckEvery multiplications, well under a
    // millisecond; the bound leaves room for a loaded machine.
    CHECK(seconds_since(start) < 0.5);
    CHECK(budget.polls() == 1);
}

TEST_CASE("a budget that expires after K checks stops at the K-th") {
    std::vector<u128> out;
    for (std::uint64_t k : {1, 2, 7, 15}) { // SIQS takes kSlow in about 30 checks
        CAPTURE(k);
        ExpiresAfter budget(k);
        CHECK_THROWS_AS(zlb::factorize(kSlow, out, budget), zlb::Cancelled);
        CHECK(budget.polls() == k);
    }
    // Inside the building blocks themselves: rho alone (it never finds a 64-bit factor in a
    // few checks' worth of steps) and ECM alone.
    ExpiresAfter rho_budget(3);
    CHECK_THROWS_AS(zlb::detail::rho128(kSlow, 1, ~std::uint64_t(0), rho_budget), zlb::Cancelled);
    CHECK(rho_budget.polls() == 3);
    ExpiresAfter ecm_budget(3);
    CHECK_THROWS_AS(zlb::detail::ecm128(kSlow, ecm_budget), zlb::Cancelled);
    CHECK(ecm_budget.polls() == 3);
}

TEST_CASE("a budget that never expires changes no result") {
    ExpiresAfter budget(0);
    std::vector<u128> out;
    zlb::factorize(kSlow, out, budget);
    CHECK(str(out) == str({kSlowP, kSlowQ}));
    CHECK(budget.polls() > 10); // asked as the work went, not once at the end
    std::mt19937_64 rng(12);
    for (int i = 0; i < 200; ++i) {
        const u128 n = random_u128(rng) >> (i % 96);
        if (n == 0) continue;
        zlb::factorize(n, out, budget);
        CHECK(str(out) == str(zlb::factorize(n)));
    }
}

TEST_CASE("one budget spans a batch: small numbers add up between numbers") {
    ExpiresAfter budget(0);
    std::vector<u128> out;
    std::mt19937_64 rng(13);
    constexpr int kNumbers = 20000;
    for (int i = 0; i < kNumbers; ++i)
        zlb::factorize(random_bits(rng, 40), out, budget);
    // Each number is charged at least its trial division.
    CHECK(budget.polls() >= kNumbers * 200 / zlb::Budget::kCheckEvery);

    // So a batch of such numbers is cancelled between them.
    ExpiresAfter stop(2);
    int done = 0;
    CHECK_THROWS_AS(
        [&] {
            for (; done < kNumbers; ++done)
                zlb::factorize(random_bits(rng, 40), out, stop);
        }(),
        zlb::Cancelled);
    CHECK(done < kNumbers);
    CHECK(stop.polls() == 2);
}

TEST_CASE("a deadline stops a hard batch within a small multiple of it") {
    const auto start = std::chrono::steady_clock::now();
    SteadyDeadline budget(start + std::chrono::milliseconds(50));
    std::vector<u128> out;
    CHECK_THROWS_AS(
        [&] {
            for (int i = 0; i < 16; ++i)
                zlb::factorize(kSlow, out, budget);
        }(),
        zlb::Cancelled);
    const double elapsed = seconds_since(start);
    CHECK(elapsed >= 0.05);
    CHECK(elapsed < 0.5);
    // Nothing is left behind: the next factorization is complete and right.
    CHECK(str(zlb::factorize(kSlow)) == str({kSlowP, kSlowQ}));
}
