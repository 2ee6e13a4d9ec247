// SIQS linear algebra and square root.
//
// Each relation is a row of exponent parities over the factor base (one bit per prime, bit 0
// for the sign) followed by an identity block that records which relations were added into it.
// Forward Gaussian elimination over GF(2) with 64-bit words: after it, every row below the rank
// is zero in its exponent part, so its identity block names a set of relations whose product
// is a square on the right side. At <= 128 bits the factor base has at most a few thousand
// primes, so the dense matrix is at most a few MiB and elimination is cheap next to sieving.
//
// For one such set, X = product of (A x + B) mod n and Y = sqrt(product of right sides), built
// from halved exponents and the large primes that occur in pairs. X^2 == Y^2 (mod n), and
// gcd(X - Y, n) is a proper factor with probability about 1/2 per dependency.
#include "factor/montgomery.hpp"
#include "factor/siqs.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace zlb::detail {
namespace {

// The factor from one dependency (the relations whose bits are set in `deps`), or 0.
u128 try_dependency(u128 n, const std::vector<std::uint32_t>& primes,
                    const std::vector<SiqsRelation>& relations, const std::uint64_t* deps,
                    std::vector<std::uint32_t>& exponents) {
    const Mont128 mont(n);
    std::fill(exponents.begin(), exponents.end(), 0u);
    u128 x = mont.one();
    u128 y = mont.one();
    for (std::size_t r = 0; r < relations.size(); ++r) {
        if (((deps[r / 64] >> (r % 64)) & 1) == 0) continue;
        x = mont.mul(x, mont.to(relations[r].y));
        y = mont.mul(y, mont.to(relations[r].large));
        for (const std::uint32_t f : relations[r].factors)
            ++exponents[f];
    }
    for (std::size_t i = 1; i < primes.size(); ++i) {
        if (exponents[i] & 1) return 0; // cannot happen for a true dependency
        if (exponents[i] != 0) y = mont.mul(y, mont.pow(mont.to(primes[i]), exponents[i] / 2));
    }
    const u128 diff = mont.from(mont.sub(x, y));
    const u128 g = binary_gcd<u128>(diff, n);
    return g != 1 && g != n ? g : 0;
}

} // namespace

u128 siqs_combine(u128 n, const std::vector<std::uint32_t>& primes,
                  const std::vector<SiqsRelation>& relations) {
    const std::size_t cols = primes.size();
    const std::size_t rows = relations.size();
    const std::size_t w1 = (cols + 63) / 64;
    const std::size_t width = w1 + (rows + 63) / 64;
    std::vector<std::uint64_t> m(rows * width, 0);
    for (std::size_t r = 0; r < rows; ++r) {
        std::uint64_t* row = &m[r * width];
        for (const std::uint32_t f : relations[r].factors)
            row[f / 64] ^= std::uint64_t(1) << (f % 64);
        row[w1 + r / 64] |= std::uint64_t(1) << (r % 64);
    }
    // Rows at or below `rank` are zero in every column before `col`, so a row operation only
    // needs the words from col / 64 on.
    std::size_t rank = 0;
    for (std::size_t col = 0; col < cols && rank < rows; ++col) {
        const std::size_t word = col / 64;
        const std::uint64_t bit = std::uint64_t(1) << (col % 64);
        std::size_t pivot = rank;
        while (pivot < rows && (m[pivot * width + word] & bit) == 0)
            ++pivot;
        if (pivot == rows) continue;
        std::uint64_t* prow = &m[rank * width];
        if (pivot != rank)
            std::swap_ranges(prow + word, prow + width, &m[pivot * width + word]);
        for (std::size_t r = rank + 1; r < rows; ++r) {
            std::uint64_t* row = &m[r * width];
            if ((row[word] & bit) == 0) continue;
            for (std::size_t w = word; w < width; ++w)
                row[w] ^= prow[w];
        }
        ++rank;
    }
    std::vector<std::uint32_t> exponents(cols);
    for (std::size_t r = rank; r < rows; ++r) {
        if (const u128 g = try_dependency(n, primes, relations, &m[r * width + w1], exponents))
            return g;
    }
    return 0;
}

} // namespace zlb::detail
