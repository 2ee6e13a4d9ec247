// Integer roots, perfect powers and Fermat's method.
//
// ECM and rho are poor at splitting p^k and hopeless at p*q with p and q close together and both
// near 2^64, while these cheap special-purpose checks catch exactly those cases.
#include "factor/factor_detail.hpp"
#include "factor/montgomery.hpp"

#include <cmath>
#include <cstdint>

namespace zlb::detail {
namespace {

// Compares x^k with n without overflowing: -1, 0 or 1.
int compare_power(u128 x, unsigned k, u128 n) {
    u128 acc = 1;
    for (unsigned i = 0; i < k; ++i) {
        if (x != 0 && acc > n / x) return 1;
        acc *= x;
    }
    return acc < n ? -1 : (acc == n ? 0 : 1);
}

// Squares modulo 64, 63 and 65 as bit masks; a non-square fails one of them with probability
// about 0.95, sparing most candidates the square root.
constexpr auto residue_mask = [](unsigned mod) {
    u128 mask = 0;
    for (unsigned i = 0; i < mod; ++i)
        mask |= u128(1) << (i * i % mod);
    return mask;
};
constexpr u128 kSquares64 = residue_mask(64), kSquares63 = residue_mask(63),
               kSquares65 = residue_mask(65);

bool maybe_square(u128 x) {
    if (((kSquares64 >> static_cast<unsigned>(x & 63)) & 1) == 0) return false;
    const auto low = static_cast<std::uint64_t>(x % (63u * 65u));
    return ((kSquares63 >> (low % 63)) & 1) != 0 && ((kSquares65 >> (low % 65)) & 1) != 0;
}

} // namespace

u128 integer_root(u128 n, unsigned k) {
    if (n < 2 || k == 1) return n;
    if (k >= 128) return 1;
    // A floating-point estimate is off by at most a few units (double carries 53 bits, and a
    // root of a 128-bit number has at most 64); the loops below make it exact. long double is
    // avoided because powl is a slow library routine.
    const double est = k == 2   ? std::sqrt(static_cast<double>(n))
                       : k == 3 ? std::cbrt(static_cast<double>(n))
                                : std::pow(static_cast<double>(n), 1.0 / k);
    u128 x = est >= 18446744073709551615.0 ? ~std::uint64_t(0) : static_cast<u128>(est);
    while (x > 0 && compare_power(x, k, n) > 0)
        --x;
    while (compare_power(x + 1, k, n) <= 0)
        ++x;
    return x;
}

u128 perfect_power_root(u128 n, unsigned max_exponent, unsigned& k) {
    // For each prime exponent e, a modulus q with e | q - 1 has only (q - 1)/e + 1 residues
    // that are e-th powers, so most candidates are rejected without computing a root.
    struct Filter {
        unsigned e, q;
    };
    static constexpr Filter kFilters[] = {
        {3, 7},     {5, 11},    {7, 29},    {11, 23},    {13, 53},   {17, 103},
        {19, 191},  {23, 47},   {29, 59},   {31, 311},   {37, 149},  {41, 83},
        {43, 173},  {47, 283},  {53, 107},  {59, 709},   {61, 367},  {67, 269},
        {71, 569},  {73, 293},  {79, 317},  {83, 167},   {89, 179},  {97, 389},
        {101, 607}, {103, 619}, {107, 643}, {109, 1091}, {113, 227}, {127, 509}};
    auto is_power_residue = [](u128 n, unsigned e, unsigned q) {
        const auto r = static_cast<std::uint64_t>(n % q);
        if (r == 0) return true;
        // r is an e-th power mod prime q iff r^((q-1)/e) == 1.
        std::uint64_t acc = 1, base = r;
        for (unsigned x = (q - 1) / e; x != 0; x >>= 1) {
            if (x & 1) acc = acc * base % q;
            base = base * base % q;
        }
        return acc == 1;
    };
    if (n < 4) return 0;
    auto try_exponent = [&](unsigned e) {
        const u128 r = integer_root(n, e);
        if (r > 1 && compare_power(r, e, n) == 0) {
            k = e;
            return r;
        }
        return u128(0);
    };
    if (max_exponent >= 2 && maybe_square(n))
        if (const u128 r = try_exponent(2); r != 0) return r;
    for (const Filter& f : kFilters) {
        if (f.e > max_exponent) break;
        if (is_power_residue(n, f.e, f.q))
            if (const u128 r = try_exponent(f.e); r != 0) return r;
    }
    return 0;
}

u128 fermat_factor(u128 n, unsigned steps) {
    // Walk a upward from ceil(sqrt(n)) looking for a^2 - n = b^2, so n = (a - b)(a + b).
    // Unsigned wraparound keeps a^2 - n exact even where a^2 itself would overflow.
    u128 a = integer_root(n, 2);
    if (a * a == n) return a;
    ++a;
    u128 b2 = a * a - n;
    for (unsigned i = 0; i < steps; ++i) {
        if (maybe_square(b2)) {
            const u128 b = integer_root(b2, 2);
            if (b * b == b2 && a - b > 1) return a - b;
        }
        b2 += 2 * a + 1;
        ++a;
    }
    return 0;
}

} // namespace zlb::detail
