#pragma once
// Log-linear latency histogram in the HdrHistogram style: values from 1 to max_value
// recorded with 3 significant decimal digits, fixed memory, mergeable.
#include <cstdint>
#include <vector>

namespace zlb {

class Histogram {
public:
    // Tracks values in [1, max_value]; larger values are clamped to max_value
    // (and counted), values below 1 count as 1. Default: one hour in microseconds.
    explicit Histogram(std::uint64_t max_value = 3'600'000'000ULL);

    void record(std::uint64_t value, std::uint64_t count = 1);
    // Adds every count of other into this; both must have the same max_value.
    void merge(const Histogram& other);
    void reset();

    std::uint64_t count() const { return total_; }
    std::uint64_t min() const;  // 0 when empty
    std::uint64_t max() const;  // 0 when empty
    double mean() const;        // 0 when empty
    // The value at percentile p in [0, 100]: the smallest recorded value v (to within
    // the histogram's precision) such that at least p% of the values are <= v.
    // Returns a value equivalent to the recorded ones, within 0.1%. 0 when empty.
    std::uint64_t percentile(double p) const;

    std::uint64_t max_value() const { return max_value_; }

    // Iteration over non-empty buckets, for percentile spectra and tests:
    // calls f(value_upper_bound_equivalent, count) in ascending value order.
    template <class F> void for_each_bucket(F&& f) const {
        for (std::size_t i = 0; i < counts_.size(); ++i)
            if (counts_[i] != 0) f(highest_equivalent(value_at(i)), counts_[i]);
    }

private:
    std::size_t index_of(std::uint64_t value) const;
    std::uint64_t value_at(std::size_t index) const;
    std::uint64_t lowest_equivalent(std::uint64_t value) const;
    std::uint64_t highest_equivalent(std::uint64_t value) const;

    std::uint64_t max_value_;
    int sub_bucket_bits_;
    std::vector<std::uint64_t> counts_;
    std::uint64_t total_ = 0;
    std::uint64_t min_ = UINT64_MAX;
    std::uint64_t max_ = 0;
    long double sum_ = 0;
};

} // namespace zlb
