#pragma once
// Arithmetic on Montgomery curves B y^2 = x^3 + A x^2 + x for ECM, x-only in projective (X : Z)
// coordinates, templated over the arithmetic (Mont64, Mont128, or MontLanes of either for
// several curves at once), plus Suyama's construction of the curves.
//
// Only x-coordinates are needed because ECM just computes multiples k*P and looks at Z: the
// Montgomery ladder keeps two points whose difference is known, and the differential addition
// x(P+Q) from x(P), x(Q), x(P-Q) costs 6 multiplications (5 when x(P-Q) has Z = 1), doubling
// 5 including the multiplication by a24 = (A+2)/4.
#include "factor/montgomery.hpp"

#include <array>
#include <bit>
#include <cstdint>

namespace zlb::detail {

template <class T> struct XZ { T x, z; };

template <class M> struct Curve {
    using T = typename M::T;
    using Point = XZ<T>;

    M m;   // a copy: the compiler then knows no store can change n in the hot loops
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
            for (int i = 0; i < 4; ++i)
                t = m.add(t, t);
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

} // namespace zlb::detail
