// SIQS parameters by size and the Knuth-Schroeppel multiplier.
#include "factor/siqs_params.hpp"

#include "factor/primes.hpp"
#include "factor/siqs_math.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

namespace zlb::detail {
namespace {

using namespace siqs_math;
using Params = SiqsParams;

// Chosen by callgrind instruction counts per number on balanced semiprimes (the machine's wall
// clock is too noisy); blocks below 1 sieve a fraction of one block.
constexpr std::array kParams = {
    Params{40, 50, 0.125, 20, 3},    Params{64, 60, 0.125, 20, 3},
    Params{72, 80, 0.125, 30, 3},    Params{80, 140, 0.125, 40, 4.5},
    Params{96, 250, 0.25, 50, 6},    Params{112, 320, 0.25, 60, 7.5},
    Params{128, 580, 0.5, 120, 10.5}, Params{136, 660, 0.5, 120, 10.5},
};

} // namespace

SiqsParams siqs_params(double bits) {
    if (bits <= kParams.front().bits) return kParams.front();
    for (std::size_t i = 1; i < kParams.size(); ++i) {
        const Params& a = kParams[i - 1];
        const Params& b = kParams[i];
        if (bits > b.bits) continue;
        const double f = (bits - a.bits) / (b.bits - a.bits);
        auto mix = [f](double x, double y) { return x + f * (y - x); };
        const double blocks = mix(a.blocks, b.blocks);
        return {bits, mix(a.fb_size, b.fb_size), blocks >= 1 ? std::round(blocks) : blocks,
                mix(a.lp_mult, b.lp_mult), mix(a.thresh_adj, b.thresh_adj)};
    }
    return kParams.back();
}

namespace {

constexpr std::array<std::uint32_t, 38> kMultipliers = {
    1,  2,  3,  5,  6,  7,  10, 11, 13, 14, 15, 17, 19, 21, 22, 23, 26, 29, 30,
    31, 33, 34, 35, 37, 38, 39, 41, 42, 43, 46, 47, 51, 53, 55, 57, 58, 59, 61};
constexpr std::uint32_t kScoreLimit = 512; // odd primes below this are scored
constexpr std::size_t kScorePrimes = 96;   // their count

// For each scored prime p: the quadratic residues mod p as a bit set, and (k/p) for every
// multiplier k as 0, 1 or -1. Computed at compile time: at run time each would cost more than
// the rest of the set-up at 72 bits.
struct ScoreTables {
    std::array<std::array<std::uint64_t, kScoreLimit / 64>, kScorePrimes> residue{};
    std::array<std::array<std::int8_t, kMultipliers.size()>, kScorePrimes> chi{};
};

constexpr ScoreTables kScoreTables = [] {
    ScoreTables t;
    for (std::size_t j = 0; j < kScorePrimes; ++j) {
        const std::uint32_t p = kPrimes16[j + 1];
        for (std::uint32_t i = 1; i <= p / 2; ++i) {
            const std::uint32_t r = i * i % p;
            t.residue[j][r / 64] |= std::uint64_t(1) << (r % 64);
        }
        for (std::size_t i = 0; i < kMultipliers.size(); ++i) {
            const std::uint32_t kp = kMultipliers[i] % p;
            t.chi[j][i] = kp == 0 ? 0 : ((t.residue[j][kp / 64] >> (kp % 64)) & 1) ? 1 : -1;
        }
    }
    return t;
}();
static_assert(kPrimes16[kScorePrimes] < kScoreLimit && kPrimes16[kScorePrimes + 1] > kScoreLimit);

} // namespace

// Each odd prime p contributes log(p) / (p - 1) per root of kn mod p (two when (kn/p) = 1,
// one when p divides kn); 2 contributes by kn mod 8.
std::uint32_t siqs_multiplier(u128 n) {
    std::array<double, kMultipliers.size()> score{};
    const auto n8 = static_cast<std::uint32_t>(n & 7);
    for (std::size_t i = 0; i < kMultipliers.size(); ++i) {
        const std::uint32_t k = kMultipliers[i];
        score[i] = -0.5 * std::log(double(k));
        switch (k * n8 % 8) {
        case 1: score[i] += 2 * std::log(2.0); break;
        case 5: score[i] += std::log(2.0); break;
        case 3:
        case 7: score[i] += 0.5 * std::log(2.0); break;
        default: break; // k even: 2 divides kn once
        }
    }
    static const std::array<double, kScorePrimes> kContrib = [] {
        std::array<double, kScorePrimes> c{};
        for (std::size_t j = 0; j < kScorePrimes; ++j)
            c[j] = std::log(double(kPrimes16[j + 1])) / (kPrimes16[j + 1] - 1);
        return c;
    }();
    for (std::size_t j = 0; j < kScorePrimes; ++j) {
        const std::uint32_t p = kPrimes16[j + 1];
        const double contrib = kContrib[j];
        const std::uint32_t np = mod_small(n, p);
        const int chi_n = np == 0 ? 0 : ((kScoreTables.residue[j][np / 64] >> (np % 64)) & 1) ? 1 : -1;
        for (std::size_t i = 0; i < kMultipliers.size(); ++i) {
            const int chi = kScoreTables.chi[j][i] * chi_n;
            score[i] += chi == 0 ? contrib : chi > 0 ? 2 * contrib : 0.0;
        }
    }
    return kMultipliers[std::max_element(score.begin(), score.end()) - score.begin()];
}

} // namespace zlb::detail
