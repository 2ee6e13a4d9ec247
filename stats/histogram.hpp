#pragma once
// Log-linear latency histogram in the HdrHistogram style: values from 1 to max_value
// recorded with 3 significant decimal digits, fixed memory, mergeable.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <vector>

namespace zlb {

class Histogram {
public:
    // Tracks values in [1, max_value]; larger values are clamped to max_value
    // (and counted), values below 1 count as 1. Default: one hour in microseconds.
    // Throws std::invalid_argument if max_value is 0.
    explicit Histogram(std::uint64_t max_value = 3'600'000'000ULL);

    // Inline: a client records four values a reply, and a call each would cost as much as
    // the record (the one-count case folds to a few adds once inlined).
    void record(std::uint64_t value, std::uint64_t count = 1) {
        if (count == 0) return;
        value = std::clamp<std::uint64_t>(value, 1, max_value_);
        counts_[index_of(value)] += count;
        total_ += count;
        min_ = std::min(min_, value);
        max_ = std::max(max_, value);
        sum_ += static_cast<unsigned __int128>(value) * count;
        if (value <= UINT32_MAX) sum_squares_ += static_cast<unsigned __int128>(value * value) * count;
        else sum_squares_large_ += static_cast<long double>(value) * value * count;
    }
    // Adds every count of other into this; both must have the same max_value.
    void merge(const Histogram& other);
    void reset();

    std::uint64_t count() const { return total_; }
    // min and max are the exact recorded values after clamping into [1, max_value].
    std::uint64_t min() const;  // 0 when empty
    std::uint64_t max() const;  // 0 when empty
    double mean() const;        // 0 when empty
    double stddev() const;      // population standard deviation; 0 when empty
    // The value at percentile p in [0, 100]: the smallest recorded value v (to within
    // the histogram's precision) such that at least p% of the values are <= v.
    // Returns a value equivalent to the recorded ones, within 0.1%. 0 when empty.
    // Precisely: the highest value equivalent to the one at rank ceil(p/100 * count),
    // clamped into [min(), max()]; p = 0 gives min(), p = 100 gives max().
    std::uint64_t percentile(double p) const;

    // HdrHistogram's "percentile distribution" text (outputPercentileDistribution), with
    // values divided by value_scale (1000.0 prints microseconds as milliseconds) and
    // ticks_per_half rows per halving of the distance to 100%. Values are clamped
    // into [min(), max()] like percentile(); the footer's Mean and Max are exact.
    void write_percentile_distribution(std::ostream& out, double value_scale = 1.0,
                                       int ticks_per_half = 5) const;

    // Iteration over non-empty buckets, for percentile spectra and tests:
    // calls f(value_upper_bound_equivalent, count) in ascending value order.
    template <class F> void for_each_bucket(F&& f) const {
        for (std::size_t i = 0; i < counts_.size(); ++i)
            if (counts_[i] != 0) f(highest_equivalent(value_at(i)), counts_[i]);
    }

    // The counts array, index by index, for the HdrHistogram V2 encoding (stats/hdr_codec):
    // the layout equals HdrHistogram's with lowestDiscernibleValue 1 and 3 significant
    // digits (2048 sub-buckets, index = bucket * 1024 + (value >> bucket)), so counts are
    // encoded as they are. index_count() covers [1, max_value]; index_value(i) is the
    // lowest value counted at i.
    std::size_t index_count() const { return counts_.size(); }
    std::uint64_t count_at(std::size_t index) const { return counts_[index]; }
    std::uint64_t index_value(std::size_t index) const { return value_at(index); }
    std::size_t value_index(std::uint64_t value) const { return index_of(value); }
    std::uint64_t max_trackable() const { return max_value_; }
    // The highest value equivalent to v (the top of its bucket).
    std::uint64_t value_highest(std::uint64_t v) const { return highest_equivalent(v); }

private:
    // Bucket 0 holds 0..2047 at unit width; bucket b >= 1 holds [2^(b+10), 2^(b+11)) at
    // width 2^b, so every value is resolved to better than 1/1024 (3 significant digits).
    static constexpr int kSubBucketBits = 11;
    static int bucket_index(std::uint64_t value) {
        // OR-ing in the sub-bucket mask folds every value below 2048 into bucket 0.
        constexpr std::uint64_t sub_bucket_mask = (std::uint64_t{1} << kSubBucketBits) - 1;
        return 64 - std::countl_zero(value | sub_bucket_mask) - kSubBucketBits;
    }
    static std::size_t index_of(std::uint64_t value) {
        // Above bucket 0 only the upper half of the sub-buckets is used (the lower half
        // would repeat bucket b-1), so each bucket adds 1024 slots after bucket 0's 2048.
        const int bucket = bucket_index(value);
        return (std::size_t(bucket) << (kSubBucketBits - 1)) + (value >> bucket);
    }
    std::uint64_t rank_at(double p) const;
    std::uint64_t value_at(std::size_t index) const;
    std::uint64_t lowest_equivalent(std::uint64_t value) const;
    std::uint64_t highest_equivalent(std::uint64_t value) const;

    std::uint64_t max_value_;
    std::vector<std::uint64_t> counts_;
    std::uint64_t total_ = 0;
    std::uint64_t min_ = UINT64_MAX;
    std::uint64_t max_ = 0;
    // Integer sums, so that a record costs integer products instead of x87 ones: a value
    // and the total count are each below 2^64, so sum_ cannot overflow 128 bits, nor can
    // the squares of values below 2^32 (latencies below 71 minutes in microseconds).
    // Squares of larger values go to the floating-point sum.
    unsigned __int128 sum_ = 0;
    unsigned __int128 sum_squares_ = 0;
    long double sum_squares_large_ = 0;
};

} // namespace zlb
