#pragma once
// ECM stage 2: the standard baby-step giant-step continuation.
//
// A prime p in (B1, B2] is written p = i*D +- j with j < D/2 coprime to D. If the stage-1
// point Q has order p modulo a hidden prime q, then (i*D)Q = +-jQ mod q, so their x-coordinates
// agree and q divides X_i Z_j - X_j Z_i. Multiplying these cross terms together and taking one
// gcd at the end tests every prime; a pair of primes i*D +- j shares one term.
//
// Two variants:
//  - Stage2 keeps projective points. The cross term equals
//    (X_i - X_j)(Z_i + Z_j) - X_i Z_i + X_j Z_j, so with X*Z cached per point it costs two
//    multiplications. Right for the short 64-bit plans, where setting up more is not repaid.
//  - Stage2Affine scales every baby and every giant to Z = 1 (Montgomery's batch inversion:
//    one modular inversion per block of points plus three multiplications per point), after
//    which a term is just x_i - x_j: one multiplication. Right for the long 128-bit runs.
#include "factor/ecm_curve.hpp"

#include <array>
#include <bit>
#include <cstdint>
#include <numeric>

namespace zlb::detail {

// The babies: odd j <= D/2 coprime to D.
template <unsigned D> struct BabySteps {
    static_assert(D % 4 == 2, "D/2 must be odd so that the odd-multiple chain ends on D/2");
    static constexpr unsigned count = [] {
        unsigned c = 0;
        for (unsigned j = 1; j <= D / 2; j += 2)
            c += std::gcd(j, D) == 1;
        return c;
    }();
    static constexpr unsigned words = (count + 63) / 64;
    using Mask = std::array<std::uint64_t, words>;
    // index[j] = position of j among the babies, or -1.
    static constexpr auto index = [] {
        std::array<std::int16_t, D / 2 + 1> idx{};
        int c = 0;
        for (unsigned j = 0; j <= D / 2; ++j)
            idx[j] = static_cast<std::int16_t>((j % 2 == 1 && std::gcd(j, D) == 1) ? c++ : -1);
        return idx;
    }();

    // Sets the bit of prime p > D/2 in the mask of giant step i = round(p / D).
    static constexpr void mark(Mask& mask, std::uint64_t p, std::uint64_t i) {
        const std::uint64_t c = i * D;
        const auto k = static_cast<unsigned>(index[p > c ? p - c : c - p]);
        mask[k / 64] |= std::uint64_t(1) << (k % 64);
    }
    static constexpr std::uint64_t giant_of(std::uint64_t p) { return (p + D / 2) / D; }

    // Calls f(j, j*Q) for every baby j, in increasing order. The odd multiples come from the
    // chain (j+2)Q = jQ + 2Q with difference (j-2)Q. Returns D*Q.
    template <class M, class F>
    static XZ<typename M::T> for_each(const Curve<M>& c, const XZ<typename M::T>& q, F&& f) {
        const auto q2 = c.dbl(q);
        auto prev = q, cur = q;
        for (unsigned j = 1;; j += 2) {
            if (j > 1) {
                const auto next = j == 3 ? c.add(q2, q, q) : c.add(cur, q2, prev);
                prev = cur;
                cur = next;
            }
            if (index[j] >= 0) f(static_cast<unsigned>(index[j]), cur);
            if (j == D / 2) return c.dbl(cur);
        }
    }
};

// Walks i*D*Q for i = first, first+1, ...: (i+1)G = iG + G with difference (i-1)G.
template <class M> class GiantWalk {
  public:
    using Point = XZ<typename M::T>;

    explicit GiantWalk(const Curve<M>& c) : c_(c) {}

    // step = D*Q; first >= 1.
    void start(const Point& step, std::uint64_t first) {
        step_ = step;
        i_ = first;
        if (first == 1) {
            cur_ = step;
        } else {
            const auto pair = c_.ladder(step, first - 1);
            prev_ = pair[0];
            cur_ = pair[1];
        }
    }
    std::uint64_t index() const { return i_; }
    const Point& point() const { return cur_; }
    void next() {
        const Point n = i_ == 1 ? c_.dbl(cur_) : c_.add(cur_, step_, prev_);
        prev_ = cur_;
        cur_ = n;
        ++i_;
    }

  private:
    const Curve<M>& c_;
    Point step_{}, cur_{}, prev_{};
    std::uint64_t i_ = 0;
};

template <class M, unsigned D> class Stage2 {
  public:
    using T = typename M::T;
    using Point = XZ<T>;
    using Babies = BabySteps<D>;

    // Positions the giant point at first_giant >= 1.
    Stage2(const Curve<M>& curve, const Point& q, std::uint64_t first_giant)
        : c_(curve), acc_(curve.m.one()), walk_(curve) {
        const Point step = Babies::for_each(curve, q, [this](unsigned k, const Point& b) {
            bx_[k] = b.x;
            bz_[k] = b.z;
            bxz_[k] = c_.m.mul(b.x, b.z);
        });
        walk_.start(step, first_giant);
        gxz_ = c_.m.mul(walk_.point().x, walk_.point().z);
    }


    void accumulate(const typename Babies::Mask& mask) {
        // Locals, so that the product chain stays in registers instead of round-tripping
        // through this->acc_ on every step.
        const M m = c_.m;
        const Point g = walk_.point();
        const T gxz = gxz_;
        T acc = acc_;
        for (unsigned w = 0; w < Babies::words; ++w) {
            for (std::uint64_t bits = mask[w]; bits != 0; bits &= bits - 1) {
                const unsigned k = w * 64 + static_cast<unsigned>(std::countr_zero(bits));
                T t = m.mul(m.sub(g.x, bx_[k]), m.add(g.z, bz_[k]));
                t = m.add(m.sub(t, gxz), bxz_[k]);
                acc = m.mul(acc, t);
            }
        }
        acc_ = acc;
    }

    void next_giant() {
        walk_.next();
        gxz_ = c_.m.mul(walk_.point().x, walk_.point().z);
    }

    T product() const { return acc_; }

  private:
    const Curve<M>& c_;
    std::array<T, Babies::count> bx_, bz_, bxz_;
    T gxz_{}, acc_;
    GiantWalk<M> walk_;
};

// x = X/Z for count points of K interleaved curves (see MontLanes), one inversion per lane.
// A lane whose product of Z's has no inverse has found a factor: acc for that lane becomes a
// value whose gcd with n is that factor (0 when it is n itself), and its x's are left at 0.
template <class L>
void batch_normalize(const L& m, typename L::T* x, const typename L::T* z, unsigned count,
                     typename L::T* scratch, typename L::T& acc) {
    using T = typename L::T;
    scratch[0] = z[0];
    for (unsigned i = 1; i < count; ++i)
        scratch[i] = m.mul(scratch[i - 1], z[i]);
    T inv;
    for (unsigned k = 0; k < inv.size(); ++k) {
        typename L::Scalar g = 1;
        inv[k] = m.base().inverse(scratch[count - 1][k], g);
        if (inv[k] == 0) acc[k] = g == m.base().modulus() ? 0 : g;
    }
    for (unsigned i = count; i-- > 0;) {
        const T zinv = i == 0 ? inv : m.mul(inv, scratch[i - 1]);
        if (i != 0) inv = m.mul(inv, z[i]);
        x[i] = m.mul(x[i], zinv);
    }
}

template <class L, unsigned D> class Stage2Affine {
  public:
    using T = typename L::T;
    using Point = XZ<T>;
    using Babies = BabySteps<D>;
    using Mask = typename Babies::Mask;
    static constexpr unsigned kBlock = 64; // giants normalized together

    Stage2Affine(const Curve<L>& curve, const Point& q, std::uint64_t first_giant)
        : c_(curve), acc_(curve.m.one()), walk_(curve) {
        const Point step = Babies::for_each(curve, q, [this](unsigned k, const Point& b) {
            bx_[k] = b.x;
            bz_[k] = b.z;
        });
        walk_.start(step, first_giant);
        batch_normalize(c_.m, bx_.data(), bz_.data(), Babies::count, scratch_.data(), acc_);
    }

    // Masks arrive one per giant step, in order; next_index() is the giant step the next mask
    // belongs to. They are processed in blocks of kBlock.
    std::uint64_t next_index() const { return walk_.index() + pending_; }
    void push(const Mask& mask) {
        masks_[pending_++] = mask;
        if (pending_ == kBlock) flush();
    }

    T product() {
        flush();
        return acc_;
    }

  private:
    void flush() {
        if (pending_ == 0) return;
        std::array<T, kBlock> gx, gz;
        for (unsigned i = 0; i < pending_; ++i) {
            gx[i] = walk_.point().x;
            gz[i] = walk_.point().z;
            walk_.next();
        }
        batch_normalize(c_.m, gx.data(), gz.data(), pending_, scratch_.data(), acc_);
        const L m = c_.m;
        T acc = acc_;
        for (unsigned i = 0; i < pending_; ++i) {
            for (unsigned w = 0; w < Babies::words; ++w) {
                for (std::uint64_t bits = masks_[i][w]; bits != 0; bits &= bits - 1) {
                    const unsigned k = w * 64 + static_cast<unsigned>(std::countr_zero(bits));
                    acc = m.mul(acc, m.sub(gx[i], bx_[k]));
                }
            }
        }
        acc_ = acc;
        pending_ = 0;
    }

    const Curve<L>& c_;
    std::array<T, Babies::count> bx_, bz_;
    std::array<T, (Babies::count > kBlock ? Babies::count : kBlock)> scratch_;
    std::array<Mask, kBlock> masks_;
    unsigned pending_ = 0;
    T acc_;
    GiantWalk<L> walk_;
};

} // namespace zlb::detail
