// The self-initialising quadratic sieve (SIQS) for composites up to 2^128.
//
// Set-up: the Knuth-Schroeppel multiplier k makes k*n a residue modulo many small primes; the
// factor base is -1, 2 and the odd primes p with (kn/p) != -1, each with a square root t of kn.
//
// Polynomials: A = q_1 ... q_s (factor-base primes chosen so that A ~ sqrt(2kn)/M) and
// B = sum of +-B_l with B_l^2 == kn (mod q_l), B_l == 0 (mod q_j, j != l), so that
// (A x + B)^2 - kn = A g(x) with g(x) = A x^2 + 2 B x + C small (about M sqrt(kn/2)) on
// [-M, M). One A gives 2^(s-1) polynomials; stepping through them in Gray-code order changes
// one sign at a time, so each root moves by one precomputed 2 B_l / A mod p: an addition.
//
// Sieve: the interval is cut into 32 KiB blocks (L1-sized); each prime adds its rounded log2 at
// its two roots' progressions. Primes of len / 8 and more (len: the block) hit each root a
// known number of times for certain and a few more at most, so they are sieved without
// branches, masked stores standing in for the misses: a data-dependent loop exit costs a
// misprediction per prime, more than its few stores. The scan for candidates (64 bytes at a
// time, SSE2) also resets the block to its start value. Primes below kSmallPrime are not
// sieved (their hits cost most and say least); the threshold allows for them and for one
// large prime. A candidate is trial-divided by the primes whose roots it lies on: all roots
// are 16-bit, and siqs_kernels.cpp finds the matches 16 primes at a time (AVX2 when the
// processor has it) by a multiply-high remainder, then divides by multiplying with the
// inverse. A cofactor below the large-prime bound is a prime: two partial relations with the
// same one make a full relation (single large-prime variation). Relations live in flat pools
// (siqs_relations.hpp), partials in an open-addressing table by their large prime.
//
// Sieving stops when the relations outnumber the factor-base columns that occur in them (an
// upper bound on the rank) by kExtraRelations; siqs_combine (siqs_matrix.cpp) then removes
// singletons, finds the dependencies and takes square roots. Everything is deterministic for
// a given n.
#include "factor/siqs.hpp"

#include "factor/factor_detail.hpp"
#include "factor/montgomery.hpp"
#include "factor/primes.hpp"
#include "factor/siqs_kernels.hpp"
#include "factor/siqs_math.hpp"
#include "factor/siqs_params.hpp"
#include "factor/siqs_relations.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <unordered_set>
#include <vector>

namespace zlb::detail {
namespace {

using namespace siqs_math;

constexpr std::uint32_t kBlock = 32768; // bytes of sieve: the L1 data cache
constexpr std::uint32_t kSmallPrime = 60;
// Relations beyond the columns that occur: at least this many dependencies, each of which
// splits n with probability 1/2 or more, so all failing is a 2^-8 event at most, and costs
// only sieving on for this many more (the last relations come fastest) and a second matrix.
constexpr std::size_t kExtraRelations = 8;

// v /= p if p divides v, by multiplication with p's inverse (TrialPrime, primes.hpp): a
// division costs several multiplications, and a 128-bit one is a library call. 64-bit
// arithmetic once v fits.
inline bool divide_exactly(u128& v, const TrialPrime& t) {
    if ((v >> 64) == 0) {
        const std::uint64_t q = static_cast<std::uint64_t>(v) * t.inv64;
        if (q > t.lim64) return false;
        v = q;
        return true;
    }
    const u128 q = v * t.inv128;
    if (q > t.lim128) return false;
    v = q;
    return true;
}

class Siqs {
public:
    Siqs(u128 n, Budget& budget) : n_(n), budget_(budget), mont_(n) {}
    u128 run();

private:
    u128 build_factor_base();
    bool choose_a();
    void first_polynomial();
    void next_polynomial(unsigned i);
    void sieve_polynomial();
    void check_candidate(std::uint32_t idx);
    void add_relation(u128 y, std::uint64_t large);

    u128 n_;
    Budget& budget_;
    Mont128 mont_;
    SiqsParams params_{};
    std::uint32_t k_ = 1;
    Wide kn_;
    std::uint32_t m_ = 0; // half the interval: x in [-m_, m_)
    std::uint32_t blocks_ = 1;
    std::uint32_t block_len_ = kBlock; // bytes sieved at a time
    std::uint8_t init_ = 0; // start value of a sieve byte: bit 7 set means a candidate
    std::uint64_t lp_bound_ = 0;
    std::uint32_t first_sieved_ = 2;
    // The first sieved primes from len / 4, len / 2 and len on (sieve_polynomial's classes).
    std::array<std::uint32_t, 4> class_{};

    // The factor base, index 0 for -1 and 1 for 2. The 16-bit arrays are padded to
    // siqs_kernels::padded(size) entries (stride_), with roots that never match at 0, 1 and
    // the padding.
    std::vector<std::uint32_t> prime_, sqrt_, mid_, pos1_, pos2_; // mid_: m_ mod p
    std::vector<Mod16> mod_;
    std::vector<TrialPrime> exact_; // divisibility tests, for the candidates' trial division
    std::vector<std::uint16_t> prime16_, magic16_, root1_, root2_;
    std::vector<std::uint8_t> logp_, sieve_log_; // sieve_log_: 0 for A's primes
    std::size_t stride_ = 0;
    std::vector<std::uint32_t> masks_; // root matches of a candidate, a bit per prime

    // The current A and B.
    unsigned s_ = 0;
    std::array<std::uint32_t, 16> a_idx_{};
    std::array<std::uint64_t, 16> bl_{};
    std::array<int, 16> sign_{};
    std::vector<std::uint16_t> bainv_; // s_ rows of 2 B_l / A mod p, stride_ apart
    std::uint64_t a_ = 0;
    __int128 b_ = 0, c_ = 0;
    long double a_target_ = 0;
    std::unordered_set<std::uint64_t> used_a_;
    std::uint64_t rng_ = 0x9e3779b97f4a7c15ull;

    std::vector<std::uint8_t> sieve_ = std::vector<std::uint8_t>(kBlock);
    SiqsRelations relations_, partials_;
    PartialIndex partial_index_;
    std::vector<std::uint32_t> scratch_; // the factors of the candidate in hand
    // Columns that occur in some relation: the rank is at most their count, so this many
    // relations and kExtraRelations more have at least that many dependencies.
    std::vector<std::uint8_t> seen_;
    std::size_t seen_count_ = 0;
};

u128 Siqs::build_factor_base() {
    const double bits = std::log2(static_cast<double>(n_));
    params_ = siqs_params(bits);
    k_ = siqs_multiplier(n_);
    kn_ = mul_small(n_, k_);
    const auto fb_size = static_cast<std::size_t>(params_.fb_size);
    prime_ = {1, 2};
    sqrt_ = {0, 1};
    mod_.assign(2, Mod16{});
    // Primes below 2^15, as siqs_kernels::root_matches needs: far more than any size here uses.
    for (std::size_t j = 1; j < kPrimes16Count && kPrimes16[j] < 32768 && prime_.size() < fb_size;
         ++j) {
        const std::uint32_t p = kPrimes16[j];
        const Mod16 mp(p);
        const std::uint32_t np = mod_small(n_, p);
        if (np == 0) return p; // n has no factor below 1024, so p is proper
        const std::uint32_t root = mp.sqrt(mp.mul(np, mp.reduce(k_)));
        if (root == ~std::uint32_t(0)) continue; // kn is a non-residue
        prime_.push_back(p);
        sqrt_.push_back(root);
        mod_.push_back(mp);
    }
    const std::size_t size = prime_.size();
    exact_.assign(size, TrialPrime{});
    for (std::size_t i = 2; i < size; ++i)
        exact_[i] = trial_prime(prime_[i]);
    logp_.resize(size);
    sieve_log_.resize(size);
    stride_ = siqs_kernels::padded(size);
    masks_.assign(stride_ / 32, 0);
    constexpr std::uint16_t kPad = 32749; // any odd p < 2^15: its roots 0xffff never match
    prime16_.assign(stride_, kPad);
    magic16_.assign(stride_, siqs_kernels::mulhi_magic(kPad));
    root1_.assign(stride_, 0xffff);
    root2_.assign(stride_, 0xffff);
    for (std::size_t i = 0; i < size; ++i) {
        logp_[i] = static_cast<std::uint8_t>(std::lround(std::log2(double(prime_[i]))));
        if (i < 2) continue;
        prime16_[i] = static_cast<std::uint16_t>(prime_[i]);
        magic16_[i] = siqs_kernels::mulhi_magic(prime_[i]);
    }
    pos1_.resize(size);
    pos2_.resize(size);
    while (first_sieved_ < size && prime_[first_sieved_] < kSmallPrime)
        ++first_sieved_;

    // Below one block the interval is a fraction of one: a block is the most the cache holds,
    // not the least worth sieving.
    block_len_ = params_.blocks >= 1 ? kBlock
                                     : static_cast<std::uint32_t>(params_.blocks * kBlock) & ~63u;
    blocks_ = std::clamp(static_cast<std::uint32_t>(params_.blocks), 1u, 2u); // idx < 2^16
    m_ = blocks_ * block_len_ / 2;
    for (std::size_t c = 0; c < class_.size(); ++c) {
        const std::uint32_t bound = block_len_ >> (3 - c); // len / 8, len / 4, len / 2, len
        class_[c] = static_cast<std::uint32_t>(
            std::lower_bound(prime_.begin() + first_sieved_, prime_.end(), bound) -
            prime_.begin());
    }
    mid_.assign(size, 0);
    for (std::size_t i = 2; i < size; ++i)
        mid_[i] = m_ % prime_[i];
    const std::uint64_t pmax = prime_.back();
    lp_bound_ = std::min<std::uint64_t>(pmax * pmax - 1,
                                        static_cast<std::uint64_t>(params_.lp_mult * pmax));
    const long double kn = to_long_double(kn_);
    a_target_ = std::sqrt(2 * kn) / m_;
    // log2 |g| is about log2(M sqrt(kn / 2)) over the whole interval.
    const double glog = std::log2(double(m_)) + 0.5 * std::log2(double(kn)) - 0.5;
    const double thresh = glog - std::log2(double(lp_bound_)) - params_.thresh_adj;
    init_ = static_cast<std::uint8_t>(128 - std::clamp(std::lround(thresh), 10l, 120l));
    std::fill(sieve_.begin(), sieve_.end(), init_); // the scan resets each block after use
    return 0;
}

// A: s - 1 random primes from a band around the ideal size, and a last one chosen to bring
// the product closest to the target. A value already used is rejected.
bool Siqs::choose_a() {
    const std::size_t size = prime_.size();
    const double log_target = std::log2(double(a_target_));
    // The largest s whose ideal prime is still well inside the factor base: more primes give
    // more polynomials per A.
    const double top = std::log2(double(prime_[size * 3 / 4]));
    unsigned s = std::max(2u, static_cast<unsigned>(std::ceil(log_target / top)));
    const double ideal = std::exp2(log_target / s);
    std::size_t centre = first_sieved_;
    while (centre + 1 < size && prime_[centre] < ideal)
        ++centre;
    const std::size_t lo = std::max<std::size_t>(first_sieved_, centre > 8 ? centre - 8 : 0);
    const std::size_t hi = std::min(size - 1, std::max(lo + 2 * s + 8, centre + 8));
    auto next_random = [this] {
        rng_ ^= rng_ << 13;
        rng_ ^= rng_ >> 7;
        rng_ ^= rng_ << 17;
        return rng_;
    };
    for (int attempt = 0; attempt < 100; ++attempt) {
        long double a = 1;
        unsigned got = 0;
        while (got + 1 < s) {
            const auto idx = static_cast<std::uint32_t>(lo + next_random() % (hi - lo));
            if (sqrt_[idx] == 0 || std::find(a_idx_.begin(), a_idx_.begin() + got, idx) !=
                                       a_idx_.begin() + got)
                continue;
            a_idx_[got++] = idx;
            a *= prime_[idx];
        }
        // The factor base is sorted: look outwards from where `want` would go.
        const long double want = a_target_ / a;
        const auto at = static_cast<std::size_t>(
            std::lower_bound(prime_.begin() + first_sieved_, prime_.end(), want,
                             [](std::uint32_t p, long double w) { return p < w; }) -
            prime_.begin());
        auto usable = [&](std::size_t idx) {
            return idx >= first_sieved_ && idx < size && sqrt_[idx] != 0 &&
                   std::find(a_idx_.begin(), a_idx_.begin() + got, idx) == a_idx_.begin() + got;
        };
        std::uint32_t best = 0;
        long double best_err = 0;
        for (std::size_t d = 0; d < 2 * s + 4; ++d) {
            for (const std::size_t idx : {at + d, at - d - 1}) {
                if (!usable(idx)) continue; // at - d - 1 wraps to a huge index below 0
                const long double err = std::fabs(std::log(prime_[idx] / want));
                if (best == 0 || err < best_err) {
                    best = static_cast<std::uint32_t>(idx);
                    best_err = err;
                }
            }
        }
        if (best == 0) continue;
        a_idx_[got++] = best;
        std::uint64_t product = 1;
        for (unsigned l = 0; l < got; ++l)
            product *= prime_[a_idx_[l]];
        if (!used_a_.insert(product).second) continue;
        s_ = got;
        a_ = product;
        return true;
    }
    return false;
}

void Siqs::first_polynomial() {
    const std::size_t size = prime_.size();
    b_ = 0;
    for (unsigned l = 0; l < s_; ++l) {
        const std::uint32_t q = prime_[a_idx_[l]];
        const std::uint64_t al = a_ / q;
        const Mod16& mq = mod_[a_idx_[l]];
        std::uint32_t g = mq.mul(sqrt_[a_idx_[l]], invmod(mq.of(al), q));
        if (g > q / 2) g = q - g;
        bl_[l] = al * g;
        sign_[l] = 1;
        b_ += bl_[l];
    }
    bainv_.resize(s_ * stride_);
    for (std::size_t i = 2; i < size; ++i) {
        const Mod16& mp = mod_[i];
        const std::uint32_t p = mp.p;
        const std::uint32_t am = mp.of(a_);
        if (am == 0) { // one of A's primes: not sieved, divided out separately
            root1_[i] = root2_[i] = 0;
            sieve_log_[i] = 0;
            for (unsigned l = 0; l < s_; ++l)
                bainv_[l * stride_ + i] = 0;
            continue;
        }
        sieve_log_[i] = logp_[i];
        const std::uint32_t ainv = invmod(am, p);
        std::uint32_t bm = 0; // B mod p: every sign is + in the first polynomial
        for (unsigned l = 0; l < s_; ++l) {
            const std::uint32_t blp = mp.of(bl_[l]);
            bm += blp;
            const std::uint32_t d = mp.mul(blp, ainv);
            bainv_[l * stride_ + i] = static_cast<std::uint16_t>(d + d >= p ? d + d - p : d + d);
        }
        bm = mp.reduce(bm);
        // x = (+-t - B) / A + M (mod p), the sieve's offset of a root.
        const std::uint32_t t = sqrt_[i];
        auto root = [&](std::uint32_t numerator) {
            const std::uint32_t r = mp.mul(ainv, mp.reduce(numerator)) + mid_[i];
            return static_cast<std::uint16_t>(r >= p ? r - p : r);
        };
        root1_[i] = root(t + p - bm);
        root2_[i] = root(2 * p - t - bm);
    }
    budget_.charge(std::uint64_t(size) * (s_ + 8));
}

// Gray-code step i >= 1: flip the sign of B_v, v = ctz(i); every root moves by +-2 B_v / A.
// A's own primes have delta 0 and roots 0, so they need no test here.
void Siqs::next_polynomial(unsigned i) {
    const unsigned v = static_cast<unsigned>(std::countr_zero(i));
    const std::uint32_t size = static_cast<std::uint32_t>(prime_.size());
    const std::uint16_t* delta = &bainv_[v * stride_];
    const std::uint16_t* prime = prime16_.data();
    std::uint16_t* r1 = root1_.data();
    std::uint16_t* r2 = root2_.data();
    const bool add = sign_[v] > 0;
    b_ += add ? -2 * __int128(bl_[v]) : 2 * __int128(bl_[v]);
    sign_[v] = -sign_[v];
    for (std::uint32_t j = 2; j < size; ++j) { // sums below 2p < 2^16
        const std::uint16_t p = prime[j];
        const auto d = static_cast<std::uint16_t>(add ? delta[j] : p - delta[j]);
        auto a = static_cast<std::uint16_t>(r1[j] + d), b = static_cast<std::uint16_t>(r2[j] + d);
        a = static_cast<std::uint16_t>(a >= p ? a - p : a);
        b = static_cast<std::uint16_t>(b >= p ? b - p : b);
        r1[j] = a;
        r2[j] = b;
    }
}

void Siqs::sieve_polynomial() {
    const u128 b = b_ < 0 ? static_cast<u128>(-b_) : static_cast<u128>(b_);
    c_ = -static_cast<__int128>(sub_div(kn_, b * b, a_));
    const std::uint32_t size = static_cast<std::uint32_t>(prime_.size());
    const std::uint32_t len = block_len_; // locals: byte stores may alias any member
    const std::uint32_t* prime = prime_.data();
    const std::uint8_t* logp = sieve_log_.data();
    std::uint32_t* pos1 = pos1_.data();
    std::uint32_t* pos2 = pos2_.data();
    std::copy(root1_.begin(), root1_.begin() + size, pos1_.begin());
    std::copy(root2_.begin(), root2_.begin() + size, pos2_.begin());
    std::uint8_t* s = sieve_.data();
    for (std::uint32_t block = 0; block < blocks_; ++block) {
        budget_.charge(len / 8 + size);
        // Primes below len / 4 and from len on: a loop over the hits.
        auto sieve_loop = [&](std::uint32_t from, std::uint32_t to) {
            for (std::uint32_t i = from; i < to; ++i) {
                const std::uint32_t p = prime[i];
                const std::uint8_t lg = logp[i];
                std::uint32_t j1 = pos1[i], j2 = pos2[i];
                if (j1 > j2) std::swap(j1, j2);
                while (j2 < len) {
                    s[j1] += lg;
                    s[j2] += lg;
                    j1 += p;
                    j2 += p;
                }
                if (j1 < len) {
                    s[j1] += lg;
                    j1 += p;
                }
                pos1[i] = j1 - len;
                pos2[i] = j2 - len;
            }
        };
        // Primes in [len / K, len) hit each root `sure` times for certain (a position starts
        // below p) and then at most K - sure more. Those are done without branches: a loop
        // exit that depends on the root is mispredicted about once per prime, which costs
        // more than the prime's few stores. A miss adds 0 at the root's first hit.
        auto sieve_few = [&](std::uint32_t from, std::uint32_t to, std::uint32_t sure,
                             std::uint32_t maybe) {
            for (std::uint32_t i = from; i < to; ++i) {
                const std::uint32_t p = prime[i];
                const std::uint8_t lg = logp[i];
                for (std::uint32_t* pos : {pos1 + i, pos2 + i}) {
                    const std::uint32_t first = *pos;
                    std::uint32_t j = first;
                    for (std::uint32_t k = 0; k < sure; ++k, j += p)
                        s[j] += lg;
                    for (std::uint32_t k = 0; k < maybe; ++k) {
                        const bool in = j < len;
                        s[in ? j : first] += in ? lg : 0;
                        j += in ? p : 0;
                    }
                    *pos = j - len;
                }
            }
        };
        sieve_loop(first_sieved_, class_[0]);
        sieve_few(class_[0], class_[1], 4, 4);
        sieve_few(class_[1], class_[2], 2, 2);
        sieve_few(class_[2], class_[3], 1, 1);
        sieve_loop(class_[3], size);
        siqs_kernels::scan_reset(s, len, init_, [&](std::uint32_t j) {
            check_candidate(block * len + j);
        });
    }
}

void Siqs::check_candidate(std::uint32_t idx) {
    const std::int64_t x = std::int64_t(idx) - m_;
    const __int128 g = (__int128(a_) * x + 2 * b_) * x + c_;
    if (g == 0) return;
    std::vector<std::uint32_t>& f = scratch_;
    f.clear();
    if (g < 0) f.push_back(0);
    u128 v = g < 0 ? static_cast<u128>(-g) : static_cast<u128>(g);
    for (int tz = ctz128(v); tz > 0; --tz)
        f.push_back(1);
    v >>= ctz128(v);
    for (unsigned l = 0; l < s_; ++l) {
        f.push_back(a_idx_[l]); // A itself
        while (divide_exactly(v, exact_[a_idx_[l]]))
            f.push_back(a_idx_[l]);
    }
    // The primes whose roots idx lies on (a vector loop, no division for a miss); A's primes
    // have roots 0 and are divided out already, so their matches divide nothing.
    std::uint32_t* masks = masks_.data();
    siqs_kernels::root_match_masks(idx, prime16_.data(), magic16_.data(), root1_.data(),
                                   root2_.data(), stride_, masks);
    for (std::size_t w = 0; w < stride_ / 32; ++w) {
        for (std::uint32_t mask = masks[w]; mask != 0; mask &= mask - 1) {
            const std::size_t j = 32 * w + static_cast<std::size_t>(std::countr_zero(mask));
            while (divide_exactly(v, exact_[j]))
                f.push_back(static_cast<std::uint32_t>(j));
        }
    }
    if (v >= lp_bound_) return;
    const __int128 ax_b = __int128(a_) * x + b_;
    const u128 y_abs = (ax_b < 0 ? static_cast<u128>(-ax_b) : static_cast<u128>(ax_b)) % n_;
    add_relation(ax_b < 0 && y_abs != 0 ? n_ - y_abs : y_abs, static_cast<std::uint64_t>(v));
}

void Siqs::add_relation(u128 y, std::uint64_t large) {
    const std::uint32_t* f = scratch_.data();
    const std::uint32_t* f_end = f + scratch_.size();
    if (large == 1) {
        relations_.add(y, 1, f, f_end);
    } else {
        const auto fresh = static_cast<std::uint32_t>(partials_.size());
        const std::uint32_t row = partial_index_.find_or_insert(large, fresh);
        if (row == fresh) {
            partials_.add(y, large, f, f_end);
            return;
        }
        const u128 y2 = mont_.from(mont_.mul(mont_.to(partials_.y[row]), mont_.to(y)));
        relations_.add(y2, large, partials_.begin(row), partials_.end(row), f, f_end);
    }
    const std::size_t r = relations_.size() - 1;
    for (const std::uint32_t* c = relations_.begin(r); c != relations_.end(r); ++c) {
        seen_count_ += seen_[*c] ^ 1;
        seen_[*c] = 1;
    }
}

u128 Siqs::run() {
    if (const u128 p = build_factor_base(); p != 0) return p;
    seen_.assign(prime_.size(), 0);
    std::size_t extra = kExtraRelations;
    auto enough = [&] { return relations_.size() >= seen_count_ + extra; };
    for (int attempt = 0; attempt < 4; ++attempt) {
        while (!enough()) {
            if (!choose_a()) return 0;
            first_polynomial();
            const unsigned count = 1u << (s_ - 1);
            for (unsigned i = 0; i < count && !enough(); ++i) {
                if (i != 0) next_polynomial(i);
                sieve_polynomial();
            }
        }
        budget_.charge(std::uint64_t(relations_.size()) * relations_.size() / 8);
        if (const u128 g = siqs_combine(n_, prime_, relations_); g != 0) return g;
        extra += kExtraRelations;
    }
    return 0;
}

} // namespace

u128 siqs(u128 n, Budget& budget) {
    Siqs engine(n, budget);
    const u128 g = engine.run();
    // The sieve cannot fail on a valid n; ECM is the safety net if it ever does.
    return g != 0 ? g : ecm128(n, budget);
}

u128 siqs(u128 n) {
    Unlimited budget;
    return siqs(n, budget);
}

} // namespace zlb::detail
