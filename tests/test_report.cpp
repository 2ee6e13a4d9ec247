// zlb-report's merge: logs summed count by count on absolute time, the warm-up cut on the
// earliest start, the series in steps by interval midpoint; and the JSON reader compare uses.
#include "report/json_read.hpp"
#include "report/merge.hpp"

#include <doctest/doctest.h>

#include <sstream>

using namespace zlb;

namespace {

// A log starting at start_ms whose interval i holds `per_interval` values of base + i.
hdr::Log log_of(std::int64_t start_ms, int intervals, int per_interval, std::uint64_t base) {
    std::string text = hdr::log_header(start_ms);
    for (int i = 0; i < intervals; ++i) {
        Histogram h;
        h.record(base + std::uint64_t(i), std::uint64_t(per_interval));
        text += hdr::log_interval("corrected", i, 1.0, h);
        Histogram u;
        u.record(1 + std::uint64_t(i), std::uint64_t(per_interval));
        text += hdr::log_interval("uncorrected", i, 1.0, u);
    }
    std::istringstream in(text);
    return hdr::log_read(in, "mem");
}

} // namespace

TEST_CASE("merge sums counts on absolute time and reads percentiles off the sum") {
    // B starts half a second after A; its latencies are ten times A's.
    std::vector<std::pair<std::string, hdr::Log>> logs{
        {"a", log_of(1'700'000'000'000, 4, 100, 100)}, {"b", log_of(1'700'000'000'500, 4, 300, 1000)}};
    const report::Merged m = report::merge(logs, 0);
    REQUIRE(m.logs.size() == 2);
    CHECK(m.all.corrected.count() == 1600);
    CHECK(m.all.uncorrected.count() == 1600);
    CHECK(m.t0_s == doctest::Approx(1'700'000'000.0));
    CHECK(m.all.start_s == doctest::Approx(1'700'000'000.0));
    CHECK(m.all.end_s == doctest::Approx(1'700'000'004.5));
    CHECK(m.all.throughput() == doctest::Approx(1600 / 4.5));
    CHECK(m.logs[1].throughput() == doctest::Approx(300.0));
    // One histogram holding every value: 400 of A's (100..103) and 1200 of B's (1000..1003).
    Histogram exact;
    for (int i = 0; i < 4; ++i) exact.record(100 + i, 100), exact.record(1000 + i, 300);
    for (double p : {10.0, 25.0, 26.0, 50.0, 90.0, 99.0, 100.0}) CHECK(m.all.corrected.percentile(p) == exact.percentile(p));
    CHECK(m.all.corrected.max() == 1003);
    // The mean of the two logs' p25s would be ~550; the union's p25 is one of A's values.
    CHECK(m.all.corrected.percentile(25) == 103);
    // The series: B's intervals (midpoints at +1.0, +2.0, ...) fall in the steps after A's.
    REQUIRE(m.series.size() == 5);
    CHECK(m.series[0].rps == doctest::Approx(100));
    CHECK(m.series[1].rps == doctest::Approx(400));
    CHECK(m.series[4].rps == doctest::Approx(300));
    std::uint64_t sum = 0;
    for (const auto& r : m.series) sum += std::uint64_t(r.rps * r.length_s + 0.5);
    CHECK(sum == 1600);
}

TEST_CASE("--skip-warmup cuts on the earliest start, not each log's own") {
    std::vector<std::pair<std::string, hdr::Log>> logs{
        {"a", log_of(1'700'000'000'000, 4, 100, 100)}, {"b", log_of(1'700'000'001'000, 4, 100, 100)}};
    const report::Merged m = report::merge(logs, 1.5);
    // A loses its intervals at +0 and +1, B (starting at +1) only the one at +1.
    CHECK(m.logs[0].skipped == 200);
    CHECK(m.logs[1].skipped == 100);
    CHECK(m.all.corrected.count() == 500);
    CHECK(m.all.skipped == 300);
    CHECK(m.all.start_s == doctest::Approx(1'700'000'002.0));
}

TEST_CASE("the JSON reader takes zlb's files and refuses junk") {
    const auto v = report::json_parse(
        R"({"requests": 10, "latency_us": {"p99": 1234, "max": 2e3}, "s": "a\"b\u0041", "x": [true, null]})");
    CHECK(v.number_at("requests") == 10);
    CHECK(v.number_at("latency_us.p99") == 1234);
    CHECK(v.number_at("latency_us.max") == 2000);
    CHECK(!v.number_at("latency_us.p50"));
    CHECK(!v.number_at("s"));
    CHECK(v.object.at("s").string == "a\"bA");
    for (const char* bad : {"{", "[1,]", "{\"a\" 1}", "nul", "1 2", "\"open"})
        CHECK_THROWS_AS(report::json_parse(bad), std::runtime_error);
    CHECK_THROWS_WITH(report::json_parse(std::string(100, '[') + std::string(100, ']')),
                      doctest::Contains("too deep"));
}
