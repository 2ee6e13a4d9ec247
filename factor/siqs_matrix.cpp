// SIQS linear algebra and square root.
//
// Each relation is a row of exponent parities over the factor base. First the filter: a
// column with a single odd entry cannot cancel, so its row is in no dependency; such rows are
// removed until none is left (each removal can make another column a singleton), and columns
// with no odd entry are dropped. The remaining rows are packed densely, the columns ordered by
// increasing weight (the large primes, a few entries each, first; the sign and 2, in half the
// rows, last), followed by an identity block that records which relations were added into
// each row. Forward Gaussian elimination over GF(2) with 64-bit words then pivots on the
// sparse columns first: a pivot column with few entries costs few row additions, and the fill
// it causes reaches the dense columns only late, when few rows are left below the rank. After
// it, every row below the rank is zero in its exponent part, so its identity block names a set
// of relations whose product is a square on the right side. At <= 128 bits the factor base has
// at most a few thousand primes, so the dense matrix is at most a few MiB.
//
// For one such set, X = product of (A x + B) mod n and Y = sqrt(product of right sides), built
// from halved exponents and the large primes that occur in pairs. X^2 == Y^2 (mod n), and
// gcd(X - Y, n) is a proper factor with probability about 1/2 per dependency.
#include "factor/montgomery.hpp"
#include "factor/siqs_relations.hpp"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

namespace zlb::detail {
namespace {

// The factor from one dependency (the kept rows whose bits are set in `deps`), or 0. Y's
// small factors (large primes and factor-base primes) are gathered into 64-bit words first:
// one Montgomery product per word, not one or more per factor.
u128 try_dependency(u128 n, const std::vector<std::uint32_t>& primes,
                    const SiqsRelations& relations,
                    const std::vector<std::uint32_t>& kept, const std::uint64_t* deps,
                    std::vector<std::uint32_t>& exponents) {
    const Mont128 mont(n);
    std::fill(exponents.begin(), exponents.end(), 0u);
    u128 x = mont.one();
    u128 y = mont.one();
    std::uint64_t word = 1;
    auto times = [&](std::uint64_t f) {
        std::uint64_t product;
        if (!__builtin_mul_overflow(word, f, &product)) {
            word = product;
            return;
        }
        y = mont.mul(y, mont.to(word));
        word = f;
    };
    for (std::size_t k = 0; k < kept.size(); ++k) {
        if (((deps[k / 64] >> (k % 64)) & 1) == 0) continue;
        const std::uint32_t r = kept[k];
        x = mont.mul(x, mont.to(relations.y[r]));
        times(relations.large[r]);
        for (const std::uint32_t* f = relations.begin(r); f != relations.end(r); ++f)
            ++exponents[*f];
    }
    for (std::size_t i = 1; i < primes.size(); ++i) {
        if (exponents[i] & 1) return 0; // cannot happen for a true dependency
        for (std::uint32_t e = 0; e < exponents[i] / 2; ++e)
            times(primes[i]);
    }
    y = mont.mul(y, mont.to(word));
    const u128 diff = mont.from(mont.sub(x, y));
    const u128 g = binary_gcd<u128>(diff, n);
    return g != 1 && g != n ? g : 0;
}

// The odd-exponent columns of every relation, flattened: row r's are odd[start[r], start[r+1]).
struct ParityRows {
    std::vector<std::uint32_t> odd, start;
};

ParityRows parity_rows(std::size_t cols, const SiqsRelations& relations) {
    ParityRows p;
    p.start.reserve(relations.size() + 1);
    p.start.push_back(0);
    std::vector<std::uint8_t> parity(cols, 0);
    for (std::size_t r = 0; r < relations.size(); ++r) {
        for (const std::uint32_t* f = relations.begin(r); f != relations.end(r); ++f)
            parity[*f] ^= 1;
        for (const std::uint32_t* f = relations.begin(r); f != relations.end(r); ++f) {
            if (parity[*f] == 0) continue;
            parity[*f] = 0; // each odd column once
            p.odd.push_back(*f);
        }
        p.start.push_back(static_cast<std::uint32_t>(p.odd.size()));
    }
    return p;
}

} // namespace

u128 siqs_combine(u128 n, const std::vector<std::uint32_t>& primes,
                  const SiqsRelations& relations) {
    const std::size_t cols = primes.size();
    const ParityRows par = parity_rows(cols, relations);
    // Singleton removal: passes over the live rows until one removes nothing.
    std::vector<std::uint32_t> weight(cols, 0);
    for (const std::uint32_t c : par.odd)
        ++weight[c];
    std::vector<std::uint8_t> live(relations.size(), 1);
    for (bool changed = true; changed;) {
        changed = false;
        for (std::size_t r = 0; r < relations.size(); ++r) {
            if (!live[r]) continue;
            const auto* first = par.odd.data() + par.start[r];
            const auto* last = par.odd.data() + par.start[r + 1];
            if (std::none_of(first, last, [&](std::uint32_t c) { return weight[c] == 1; }))
                continue;
            live[r] = 0;
            changed = true;
            for (const auto* c = first; c != last; ++c)
                --weight[*c];
        }
    }
    std::vector<std::uint32_t> kept;
    for (std::size_t r = 0; r < relations.size(); ++r)
        if (live[r]) kept.push_back(static_cast<std::uint32_t>(r));
    // The live columns by increasing weight: order[i] is the column placed at position i.
    std::vector<std::uint32_t> order;
    for (std::size_t c = 0; c < cols; ++c)
        if (weight[c] != 0) order.push_back(static_cast<std::uint32_t>(c));
    std::stable_sort(order.begin(), order.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return weight[a] < weight[b]; });
    std::vector<std::uint32_t> position(cols, 0);
    for (std::size_t i = 0; i < order.size(); ++i)
        position[order[i]] = static_cast<std::uint32_t>(i);

    const std::size_t live_cols = order.size();
    const std::size_t rows = kept.size();
    const std::size_t w1 = (live_cols + 63) / 64;
    const std::size_t width = w1 + (rows + 63) / 64;
    std::vector<std::uint64_t> m(rows * width, 0);
    for (std::size_t k = 0; k < rows; ++k) {
        std::uint64_t* row = &m[k * width];
        const std::uint32_t r = kept[k];
        for (std::uint32_t e = par.start[r]; e < par.start[r + 1]; ++e) {
            const std::uint32_t pos = position[par.odd[e]];
            row[pos / 64] |= std::uint64_t(1) << (pos % 64);
        }
        row[w1 + k / 64] |= std::uint64_t(1) << (k % 64);
    }
    // Rows at or below `rank` are zero in every column before `col`, so a row operation only
    // needs the words from col / 64 on.
    std::size_t rank = 0;
    for (std::size_t col = 0; col < live_cols && rank < rows; ++col) {
        const std::size_t word = col / 64;
        const std::uint64_t bit = std::uint64_t(1) << (col % 64);
        std::size_t pivot = rank;
        while (pivot < rows && (m[pivot * width + word] & bit) == 0)
            ++pivot;
        if (pivot == rows) continue;
        std::uint64_t* prow = &m[rank * width];
        if (pivot != rank)
            std::swap_ranges(prow + word, prow + width, &m[pivot * width + word]);
        for (std::size_t r = pivot + 1; r < rows; ++r) { // rows in (rank, pivot] lack the bit
            std::uint64_t* row = &m[r * width];
            if ((row[word] & bit) == 0) continue;
            for (std::size_t w = word; w < width; ++w)
                row[w] ^= prow[w];
        }
        ++rank;
    }
    std::vector<std::uint32_t> exponents(cols);
    for (std::size_t r = rank; r < rows; ++r) {
        if (const u128 g =
                try_dependency(n, primes, relations, kept, &m[r * width + w1], exponents))
            return g;
    }
    return 0;
}

} // namespace zlb::detail
