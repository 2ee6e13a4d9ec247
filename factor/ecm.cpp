// Lenstra's elliptic curve method: drivers, bounds and the precomputed 64-bit plans.
//
// A curve E mod n hides E mod q for every prime q | n. Stage 1 computes k*P with k the product
// of all prime powers up to B1; if #E(F_q) is B1-smooth, k*P is the point at infinity mod q
// and q divides its Z coordinate. Stage 2 (see ecm_stage2.hpp) also catches orders with one
// extra prime in (B1, B2]. Each curve is a fresh, independent chance, so a failure just means
// trying the next Suyama sigma; bounds grow when many curves have failed, which covers larger
// factors than expected.
//
// Below 2^64 everything about a curve except its sigma is fixed by the plan for the size of n,
// so the stage-1 multiplier and the stage-2 prime masks are compile-time tables. Above 2^64
// the bounds grow without limit, so primes are enumerated at run time by a segmented sieve.
//
// The Budget is charged with estimates in multiplications: a ladder step costs about 11 (per
// lane), a giant step about 10 and each stage-2 prime one. 64-bit curves are charged whole;
// run-time curves per stage-1 chunk and per stage-2 prime, so that even the huge bounds past
// the table are cancelled promptly.
#include "factor/ecm_curve.hpp"
#include "factor/ecm_stage2.hpp"
#include "factor/factor_detail.hpp"
#include "factor/montgomery.hpp"
#include "factor/primes.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <limits>
#include <type_traits>

namespace zlb::detail {
namespace {

constexpr unsigned kSmallD = 210;        // 24 babies: right for B2 up to a few 10^4
constexpr unsigned kLargeD = 2310;       // 240 babies: for B2 in the millions
constexpr std::uint32_t kFirstSigma = 6; // 0, 1, 3, 5 are degenerate
// Two interleaved curves measured about 20% faster per curve than one; more lanes spill
// registers.
constexpr unsigned kLanes64 = 2;
// 128-bit products leave more room for overlap: four curves at once measured best.
constexpr unsigned kLanes128 = 4;
constexpr std::uint64_t kMaxBound = std::numeric_limits<std::uint32_t>::max() - kLargeD;

// Stage-1 multiplier: every p^e <= b1, plus each prime up to D/2 once so that stage 2 can start
// at its first giant step i >= 1.
constexpr std::uint64_t prime_power_at_most(std::uint64_t p, std::uint64_t b1) {
    std::uint64_t q = p;
    while (q <= b1 / p)
        q *= p;
    return q;
}

// ---- compile-time plans for n < 2^64 ----

// Stage 1 must cover the primes up to D/2, so small plans use a small D: with D = 210 a plan
// with B1 = 47 would spend twice its stage-1 budget on primes up to 105.
template <unsigned B1, unsigned B2, unsigned D> struct Plan64Data {
    using Babies = BabySteps<D>;
    static constexpr std::uint64_t lo = std::max(B1, D / 2) + 1;
    static constexpr std::uint64_t first_giant = Babies::giant_of(lo);
    static constexpr unsigned giants = Babies::giant_of(B2) - first_giant + 1;
    static constexpr unsigned words = (B1 + D) * 3 / 2 / 64 + 2;

    std::array<std::uint64_t, words> k{};
    int bits = 0;
    std::array<typename Babies::Mask, giants> masks{};
};

template <unsigned B1, unsigned B2, unsigned D> constexpr Plan64Data<B1, B2, D> make_plan64() {
    using P = Plan64Data<B1, B2, D>;
    P plan;
    plan.k[0] = 1;
    for (std::uint32_t p : kPrimes16) {
        if (p > B2) break;
        if (p < P::lo) {
            const std::uint64_t q = p <= B1 ? prime_power_at_most(p, B1) : p;
            u128 carry = 0;
            for (auto& w : plan.k) {
                const u128 t = u128(w) * q + carry;
                w = static_cast<std::uint64_t>(t);
                carry = t >> 64;
            }
        } else {
            P::Babies::mark(plan.masks[P::Babies::giant_of(p) - P::first_giant], p,
                            P::Babies::giant_of(p));
        }
    }
    for (int i = P::words - 1; i >= 0; --i) {
        if (plan.k[i] != 0) {
            plan.bits = 64 * i + std::bit_width(plan.k[i]);
            break;
        }
    }
    return plan;
}

template <unsigned B1, unsigned B2, unsigned D>
inline constexpr auto kPlan64 = make_plan64<B1, B2, D>();

// Every plan's D has at most 64 babies, so all masks are one word.
using Mask64 = std::array<std::uint64_t, 1>;

struct Plan64View {
    std::uint32_t b1, b2, d;
    const std::uint64_t* k;
    int bits;
    std::uint64_t first_giant;
    unsigned giants;
    const Mask64* masks;
    unsigned curves; // curves at this plan before moving on to the next one
};

template <unsigned B1, unsigned B2, unsigned D> constexpr Plan64View view64(unsigned curves) {
    static_assert(std::is_same_v<typename BabySteps<D>::Mask, Mask64>);
    const auto& p = kPlan64<B1, B2, D>;
    return {B1, B2, D, p.k.data(), p.bits, p.first_giant, p.giants, p.masks.data(), curves};
}

// B1 grows with n because the smallest factor can be as large as sqrt(n); B2 = 25 * B1 keeps
// stage 2 at about half the cost of stage 1, which measured best. The curve counts are far above
// the expected ones (about 6 for a 64-bit semiprime at B1 = 205) so that moving on to the next
// plan is rare.
constexpr Plan64View kPlans64[] = {
    view64<27, 400, 42>(16),    view64<35, 875, 42>(16),      view64<70, 1750, 90>(16),
    view64<85, 2125, 90>(24),   view64<125, 3125, 210>(32),   view64<165, 4125, 210>(40),
    view64<205, 5125, 210>(48), view64<400, 10000, 210>(100), view64<1000, 25000, 210>(200),
};
constexpr unsigned kPlanCount64 = sizeof(kPlans64) / sizeof(kPlans64[0]);

unsigned first_plan64(int bits) {
    constexpr int kMaxBits[] = {38, 42, 46, 50, 54, 58}; // measured crossovers
    unsigned plan = 0;
    while (plan < std::size(kMaxBits) && bits > kMaxBits[plan])
        ++plan;
    return plan;
}

// First proper factor among gcd(v[k], n), or 1. One gcd of the product usually settles all
// lanes at once; sets all_found when some lane's gcd was n itself.
template <class M, unsigned K>
typename M::T lanes_factor(const M& m, const std::array<typename M::T, K>& v, bool& all_found) {
    using T = typename M::T;
    const T n = m.modulus();
    T product = v[0];
    for (unsigned k = 1; k < K; ++k)
        product = m.mul(product, v[k]);
    if (binary_gcd<T>(product, n) == 1) return 1;
    for (unsigned k = 0; k < K; ++k) {
        const T g = binary_gcd<T>(v[k], n);
        if (g == n)
            all_found = true;
        else if (g != 1)
            return g;
    }
    return 1;
}

template <class M, unsigned D>
typename M::T plan_stage2(const Curve<M>& curve, const XZ<typename M::T>& q,
                          const Plan64View& plan) {
    Stage2<M, D> s2(curve, q, plan.first_giant);
    for (unsigned i = 0; i < plan.giants; ++i) {
        if (i != 0) s2.next_giant();
        s2.accumulate(plan.masks[i]);
    }
    return s2.product();
}

// Runs K curves of the plan side by side (see MontLanes) with consecutive sigmas. Returns a
// proper factor if a curve found one, otherwise n if some curve found all factors at once,
// otherwise 1.
template <unsigned K>
std::uint64_t run_plan64(const Mont64& m, std::uint32_t& sigma, const Plan64View& plan,
                         Budget& budget) {
    budget.charge(K * (11 * std::uint64_t(plan.bits) + 16 * std::uint64_t(plan.giants) + 600));
    using Lanes = MontLanes<Mont64, K>;
    typename Lanes::T x1, a24;
    bool ok = false, all_found = false;
    const std::uint64_t g0 = suyama_curves<Mont64, K>(m, sigma, x1, a24, ok);
    if (!ok) return g0;
    const Curve<Lanes> curve{Lanes(m), a24};
    const auto q = curve.ladder_affine(x1, plan.k, plan.bits);
    if (const std::uint64_t g = lanes_factor<Mont64, K>(m, q.z, all_found); g != 1) return g;
    // A lane that found everything in stage 1 has Z = 0 and adds nothing in stage 2.
    const auto acc = plan.d == 42   ? plan_stage2<Lanes, 42>(curve, q, plan)
                     : plan.d == 90 ? plan_stage2<Lanes, 90>(curve, q, plan)
                                    : plan_stage2<Lanes, 210>(curve, q, plan);
    if (const std::uint64_t g = lanes_factor<Mont64, K>(m, acc, all_found); g != 1) return g;
    return all_found ? m.modulus() : 1;
}

// ---- run-time bounds, any width ----

template <class L, unsigned D>
typename L::T stage2_runtime(const Curve<L>& curve, const XZ<typename L::T>& q, std::uint64_t b1,
                             std::uint64_t b2, Budget& budget) {
    constexpr std::uint64_t lanes = std::tuple_size_v<typename L::T>;
    using Babies = BabySteps<D>;
    const std::uint64_t lo = std::max<std::uint64_t>(b1, D / 2) + 1;
    Stage2Affine<L, D> s2(curve, q, Babies::giant_of(lo));
    typename Babies::Mask mask{};
    std::uint64_t giant = s2.next_index();
    for_each_prime(lo, b2 + 1, [&](std::uint64_t p) {
        const std::uint64_t i = Babies::giant_of(p);
        for (; giant < i; ++giant) {
            s2.push(mask);
            mask = {};
            budget.charge(10 * lanes);
        }
        Babies::mark(mask, p, i);
        budget.charge(lanes);
        return true;
    });
    s2.push(mask);
    return s2.product();
}

// K curves with consecutive sigmas, interleaved as in run_plan64; sharing one pass over the
// primes also spreads the cost of sieving them. Returns a proper factor if a curve found one,
// otherwise n if some curve found all factors at once, otherwise 1.
template <class M, unsigned K>
typename M::T run_curves(const M& m, std::uint32_t& sigma, std::uint64_t b1, std::uint64_t b2,
                         Budget& budget) {
    using T = typename M::T;
    using Lanes = MontLanes<M, K>;
    typename Lanes::T x1, a24;
    bool ok = false, all_found = false;
    budget.charge(K * 600); // the curves' set-up, mostly one inversion
    const T g0 = suyama_curves<M, K>(m, sigma, x1, a24, ok);
    if (!ok) return g0;
    const Curve<Lanes> curve{Lanes(m), a24};
    b1 = std::min(b1, kMaxBound);
    b2 = std::clamp(b2, b1, kMaxBound);
    const unsigned half_d = b2 - b1 > 100 * kLargeD ? kLargeD / 2 : kSmallD / 2;

    // Stage 1 packs prime powers into 64-bit chunks and runs one ladder per chunk.
    XZ<typename Lanes::T> q{x1, Lanes::broadcast(m.one())};
    std::uint64_t chunk = 1;
    for_each_prime(2, std::max<std::uint64_t>(b1, half_d) + 1, [&](std::uint64_t p) {
        const std::uint64_t pe = p <= b1 ? prime_power_at_most(p, b1) : p;
        if (chunk > std::numeric_limits<std::uint64_t>::max() / pe) {
            q = curve.ladder(q, chunk)[0];
            budget.charge(11 * K * std::uint64_t(std::bit_width(chunk)));
            chunk = 1;
        }
        chunk *= pe;
        return true;
    });
    q = curve.ladder(q, chunk)[0];

    if (const T g = lanes_factor<M, K>(m, q.z, all_found); g != 1) return g;
    if (b2 > b1) {
        budget.charge(K * 8 * half_d); // the baby steps
        const auto acc = half_d == kLargeD / 2
                             ? stage2_runtime<Lanes, kLargeD>(curve, q, b1, b2, budget)
                             : stage2_runtime<Lanes, kSmallD>(curve, q, b1, b2, budget);
        if (const T g = lanes_factor<M, K>(m, acc, all_found); g != 1) return g;
    }
    return all_found ? m.modulus() : 1;
}

struct Level {
    std::uint64_t b1, b2;
    unsigned curves;
};

// Roughly the classic ECM table (15 digits at B1 = 2000, 20 digits at 11000, ...). The small
// levels exist to find factors far below sqrt(n) cheaply. Near 2^128 every curve spent there
// is mostly wasted on the hardest inputs, two primes near 2^64, so they get few curves; below
// 2^100 the factor is at most 50 bits and more small curves measured 30-40% faster.
constexpr Level kLevels128[] = {
    {200, 10000, 4},       {600, 30000, 8},       {2000, 100000, 16},
    {11000, 1100000, 100}, {25000, 2500000, 200}, {50000, 5000000, 400},
};
constexpr Level kLevels100[] = {
    {200, 10000, 8},       {600, 30000, 16},      {2000, 100000, 32},
    {11000, 1100000, 100}, {25000, 2500000, 200}, {50000, 5000000, 400},
};
static_assert(std::size(kLevels128) == std::size(kLevels100));

} // namespace

std::uint64_t ecm64_curve(std::uint64_t n, std::uint32_t sigma, std::uint32_t b1,
                          std::uint32_t b2) {
    const Mont64 m(n);
    Unlimited budget;
    return run_curves<Mont64, 1>(m, sigma, b1, b2, budget);
}

u128 ecm128_curve(u128 n, std::uint32_t sigma, std::uint32_t b1, std::uint32_t b2) {
    const Mont128 m(n);
    Unlimited budget;
    return run_curves<Mont128, 1>(m, sigma, b1, b2, budget);
}

// A curve that finds every prime factor at once (gcd = n) is wasted. That is rare for two large
// factors but becomes the rule when n has several primes that are tiny compared with the
// bounds, and then growing the bounds only makes it worse. Those primes are exactly what rho
// finds fast, one at a time, so after a couple of such curves it gets a turn.
constexpr unsigned kAllFoundBeforeRho = 2;
constexpr std::uint64_t kRhoBudget = 1 << 16;

std::uint64_t ecm64(std::uint64_t n, Budget& budget) {
    const Mont64 m(n);
    std::uint32_t sigma = kFirstSigma;
    std::uint64_t rho_c = 1;
    unsigned all_found = 0;
    for (unsigned p = first_plan64(std::bit_width(n)); p < kPlanCount64; ++p) {
        for (unsigned c = 0; c < kPlans64[p].curves; c += kLanes64) {
            const std::uint64_t g = run_plan64<kLanes64>(m, sigma, kPlans64[p], budget);
            if (g == n && ++all_found % kAllFoundBeforeRho == 0) {
                const std::uint64_t r = rho64(n, rho_c++, kRhoBudget, budget);
                if (r != 0 && r != n) return r;
            } else if (g != 1 && g != n) {
                return g;
            }
        }
    }
    // Hundreds of failed curves mean something unusual (or astronomically bad luck); rho always
    // splits a 64-bit composite eventually, and a new c is a fresh attempt.
    for (;; ++rho_c) {
        const std::uint64_t g =
            rho64(n, rho_c, std::numeric_limits<std::uint64_t>::max(), budget);
        if (g != 1 && g != n) return g;
    }
}

u128 ecm128(u128 n, Budget& budget) {
    const Mont128 m(n);
    std::uint32_t sigma = kFirstSigma;
    std::uint64_t rho_c = 1;
    unsigned all_found = 0;
    const Level* table = bit_width128(n) <= 100 ? kLevels100 : kLevels128;
    Level level = table[0];
    for (unsigned li = 0;; ++li) {
        if (li < std::size(kLevels128)) {
            level = table[li];
        } else {
            // Beyond the table: keep growing; once the bounds hit the sieve's 2^32 limit only
            // sigma changes, which still gives independent chances.
            level.b1 = std::min(level.b1 * 2, kMaxBound / 100);
            level.b2 = level.b1 * 100;
        }
        for (unsigned c = 0; c < level.curves; c += kLanes128) {
            // Wrapping around only repeats curves after 2^32 of them; harmless.
            if (sigma > std::numeric_limits<std::uint32_t>::max() - 64) sigma = kFirstSigma;
            const u128 g =
                run_curves<Mont128, kLanes128>(m, sigma, level.b1, level.b2, budget);
            if (g == n && ++all_found % kAllFoundBeforeRho == 0) {
                const u128 r = rho128(n, rho_c++, kRhoBudget, budget);
                if (r != 0 && r != n) return r;
            } else if (g != 1 && g != n) {
                return g;
            }
        }
    }
}

} // namespace zlb::detail
