// Pollard's rho with Brent's cycle finding, in Montgomery arithmetic.
//
// The map x -> x^2 + c mod n, reduced mod an unknown prime p | n, enters a cycle after about
// sqrt(p) steps; Brent's variant compares y against a saved x that moves at powers of two, and
// instead of one gcd per step it multiplies |x - y| into a running product and takes the gcd
// once per batch. If a batch overshoots (gcd == n), it is replayed one step at a time from its
// start. Working in Montgomery form only relabels the map (c stands for c/R), which does not
// matter for a pseudo-random walk, and gcd(x*R, n) == gcd(x, n).
#include "factor/factor_detail.hpp"
#include "factor/montgomery.hpp"

#include <algorithm>
#include <cstdint>

namespace zlb::detail {
namespace {

// The budget is charged per batch of steps (a step is one or two multiplications), never per
// step.
template <class M>
typename M::T rho_brent(const M& m, typename M::T c, std::uint64_t max_iterations,
                        Budget& budget) {
    using T = typename M::T;
    const T n = m.modulus();
    constexpr std::uint64_t kBatch = 128;
    constexpr std::uint64_t kSkipChunk = 4096; // steps of the gcd-free walk between charges
    auto f = [&](T v) { return m.add(m.sqr(v), c); };

    T y = m.add(m.one(), m.one()); // any fixed start works
    T x = y, saved = y, product = m.one(), g = 1;
    std::uint64_t steps = 0;
    for (std::uint64_t r = 1; g == 1; r *= 2) {
        x = y;
        for (std::uint64_t done = 0; done < r;) {
            const std::uint64_t chunk = std::min(kSkipChunk, r - done);
            for (std::uint64_t i = 0; i < chunk; ++i)
                y = f(y);
            done += chunk;
            budget.charge(chunk);
        }
        steps += r;
        for (std::uint64_t k = 0; k < r && g == 1; k += kBatch) {
            saved = y;
            const std::uint64_t batch = std::min(kBatch, r - k);
            for (std::uint64_t i = 0; i < batch; ++i) {
                y = f(y);
                product = m.mul(product, m.sub(x, y));
            }
            g = binary_gcd<T>(product, n);
            steps += batch;
            budget.charge(2 * batch);
        }
        if (g == 1 && steps >= max_iterations) return 0;
    }
    if (g == n) {
        // The batch collapsed to 0 mod n; replay it to find the first step with a factor.
        do {
            saved = f(saved);
            g = binary_gcd<T>(m.sub(x, saved), n);
        } while (g == 1);
    }
    return g;
}

} // namespace

std::uint64_t rho64(std::uint64_t n, std::uint64_t c, std::uint64_t max_iterations,
                    Budget& budget) {
    const Mont64 m(n);
    return rho_brent(m, c % n, max_iterations, budget);
}

u128 rho128(u128 n, u128 c, std::uint64_t max_iterations, Budget& budget) {
    const Mont128 m(n);
    return rho_brent(m, c % n, max_iterations, budget);
}

} // namespace zlb::detail
