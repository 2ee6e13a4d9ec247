#pragma once
// SIQS relations (siqs.cpp finds them, siqs_matrix.cpp combines them), stored flat: one pool of
// factor-base indices for all rows, so that keeping a relation costs no allocation of its own.
#include "factor/u128.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace zlb::detail {

// Row r says (A x + B)^2 == large^2 * product of its factors (mod n): `y` is A x + B mod n (the
// product of two such values for a combined pair of partial relations), `large` the shared
// large prime of such a pair (1 for a full relation), and its factors the factor-base indices
// factors[start[r], start[r + 1]) with multiplicity (index 0 stands for -1).
struct SiqsRelations {
    std::vector<u128> y;
    std::vector<std::uint64_t> large;
    std::vector<std::uint32_t> start{0};
    std::vector<std::uint32_t> factors;

    std::size_t size() const { return y.size(); }
    const std::uint32_t* begin(std::size_t r) const { return factors.data() + start[r]; }
    const std::uint32_t* end(std::size_t r) const { return factors.data() + start[r + 1]; }

    // A row whose factors are the two ranges [a, a_end) and [b, b_end) (b may be empty). The
    // ranges may not lie in this object's own pool.
    void add(u128 row_y, std::uint64_t row_large, const std::uint32_t* a,
             const std::uint32_t* a_end, const std::uint32_t* b = nullptr,
             const std::uint32_t* b_end = nullptr) {
        y.push_back(row_y);
        large.push_back(row_large);
        factors.insert(factors.end(), a, a_end);
        if (b != b_end) factors.insert(factors.end(), b, b_end);
        start.push_back(static_cast<std::uint32_t>(factors.size()));
    }
};

// Partial relations by their large prime: an open-addressing hash table from the prime (never
// 0) to its row in a pool of partials, kept at most half full.
class PartialIndex {
public:
    // The row stored under `prime`, or `row` after storing it there when there was none.
    std::uint32_t find_or_insert(std::uint64_t prime, std::uint32_t row) {
        if (2 * (count_ + 1) > keys_.size()) grow();
        const std::size_t i = probe(prime);
        if (keys_[i] == prime) return rows_[i];
        keys_[i] = prime;
        rows_[i] = row;
        ++count_;
        return row;
    }

private:
    // The slot holding prime, or the empty one where it goes (linear probing).
    std::size_t probe(std::uint64_t prime) const {
        const std::size_t mask = keys_.size() - 1;
        std::size_t i = static_cast<std::size_t>((prime * 0x9e3779b97f4a7c15ull) >> 32) & mask;
        while (keys_[i] != 0 && keys_[i] != prime)
            i = (i + 1) & mask;
        return i;
    }
    void grow() {
        std::vector<std::uint64_t> keys(keys_.empty() ? 1024 : 2 * keys_.size(), 0);
        std::vector<std::uint32_t> rows(keys.size());
        keys.swap(keys_);
        rows.swap(rows_);
        for (std::size_t j = 0; j < keys.size(); ++j) {
            if (keys[j] == 0) continue;
            const std::size_t i = probe(keys[j]); // empty: the keys are distinct
            keys_[i] = keys[j];
            rows_[i] = rows[j];
        }
    }

    std::vector<std::uint64_t> keys_;
    std::vector<std::uint32_t> rows_;
    std::size_t count_ = 0;
};

// Gaussian elimination over GF(2) on the relations' exponent vectors, then the square root of
// each dependency found: returns a proper factor of n, or 0 when every dependency gave a
// trivial one. primes[i] is the factor-base prime of index i (primes[0], for -1, is unused).
u128 siqs_combine(u128 n, const std::vector<std::uint32_t>& primes,
                  const SiqsRelations& relations);

} // namespace zlb::detail
