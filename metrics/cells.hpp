#pragma once
// What an engine records into. Each cell is one std::atomic written with a relaxed
// read-modify-write or store: no lock, no allocation, no label lookup (the engine keeps
// references to its cells from startup). The scrape thread reads them with relaxed loads.
//
// prometheus-cpp's own Counter is not used on the hot path: in 1.0 its Increment is an
// out-of-line call to a seq_cst compare-exchange loop on a double, and Histogram::Observe
// takes a mutex. The catalog (catalog.hpp) turns these cells into metric families only when
// Prometheus scrapes.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace zlb::metrics {

// A monotonic counter. Copyable (a copy is a snapshot), so structs of counters can be
// copied for rate computations as before; reads convert implicitly.
class Count {
public:
    Count() = default;
    Count(const Count& o) : v_(o.value()) {}
    Count& operator=(const Count& o) {
        v_.store(o.value(), std::memory_order_relaxed);
        return *this;
    }
    void operator++() { v_.fetch_add(1, std::memory_order_relaxed); }
    void add(std::uint64_t n) { v_.fetch_add(n, std::memory_order_relaxed); }
    // For a count kept elsewhere by one thread (e.g. core's DroppedReplies): published as is.
    void store(std::uint64_t n) { v_.store(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }
    operator std::uint64_t() const { return value(); }

private:
    std::atomic<std::uint64_t> v_{0};
};

// A gauge: a level the engine sets (a snapshot of its state) or moves up and down.
class Level {
public:
    void set(std::int64_t v) { v_.store(v, std::memory_order_relaxed); }
    void add(std::int64_t n) { v_.fetch_add(n, std::memory_order_relaxed); }
    std::int64_t value() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::int64_t> v_{0};
};

// Upper bounds of the duration histograms, in microseconds: 10 us to 60 s, roughly 1-2.5-5
// per decade; above the last, +Inf. Recording walks up from the first bound, so the fast
// cases (an echo's few microseconds) cost one comparison.
inline constexpr std::array<std::uint64_t, 20> kDurationBoundsUs = {
    10,      25,      50,      100,       250,       500,       1'000,     2'500,     5'000,  10'000,
    25'000,  50'000,  100'000, 250'000,   500'000,   1'000'000, 2'500'000, 5'000'000, 10'000'000,
    60'000'000};

// A histogram of durations in whole microseconds, exposed in seconds. Buckets are kept
// per bucket (not cumulative) so an observation is two relaxed increments; the catalog
// accumulates them at scrape time, so _count always equals the +Inf bucket.
class DurationHistogram {
public:
    void observe_us(std::uint64_t us) {
        std::size_t i = 0;
        while (i < kDurationBoundsUs.size() && us > kDurationBoundsUs[i]) ++i;
        buckets_[i].fetch_add(1, std::memory_order_relaxed);
        sum_us_.fetch_add(us, std::memory_order_relaxed);
    }
    std::uint64_t bucket(std::size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
    std::uint64_t sum_us() const { return sum_us_.load(std::memory_order_relaxed); }

private:
    std::array<std::atomic<std::uint64_t>, kDurationBoundsUs.size() + 1> buckets_{};
    std::atomic<std::uint64_t> sum_us_{0};
};

} // namespace zlb::metrics
