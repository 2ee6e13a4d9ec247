#pragma once
// Arithmetic on Montgomery curves B y^2 = x^3 + A x^2 + x for ECM, x-only in projective (X : Z)
// coordinates, templated over Mont64 / Mont128.
//
// Only x-coordinates are needed because ECM just computes multiples k*P and looks at Z: the
// Montgomery ladder keeps two points whose difference is known, and the differential addition
// x(P+Q) from x(P), x(Q), x(P-Q) costs 6 multiplications (5 when x(P-Q) has Z = 1), doubling
// 5 including the multiplication by a24 = (A+2)/4.
//
// Stage 2 is the standard baby-step giant-step continuation: a prime p in (B1, B2] is written
// p = i*D +- j with j < D/2 coprime to D, and (i*D)Q == +-j*Q mod the hidden prime q shows up
// as q | X_i Z_j - X_j Z_i. That cross term equals (X_i - X_j)(Z_i + Z_j) - X_i Z_i + X_j Z_j,
// so with X*Z cached per point each prime (or each pair i*D +- j of primes) costs two
// multiplications.
#include "core/montgomery.hpp"

#include <array>
#include <cstdint>
#include <numeric>

namespace zlb::detail {

template <class T> struct XZ {
    T x, z;
};

template <class M> struct Curve {
    using T = typename M::T;
    using Point = XZ<T>;

    M m; // a copy: the compiler then knows no store can change n in the hot loops
    T a24; // (A + 2) / 4

    [[gnu::always_inline]] Point dbl(const Point& p) const {
        const T s = m.sqr(m.add(p.x, p.z)), d = m.sqr(m.sub(p.x, p.z));
        const T t = m.sub(s, d); // 4 X Z
        return {m.mul(s, d), m.mul(t, m.add(d, m.mul(a24, t)))};
    }

    // p + q given diff = p - q.
    [[gnu::always_inline]] Point add(const Point& p, const Point& q, const Point& diff) const {
        const T u = m.mul(m.sub(p.x, p.z), m.add(q.x, q.z));
        const T v = m.mul(m.add(p.x, p.z), m.sub(q.x, q.z));
        return {m.mul(diff.z, m.sqr(m.add(u, v))), m.mul(diff.x, m.sqr(m.sub(u, v)))};
    }

    // p + q where p - q = (x1 : 1).
    [[gnu::always_inline]] Point add_affine_diff(const Point& p, const Point& q, T x1) const {
        const T u = m.mul(m.sub(p.x, p.z), m.add(q.x, q.z));
        const T v = m.mul(m.add(p.x, p.z), m.sub(q.x, q.z));
        return {m.sqr(m.add(u, v)), m.mul(x1, m.sqr(m.sub(u, v)))};
    }

    // Montgomery ladder: returns {k*p, (k+1)*p} for k >= 1.
    std::array<Point, 2> ladder(const Point& p, std::uint64_t k) const {
        Point r0 = p, r1 = dbl(p);
        for (int bit = std::bit_width(k) - 2; bit >= 0; --bit) {
            if ((k >> bit) & 1) {
                r0 = add(r1, r0, p);
                r1 = dbl(r1);
            } else {
                r1 = add(r1, r0, p);
                r0 = dbl(r0);
            }
        }
        return {r0, r1};
    }

    // k*p for a multiword k (little-endian 64-bit words, top bit at position bits-1), with p
    // given by its affine x so that every ladder addition saves a multiplication.
    Point ladder_affine(T x1, const std::uint64_t* k, int bits) const {
        const Point p{x1, m.one()};
        Point r0 = p, r1 = dbl(p);
        for (int bit = bits - 2; bit >= 0; --bit) {
            if ((k[bit / 64] >> (bit % 64)) & 1) {
                r0 = add_affine_diff(r1, r0, x1);
                r1 = dbl(r1);
            } else {
                r1 = add_affine_diff(r1, r0, x1);
                r0 = dbl(r0);
            }
        }
        return r0;
    }
};

// Suyama's parametrization: for sigma not in {0, +-1, +-3, +-5, +-5/3}, u = sigma^2 - 5 and
// v = 4 sigma give a curve whose group order is divisible by 12 (over every prime field), which
// makes it noticeably more likely to be smooth. One inversion of 16 u^3 v^4 yields both the
// affine starting x = u^3 / v^3 and a24 = (v - u)^3 (3u + v) / (16 u^3 v).
//
// K curves share one inversion by Montgomery's trick (invert the product, then peel off each
// factor with two multiplications), because a binary inversion costs as much as hundreds of
// multiplications. Consumes K usable sigmas starting at `sigma`. Sets ok when the curves are
// ready; otherwise returns a proper factor of n found along the way, or 1 when the batch was
// merely degenerate and the caller should try the next sigmas.
template <class M, unsigned K>
typename M::T suyama_curves(const M& m, std::uint32_t& sigma, std::array<typename M::T, K>& x1,
                            std::array<typename M::T, K>& a24, bool& ok) {
    using T = typename M::T;
    const T n = m.modulus();
    ok = false;
    const T five = m.to(5);
    std::array<T, K> u3, v3, u3v16, num, den, prefix;
    for (unsigned k = 0; k < K; ++k) {
        for (;;) {
            const T s = m.to(sigma++);
            const T u = m.sub(m.sqr(s), five);
            const T v = m.add(m.add(s, s), m.add(s, s));
            u3[k] = m.mul(m.sqr(u), u);
            v3[k] = m.mul(m.sqr(v), v);
            T t = m.mul(u3[k], v);
            for (int i = 0; i < 4; ++i) t = m.add(t, t);
            u3v16[k] = t;
            den[k] = m.mul(t, v3[k]);
            const T vmu = m.sub(v, u);
            const T w = m.add(m.add(m.add(u, u), u), v); // 3u + v
            num[k] = m.mul(m.mul(m.sqr(vmu), vmu), w);
            // den == 0 mod n only for a sigma that is degenerate modulo n itself; skip it.
            if (den[k] != 0) break;
        }
        prefix[k] = k == 0 ? den[0] : m.mul(prefix[k - 1], den[k]);
    }
    T g = 1;
    T inv = m.inverse(prefix[K - 1], g);
    if (inv == 0) return g == n ? 1 : g; // 1: a degenerate batch, the caller moves on
    for (unsigned k = K; k-- > 0;) {
        const T inv_k = k == 0 ? inv : m.mul(inv, prefix[k - 1]);
        if (k != 0) inv = m.mul(inv, den[k]);
        a24[k] = m.mul(num[k], m.mul(v3[k], inv_k));
        x1[k] = m.mul(m.mul(u3[k], u3v16[k]), inv_k);
    }
    ok = true;
    return 1;
}

// The babies of stage 2: odd j <= D/2 coprime to D.
template <unsigned D> struct BabySteps {
    static_assert(D % 4 == 2, "D/2 must be odd so that the odd-multiple chain ends on D/2");
    static constexpr unsigned count = [] {
        unsigned c = 0;
        for (unsigned j = 1; j <= D / 2; j += 2) c += std::gcd(j, D) == 1;
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
};

// Stage 2 state for one curve: baby points j*Q, the current giant point i*D*Q, and the running
// product whose gcd with n reveals the factor.
template <class M, unsigned D> class Stage2 {
public:
    using T = typename M::T;
    using Point = XZ<T>;
    using Babies = BabySteps<D>;

    // Positions the giant point at first_giant >= 1.
    Stage2(const Curve<M>& curve, const Point& q, std::uint64_t first_giant)
        : c_(curve), acc_(curve.m.one()), i_(first_giant) {
        const M& m = c_.m;
        // Odd multiples by the chain (j+2)Q = jQ + 2Q with difference (j-2)Q.
        const Point q2 = c_.dbl(q);
        Point prev = q, cur = q;
        unsigned k = 0;
        for (unsigned j = 1;; j += 2) {
            if (j > 1) {
                const Point next = j == 3 ? c_.add(q2, q, q) : c_.add(cur, q2, prev);
                prev = cur;
                cur = next;
            }
            if (Babies::index[j] >= 0) {
                bx_[k] = cur.x;
                bz_[k] = cur.z;
                bxz_[k] = m.mul(cur.x, cur.z);
                ++k;
            }
            if (j == D / 2) break;
        }
        step_ = c_.dbl(cur); // D*Q
        if (i_ == 1) {
            giant_ = step_;
        } else {
            const auto pair = c_.ladder(step_, i_ - 1);
            prev_ = pair[0];
            giant_ = pair[1];
        }
        gxz_ = m.mul(giant_.x, giant_.z);
    }

    std::uint64_t giant_index() const { return i_; }

    void accumulate(const typename Babies::Mask& mask) {
        // Locals, so that the product chain stays in registers instead of round-tripping
        // through this->acc_ on every step.
        const M m = c_.m;
        const Point g = giant_;
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
        const Point next = i_ == 1 ? c_.dbl(giant_) : c_.add(giant_, step_, prev_);
        prev_ = giant_;
        giant_ = next;
        gxz_ = c_.m.mul(giant_.x, giant_.z);
        ++i_;
    }

    T product() const { return acc_; }

private:
    const Curve<M>& c_;
    std::array<T, Babies::count> bx_, bz_, bxz_;
    Point step_{}, giant_{}, prev_{};
    T gxz_{}, acc_;
    std::uint64_t i_;
};

} // namespace zlb::detail
