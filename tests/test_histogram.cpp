#include "stats/histogram.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

// Counting every global allocation lets the tests prove that recording never allocates.
namespace {
std::atomic<std::uint64_t> g_allocations{0};
}
// noinline keeps g++ from pairing the inlined malloc with free (-Wmismatched-new-delete).
[[gnu::noinline]] void* operator new(std::size_t size) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept {
    std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

using zlb::Histogram;
using Values = std::vector<std::uint64_t>;
using Buckets = std::vector<std::pair<std::uint64_t, std::uint64_t>>;

namespace {

constexpr std::uint64_t kHourUs = 3'600'000'000ULL;
constexpr std::size_t kSamples = 200'000;

// A percentile as an exact fraction num/den of 100, so the reference rank is exact.
struct Pct {
    std::uint64_t num, den;
    double value() const { return double(num) / double(den); }
};

// Nearest rank on the sorted data: the value at rank ceil(p/100 * n), p = 0 -> minimum.
std::uint64_t exact_percentile(const Values& sorted, Pct p) {
    if (p.num == 0) return sorted.front();
    const std::uint64_t n = sorted.size();
    const std::uint64_t rank = (p.num * n + 100 * p.den - 1) / (100 * p.den);
    return sorted[rank - 1];
}

// Never below the true value, and above it by less than one bucket width (< 1/1024
// of the value, hence < 0.1%; exact below 1024).
bool within_precision(std::uint64_t got, std::uint64_t exact) {
    return got >= exact && got - exact <= exact / 1024;
}

std::vector<Pct> percentiles_to_check() {
    std::vector<Pct> ps = {{0, 1},      {50, 1},  {90, 1},       {99, 1},   {999, 10},
                           {9999, 100}, {100, 1}, {99999, 1000}, {1, 1000}, {333, 10}};
    for (std::uint64_t tenth = 0; tenth <= 1000; ++tenth)
        ps.push_back({tenth, 10});
    return ps;
}

Buckets buckets_of(const Histogram& h) {
    Buckets out;
    h.for_each_bucket(
        [&](std::uint64_t value, std::uint64_t count) { out.emplace_back(value, count); });
    return out;
}

Histogram histogram_of(const Values& values, std::uint64_t max_value = kHourUs) {
    Histogram h(max_value);
    for (std::uint64_t v : values)
        h.record(v);
    return h;
}

// values must already lie in [1, max_value] so they are their own reference.
void check_against_exact(const Values& values) {
    const Histogram h = histogram_of(values);
    Values sorted = values;
    std::sort(sorted.begin(), sorted.end());

    long double sum = 0;
    for (std::uint64_t v : values)
        sum += v;
    const long double mean = sum / values.size();
    long double squares = 0;
    for (std::uint64_t v : values)
        squares += (v - mean) * (v - mean);

    CHECK(h.count() == values.size());
    CHECK(h.min() == sorted.front());
    CHECK(h.max() == sorted.back());
    CHECK(h.mean() == doctest::Approx(double(mean)).epsilon(1e-12));
    CHECK(h.stddev() == doctest::Approx(double(std::sqrt(squares / values.size()))).epsilon(1e-9));
    CHECK(h.percentile(0) == sorted.front());
    CHECK(h.percentile(100) == sorted.back());
    for (Pct p : percentiles_to_check()) {
        const std::uint64_t exact = exact_percentile(sorted, p);
        const std::uint64_t got = h.percentile(p.value());
        INFO("p = ", p.value(), ", exact = ", exact, ", got = ", got);
        CHECK(within_precision(got, exact));
    }
}

template <class Draw> Values draw(std::uint64_t seed, Draw&& one) {
    std::mt19937_64 rng(seed);
    Values values(kSamples);
    for (auto& v : values)
        v = one(rng);
    return values;
}

std::uint64_t in_range(double v) {
    return std::uint64_t(std::clamp(v, 1.0, double(kHourUs)));
}

struct Row {
    double value, fraction;
    std::uint64_t total;
    int fields;
};

struct Report {
    std::vector<std::string> lines;
    std::vector<Row> rows;
    std::vector<std::string> footer;
};

Report parse_report(const Histogram& h, double scale = 1.0, int ticks = 5) {
    std::ostringstream out;
    h.write_percentile_distribution(out, scale, ticks);
    Report r;
    std::istringstream in(out.str());
    for (std::string line; std::getline(in, line);)
        r.lines.push_back(line);
    for (std::size_t i = 2; i < r.lines.size(); ++i) {
        const std::string& line = r.lines[i];
        if (line.rfind("#[", 0) == 0) {
            r.footer.push_back(line);
            continue;
        }
        Row row{};
        double inverse = 0;
        unsigned long long total = 0;
        row.fields = std::sscanf(line.c_str(), "%lf %lf %llu %lf", &row.value, &row.fraction,
                                 &total, &inverse);
        row.total = total;
        // Two printed decimals, plus the effect of the fraction's 12th-decimal rounding.
        const double expected = 1 / (1 - row.fraction);
        if (row.fields == 4)
            CHECK(std::abs(inverse - expected) <= 0.005 + 1e-12 * expected * expected);
        r.rows.push_back(row);
    }
    return r;
}

const char* const kHeader = "       Value     Percentile TotalCount 1/(1-Percentile)";

} // namespace

TEST_CASE("percentiles match the exact nearest rank within 0.1%") {
    SUBCASE("uniform 1..1e6") {
        check_against_exact(draw(1, [](auto& rng) {
            return std::uniform_int_distribution<std::uint64_t>(1, 1'000'000)(rng);
        }));
    }
    SUBCASE("uniform 1..3000, exact in the unit-width bucket") {
        check_against_exact(draw(2, [](auto& rng) {
            return std::uniform_int_distribution<std::uint64_t>(1, 3000)(rng);
        }));
    }
    SUBCASE("log-uniform 1..3.6e9") {
        check_against_exact(draw(3, [](auto& rng) {
            return in_range(std::exp(std::uniform_real_distribution<double>(0, 22.0)(rng)));
        }));
    }
    SUBCASE("exponential, mean 5 ms") {
        check_against_exact(draw(4, [](auto& rng) {
            return in_range(std::ceil(std::exponential_distribution<double>(1 / 5000.0)(rng)));
        }));
    }
    SUBCASE("Pareto, alpha 1.1") {
        check_against_exact(draw(5, [](auto& rng) {
            const double u = std::uniform_real_distribution<double>(0, 1)(rng);
            return in_range(std::ceil(200 / std::pow(1 - u, 1 / 1.1)));
        }));
    }
    SUBCASE("constant") {
        check_against_exact(draw(6, [](auto&) { return std::uint64_t{123'457}; }));
    }
    SUBCASE("two-point, split exactly at 99.9%") {
        Values values(kSamples, 7);
        std::fill(values.end() - kSamples / 1000, values.end(), 3'000'000'000ULL);
        std::shuffle(values.begin(), values.end(), std::mt19937_64(7));
        check_against_exact(values);
        const Histogram h = histogram_of(values);
        CHECK(h.percentile(99.9) == 7);
        CHECK(h.percentile(99.9001) == 3'000'000'000ULL);
    }
}

TEST_CASE("the constant report clamps every percentile to the one recorded value") {
    Histogram h;
    h.record(123'457, 1000);
    for (double p : {0.0, 1e-9, 25.0, 50.0, 99.999, 100.0})
        CHECK(h.percentile(p) == 123'457);
    CHECK(h.min() == 123'457);
    CHECK(h.max() == 123'457);
    CHECK(h.stddev() == 0.0);
}

TEST_CASE("p = 0 is the exact minimum, any larger p at least its bucket's upper bound") {
    Histogram h;
    h.record(100'001); // in the width-64 bucket 99'968..100'031
    h.record(100'020);
    h.record(200'000);
    CHECK(h.percentile(0) == 100'001);
    CHECK(h.percentile(1e-9) == 100'031);
    CHECK(h.percentile(66.6) == 100'031);
    CHECK(h.percentile(66.7) == 200'000);
}

TEST_CASE("merged halves equal one histogram of all the data") {
    const Values values = draw(11, [](auto& rng) {
        return in_range(std::exp(std::uniform_real_distribution<double>(0, 22.0)(rng)));
    });
    const Values first(values.begin(), values.begin() + kSamples / 2);
    const Values second(values.begin() + kSamples / 2, values.end());
    const Histogram whole = histogram_of(values);
    Histogram merged = histogram_of(first);
    merged.merge(histogram_of(second));

    CHECK(merged.count() == whole.count());
    CHECK(merged.min() == whole.min());
    CHECK(merged.max() == whole.max());
    CHECK(merged.mean() == doctest::Approx(whole.mean()).epsilon(1e-12));
    CHECK(merged.stddev() == doctest::Approx(whole.stddev()).epsilon(1e-9));
    CHECK(buckets_of(merged) == buckets_of(whole));
    for (Pct p : percentiles_to_check()) {
        INFO("p = ", p.value());
        CHECK(merged.percentile(p.value()) == whole.percentile(p.value()));
    }

    SUBCASE("into an empty histogram") {
        Histogram empty;
        empty.merge(whole);
        CHECK(empty.min() == whole.min());
        CHECK(empty.max() == whole.max());
        CHECK(buckets_of(empty) == buckets_of(whole));
    }
    SUBCASE("an empty histogram changes nothing") {
        merged.merge(Histogram());
        CHECK(merged.count() == whole.count());
        CHECK(merged.min() == whole.min());
        CHECK(merged.max() == whole.max());
        CHECK(merged.mean() == doctest::Approx(whole.mean()).epsilon(1e-12));
    }
    SUBCASE("with itself doubles every count") {
        Histogram twice = whole;
        twice.merge(twice);
        CHECK(twice.count() == 2 * whole.count());
        CHECK(twice.percentile(50) == whole.percentile(50));
        Buckets doubled = buckets_of(whole);
        for (auto& bucket : doubled)
            bucket.second *= 2;
        CHECK(buckets_of(twice) == doubled);
    }
}

TEST_CASE("merging a different max_value throws and leaves the target untouched") {
    Histogram h;
    h.record(42);
    Histogram other(1'000'000);
    other.record(42);
    CHECK_THROWS_AS(h.merge(other), std::invalid_argument);
    CHECK_THROWS_AS(other.merge(h), std::invalid_argument);
    CHECK(h.count() == 1);
    CHECK(other.count() == 1);
    CHECK_THROWS_AS(Histogram(0), std::invalid_argument);
}

TEST_CASE("empty and reset histograms report zeros") {
    Histogram h;
    auto check_empty = [](const Histogram& e) {
        CHECK(e.count() == 0);
        CHECK(e.min() == 0);
        CHECK(e.max() == 0);
        CHECK(e.mean() == 0.0);
        CHECK(e.stddev() == 0.0);
        CHECK(e.percentile(0) == 0);
        CHECK(e.percentile(50) == 0);
        CHECK(e.percentile(100) == 0);
        CHECK(buckets_of(e).empty());
    };
    check_empty(h);
    for (std::uint64_t v = 1; v < 1'000'000; v += 997)
        h.record(v);
    REQUIRE(h.count() > 0);
    h.reset();
    check_empty(h);
    // Recording after a reset must not remember the old minimum or maximum.
    h.record(5000);
    CHECK(h.min() == 5000);
    CHECK(h.max() == 5000);
    CHECK(h.mean() == 5000.0);
}

TEST_CASE("out-of-range values are clamped and still counted") {
    SUBCASE("above max_value") {
        Histogram h(1'000'000);
        h.record(5'000'000);
        h.record(UINT64_MAX);
        CHECK(h.count() == 2);
        CHECK(h.min() == 1'000'000);
        CHECK(h.max() == 1'000'000);
        CHECK(h.mean() == 1'000'000.0);
        CHECK(h.percentile(50) == 1'000'000);
        const Buckets b = buckets_of(h);
        REQUIRE(b.size() == 1);
        CHECK(b[0].second == 2);
        CHECK(within_precision(b[0].first, 1'000'000));
    }
    SUBCASE("above the default hour") {
        Histogram h;
        h.record(UINT64_MAX);
        CHECK(h.max() == kHourUs);
        CHECK(h.percentile(99) == kHourUs);
    }
    SUBCASE("zero counts as one") {
        Histogram h;
        h.record(0);
        CHECK(h.count() == 1);
        CHECK(h.min() == 1);
        CHECK(h.max() == 1);
        CHECK(h.mean() == 1.0);
        CHECK(buckets_of(h) == Buckets{{1, 1}});
    }
    SUBCASE("one, two and max_value itself") {
        Histogram h;
        h.record(1);
        h.record(2);
        h.record(kHourUs);
        CHECK(h.min() == 1);
        CHECK(h.max() == kHourUs);
        CHECK(h.percentile(33) == 1);
        CHECK(h.percentile(34) == 2);
        CHECK(h.percentile(67) == kHourUs);
        const Buckets b = buckets_of(h);
        REQUIRE(b.size() == 3);
        CHECK(within_precision(b[2].first, kHourUs));
    }
    SUBCASE("the largest possible max_value") {
        Histogram h(UINT64_MAX);
        h.record(UINT64_MAX);
        h.record(1);
        CHECK(h.max() == UINT64_MAX);
        CHECK(buckets_of(h) == Buckets{{1, 1}, {UINT64_MAX, 1}});
    }
}

TEST_CASE("mean and stddev hold for values on both sides of 2^32") {
    // Squares of values below 2^32 are summed as integers, larger ones in floating point:
    // both sums must meet in stddev, and match a two-pass reference.
    const Values values = {1, 7, 4'000'000'000ULL, (1ULL << 32) - 1, 1ULL << 32,
                           (1ULL << 40) + 3, 123'456'789'012ULL, 5};
    Histogram h(UINT64_MAX);
    long double sum = 0;
    for (std::uint64_t v : values) {
        h.record(v);
        sum += v;
    }
    const long double mean = sum / values.size();
    long double squares = 0;
    for (std::uint64_t v : values) squares += (v - mean) * (v - mean);
    CHECK(h.mean() == doctest::Approx(double(mean)).epsilon(1e-12));
    CHECK(h.stddev() == doctest::Approx(double(std::sqrt(squares / values.size()))).epsilon(1e-9));
    Histogram half(UINT64_MAX), other(UINT64_MAX);
    for (std::size_t i = 0; i < values.size(); ++i) (i % 2 ? half : other).record(values[i]);
    half.merge(other);
    CHECK(half.stddev() == doctest::Approx(h.stddev()).epsilon(1e-12));
}

TEST_CASE("values at bucket boundaries land in buckets of the expected width") {
    Values probes = {1, 2, 3, 1023, 1024, 1025, 2046, 2047, 2048, 2049, 2050, kHourUs - 1};
    for (int bit = 12; bit < 32; ++bit)
        for (std::uint64_t v : {(1ULL << bit) - 1, 1ULL << bit, (1ULL << bit) + 1})
            probes.push_back(v);
    for (std::uint64_t v : probes) {
        // Width 1 below 2048, then 2^(b-10) for values in [2^b, 2^(b+1)).
        const std::uint64_t width = v < 2048 ? 1 : 1ULL << (std::bit_width(v) - 11);
        Histogram h;
        h.record(v);
        h.record(kHourUs); // keeps the clamp to max() from hiding the bucket's upper bound
        INFO("value = ", v, ", width = ", width);
        CHECK(h.percentile(50) == std::min(v | (width - 1), kHourUs));
        CHECK(within_precision(h.percentile(50), v));
        CHECK(buckets_of(h).front().first == (v | (width - 1)));
    }
}

TEST_CASE("every value 1..5000 gives the HdrHistogram bucket layout") {
    Histogram h;
    for (std::uint64_t v = 1; v <= 5000; ++v)
        h.record(v);
    const Buckets b = buckets_of(h);
    // 2047 unit buckets below 2048, 1024 of width 2 up to 4095, ceil(905 / 4) of width 4.
    CHECK(b.size() == 2047 + 1024 + 227);
    std::uint64_t total = 0, previous = 0;
    for (auto [upper, count] : b) {
        CHECK(upper > previous);
        CHECK(count == std::min<std::uint64_t>(upper, 5000) - previous);
        total += count;
        previous = upper;
    }
    CHECK(total == 5000);
}

TEST_CASE("record(value, count) equals count single records") {
    Histogram bulk, single;
    const std::pair<std::uint64_t, std::uint64_t> records[] = {
        {1, 3}, {2047, 5}, {4097, 1000}, {123'456, 17}, {kHourUs, 2}, {0, 4}, {99, 0}};
    for (auto [value, count] : records) {
        bulk.record(value, count);
        for (std::uint64_t i = 0; i < count; ++i)
            single.record(value);
    }
    CHECK(bulk.count() == 1031);
    CHECK(bulk.count() == single.count());
    CHECK(bulk.min() == single.min());
    CHECK(bulk.max() == single.max());
    CHECK(bulk.mean() == doctest::Approx(single.mean()).epsilon(1e-12));
    CHECK(bulk.stddev() == doctest::Approx(single.stddev()).epsilon(1e-9));
    CHECK(buckets_of(bulk) == buckets_of(single));
    for (Pct p : percentiles_to_check())
        CHECK(bulk.percentile(p.value()) == single.percentile(p.value()));

    Histogram none;
    none.record(99, 0);
    CHECK(none.count() == 0);
    CHECK(none.min() == 0);
    CHECK(none.max() == 0);
}

TEST_CASE("recording, merging, querying and resetting never allocate") {
    Histogram h, other;
    other.record(77);
    const std::uint64_t before = g_allocations.load();
    std::uint64_t sink = 0;
    for (std::uint64_t v = 0; v < 100'000; ++v)
        h.record(v * 36'001, 1 + v % 3);
    h.merge(other);
    sink += h.percentile(99.9) + h.min() + h.max() + std::uint64_t(h.mean() + h.stddev());
    h.reset();
    const std::uint64_t after = g_allocations.load();
    CHECK(after == before);
    CHECK(sink > 0);
}

TEST_CASE("percentile distribution text") {
    const Values values = draw(21, [](auto& rng) {
        return in_range(std::ceil(std::exponential_distribution<double>(1 / 5000.0)(rng)));
    });
    const Histogram h = histogram_of(values);

    SUBCASE("rows and footer in HdrHistogram's format") {
        const Report r = parse_report(h);
        REQUIRE(r.lines.size() > 5);
        CHECK(r.lines[0] == kHeader);
        CHECK(r.lines[1].empty());
        REQUIRE(r.rows.size() > 20);

        // Ticks: 10% steps to 50%, then 5 per halving of the remaining distance.
        const double levels[] = {0,   0.1,  0.2,   0.3, 0.4,   0.5,  0.55,  0.6,   0.65,
                                 0.7, 0.75, 0.775, 0.8, 0.825, 0.85, 0.875, 0.8875};
        for (std::size_t i = 0; i < std::size(levels); ++i)
            CHECK(r.rows[i].fraction == doctest::Approx(levels[i]).epsilon(1e-12));

        for (std::size_t i = 0; i < r.rows.size(); ++i) {
            const Row& row = r.rows[i];
            INFO("row ", i, ": ", row.value, " ", row.fraction, " ", row.total);
            CHECK(row.fields == (i + 1 == r.rows.size() ? 3 : 4));
            CHECK(double(row.total) / h.count() >= row.fraction - 1e-12);
            // Each row is the bucket reaching its TotalCount, so it is that percentile.
            CHECK(row.value == double(h.percentile(100.0 * double(row.total) / h.count())));
            if (i == 0) continue;
            CHECK(row.value >= r.rows[i - 1].value);
            CHECK(row.fraction > r.rows[i - 1].fraction);
            CHECK(row.total >= r.rows[i - 1].total);
        }
        CHECK(r.rows.back().fraction == 1.0);
        CHECK(r.rows.back().total == h.count());
        CHECK(r.rows.back().value == double(h.max()));

        REQUIRE(r.footer.size() == 3);
        CHECK(r.lines.back() == r.footer.back());
        double mean = 0, stddev = 0, max = 0;
        unsigned long long total = 0;
        int buckets = 0, sub_buckets = 0;
        CHECK(std::sscanf(r.footer[0].c_str(), "#[Mean    = %lf, StdDeviation   = %lf]", &mean,
                          &stddev) == 2);
        CHECK(std::sscanf(r.footer[1].c_str(), "#[Max     = %lf, Total count    = %llu]", &max,
                          &total) == 2);
        CHECK(std::sscanf(r.footer[2].c_str(), "#[Buckets = %d, SubBuckets     = %d]", &buckets,
                          &sub_buckets) == 2);
        CHECK(mean == doctest::Approx(h.mean()).epsilon(1e-6));
        CHECK(stddev == doctest::Approx(h.stddev()).epsilon(1e-6));
        CHECK(max == double(h.max()));
        CHECK(total == h.count());
        CHECK(buckets == 22);
        CHECK(sub_buckets == 2048);
    }
    SUBCASE("scaled to milliseconds") {
        const Report r = parse_report(h, 1000.0);
        REQUIRE(!r.rows.empty());
        CHECK(r.rows.back().value == doctest::Approx(h.max() / 1000.0).epsilon(1e-9));
        CHECK(r.rows[0].value == doctest::Approx(h.percentile(1e-9) / 1000.0).epsilon(1e-9));
        double mean = 0, stddev = 0;
        REQUIRE(r.footer.size() == 3);
        CHECK(std::sscanf(r.footer[0].c_str(), "#[Mean    = %lf, StdDeviation   = %lf]", &mean,
                          &stddev) == 2);
        CHECK(mean == doctest::Approx(h.mean() / 1000.0).epsilon(1e-4));
    }
    SUBCASE("one tick per half distance") {
        const Report coarse = parse_report(h, 1.0, 1);
        const Report fine = parse_report(h);
        CHECK(coarse.rows.size() < fine.rows.size());
        REQUIRE(coarse.rows.size() > 4);
        const double levels[] = {0, 0.5, 0.75, 0.875};
        for (std::size_t i = 0; i < std::size(levels); ++i)
            CHECK(coarse.rows[i].fraction == levels[i]);
    }
}

TEST_CASE("percentile distribution text ends even when counts exceed double precision") {
    Histogram h;
    h.record(1, 10'000'000'000'000'000ULL);
    h.record(2);
    const Report r = parse_report(h);
    REQUIRE(r.rows.size() > 2);
    CHECK(r.rows.size() < 1000);
    CHECK(r.rows.back().fraction == 1.0);
    CHECK(r.rows.back().value == 2.0);
    CHECK(r.rows.back().total == 10'000'000'000'000'001ULL);
}

TEST_CASE("percentile distribution text of a constant and of an empty histogram") {
    Histogram h(1'000'000);
    const Report empty = parse_report(h);
    CHECK(empty.lines.size() == 5);
    CHECK(empty.lines[0] == kHeader);
    CHECK(empty.rows.empty());
    REQUIRE(empty.footer.size() == 3);
    CHECK(empty.footer[0] == "#[Mean    =        0.000, StdDeviation   =        0.000]");
    CHECK(empty.footer[1] == "#[Max     =        0.000, Total count    =            0]");
    CHECK(empty.footer[2] == "#[Buckets =           10, SubBuckets     =         2048]");

    h.record(123'457, 50);
    const Report constant = parse_report(h);
    REQUIRE(constant.rows.size() == 2);
    for (const Row& row : constant.rows) {
        CHECK(row.value == 123'457.0);
        CHECK(row.total == 50);
    }
    CHECK(constant.rows[0].fraction == 0.0);
    CHECK(constant.rows[1].fraction == 1.0);
    CHECK(constant.lines[2] == "  123457.000 0.000000000000         50           1.00");
    CHECK(constant.lines[3] == "  123457.000 1.000000000000         50");
}
