#include "stats/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <stdexcept>

namespace zlb {

Histogram::Histogram(std::uint64_t max_value) : max_value_(max_value) {
    if (max_value_ == 0) throw std::invalid_argument("Histogram: max_value must be at least 1");
    counts_.assign(index_of(max_value_) + 1, 0);
}

std::uint64_t Histogram::value_at(std::size_t index) const {
    const std::size_t half_count = std::size_t{1} << (kSubBucketBits - 1);
    if (index < 2 * half_count) return index;
    const int bucket = int(index >> (kSubBucketBits - 1)) - 1;
    return std::uint64_t(index % half_count + half_count) << bucket;
}

std::uint64_t Histogram::lowest_equivalent(std::uint64_t value) const {
    const int bucket = bucket_index(value);
    return value >> bucket << bucket;
}

std::uint64_t Histogram::highest_equivalent(std::uint64_t value) const {
    // Adding width - 1 (not width, minus 1) cannot overflow in the topmost bucket.
    const std::uint64_t width = std::uint64_t{1} << bucket_index(value);
    return lowest_equivalent(value) + (width - 1);
}

void Histogram::merge(const Histogram& other) {
    if (other.max_value_ != max_value_)
        throw std::invalid_argument("Histogram::merge: max_value differs");
    for (std::size_t i = 0; i < counts_.size(); ++i)
        counts_[i] += other.counts_[i];
    total_ += other.total_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    sum_ += other.sum_;
    sum_squares_ += other.sum_squares_;
    sum_squares_large_ += other.sum_squares_large_;
}

void Histogram::reset() {
    std::fill(counts_.begin(), counts_.end(), 0);
    total_ = 0;
    min_ = UINT64_MAX;
    max_ = 0;
    sum_ = 0;
    sum_squares_ = 0;
    sum_squares_large_ = 0;
}

std::uint64_t Histogram::min() const {
    return total_ == 0 ? 0 : min_;
}
std::uint64_t Histogram::max() const {
    return max_;
}
double Histogram::mean() const {
    return total_ == 0 ? 0.0 : double(static_cast<long double>(sum_) / total_);
}

double Histogram::stddev() const {
    if (total_ == 0) return 0.0;
    const long double mean = static_cast<long double>(sum_) / total_;
    // Rounding can push a zero variance slightly negative.
    const long double squares =
        (static_cast<long double>(sum_squares_) + sum_squares_large_) / total_;
    return double(std::sqrt(std::max(0.0L, squares - mean * mean)));
}

std::uint64_t Histogram::rank_at(double p) const {
    // p is usually a decimal such as 99.9 that binary floating point cannot hold exactly;
    // the slack keeps 99.9% of 1000 at rank 999 instead of 999.0000000000001 -> 1000.
    const double rank = std::ceil(p / 100.0 * double(total_) * (1 - 1e-12));
    return std::clamp<std::uint64_t>(std::uint64_t(rank), 1, total_);
}

std::uint64_t Histogram::percentile(double p) const {
    if (total_ == 0) return 0;
    if (!(p > 0)) return min_;
    if (p >= 100) return max_;
    const std::uint64_t rank = rank_at(p);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
        seen += counts_[i];
        if (seen >= rank) return std::clamp(highest_equivalent(value_at(i)), min_, max_);
    }
    return max_;
}

namespace {

template <class... Args> void print(std::ostream& out, const char* format, Args... args) {
    char line[160];
    std::snprintf(line, sizeof line, format, args...);
    out << line;
}

// Every halving of the distance to 100% gets the same number of ticks, so the tail
// (99%, 99.9%, ...) is reported as finely as the body, as in HdrHistogram.
// Once a tick no longer moves the level (double precision, ~1e15 counts), ticks end at 100%.
double next_level_pct(double level_pct, int ticks_per_half) {
    const double halvings = std::floor(std::log2(100.0 / (100.0 - level_pct)));
    const double next_pct = level_pct + 100.0 / (ticks_per_half * std::exp2(halvings + 1));
    return next_pct > level_pct ? next_pct : 100.0;
}

} // namespace

void Histogram::write_percentile_distribution(std::ostream& out, double value_scale,
                                              int ticks_per_half) const {
    ticks_per_half = std::max(ticks_per_half, 1);
    print(out, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
    double level_pct = 0;
    std::uint64_t cumulative = 0;
    std::uint64_t last_value = 0;
    for (std::size_t i = 0; i < counts_.size() && cumulative < total_; ++i) {
        if (counts_[i] == 0) continue;
        cumulative += counts_[i];
        last_value = std::clamp(highest_equivalent(value_at(i)), min_, max_);
        const double reached_pct = 100.0 * double(cumulative) / double(total_);
        // The last bucket prints one tick here and then the 100% row, as HdrHistogram does.
        while (reached_pct >= level_pct && level_pct < 100) {
            const double fraction = level_pct / 100;
            print(out, "%12.3f %2.12f %10llu %14.2f\n", double(last_value) / value_scale, fraction,
                  (unsigned long long)cumulative, 1 / (1 - fraction));
            level_pct = next_level_pct(level_pct, ticks_per_half);
            if (cumulative == total_) break;
        }
    }
    if (total_ > 0)
        print(out, "%12.3f %2.12f %10llu\n", double(last_value) / value_scale, 1.0,
              (unsigned long long)total_);
    print(out, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", mean() / value_scale,
          stddev() / value_scale);
    print(out, "#[Max     = %12.3f, Total count    = %12llu]\n", double(max()) / value_scale,
          (unsigned long long)total_);
    print(out, "#[Buckets = %12d, SubBuckets     = %12d]\n", bucket_index(max_value_) + 1,
          1 << kSubBucketBits);
}

} // namespace zlb
