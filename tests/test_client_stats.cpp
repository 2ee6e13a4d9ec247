// The client's report files and accounting: the --hist format, warm-up exclusion, the
// interval series, the percentile curve behind the plot, and the SVG itself.
#include "client/plot.hpp"
#include "client/report.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace zlb::client;
using zlb::Histogram;

namespace {

struct HistRow {
    double value, percentile;
    std::uint64_t total;
};

std::string temp_path(const char* name) {
    return "/tmp/zlb-test-client-" + std::to_string(::getpid()) + "-" + name;
}

std::string file_read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

Outcome ok_after(std::uint64_t corrected_us, std::uint64_t uncorrected_us, bool warmup = false,
                 std::string_view server = "s1") {
    return {server, {corrected_us, uncorrected_us}, 5, warmup};
}

} // namespace

TEST_CASE("--hist writes HdrHistogram's percentile distribution in milliseconds") {
    Report r("echo", {true, 1000, 0});
    for (std::uint64_t i = 1; i <= 10'000; ++i)
        r.outcome_ok(ok_after(100 + i % 977 * 13, 100));
    r.outcome_ok(ok_after(2'500'000, 100)); // one 2.5 s stall
    const std::string path = temp_path("hist.txt");
    r.hist_write(path);
    std::istringstream text(file_read(path));
    std::remove(path.c_str());

    std::string line;
    REQUIRE(std::getline(text, line));
    std::istringstream header(line);
    std::string value, percentile, total_count, inverse;
    header >> value >> percentile >> total_count >> inverse;
    CHECK(value == "Value");
    CHECK(percentile == "Percentile");
    CHECK(total_count == "TotalCount");
    CHECK(inverse == "1/(1-Percentile)");
    REQUIRE(std::getline(text, line));
    CHECK(line.empty());

    std::vector<HistRow> rows;
    std::vector<std::string> footer;
    while (std::getline(text, line)) {
        if (line.rfind("#[", 0) == 0) {
            footer.push_back(line);
            continue;
        }
        REQUIRE(footer.empty()); // nothing after the footer starts
        HistRow row{};
        REQUIRE(std::sscanf(line.c_str(), "%lf %lf %llu", &row.value, &row.percentile,
                            reinterpret_cast<unsigned long long*>(&row.total)) == 3);
        rows.push_back(row);
    }
    REQUIRE(rows.size() > 20);
    for (std::size_t i = 1; i < rows.size(); ++i) {
        CHECK(rows[i].value >= rows[i - 1].value);
        CHECK(rows[i].percentile >= rows[i - 1].percentile);
        CHECK(rows[i].total >= rows[i - 1].total);
    }
    CHECK(rows.front().value == doctest::Approx(0.100)); // ms, not us
    CHECK(rows.back().percentile == 1.0);
    CHECK(rows.back().total == 10'001);
    CHECK(rows.back().value == doctest::Approx(2500).epsilon(0.001));
    REQUIRE(footer.size() == 3);
    CHECK(footer[0].find("Mean") != std::string::npos);
    CHECK(footer[1].find("Total count    =        10001") != std::string::npos);
    CHECK(footer[2].find("Buckets") != std::string::npos);
}

TEST_CASE("warm-up outcomes get counted apart and stay out of the statistics") {
    Report r("echo", {true, 100, 1.0});
    for (int i = 0; i < 100; ++i)
        r.outcome_ok(ok_after(50'000, 100, true));
    r.outcome_timeout("s1", true);
    for (int i = 0; i < 300; ++i)
        r.outcome_ok(ok_after(200, 150));
    r.outcome_error(ok_after(300, 300), "overloaded");
    r.finish(4.0);
    CHECK(r.overall().count == 301);
    CHECK(r.overall().ok == 300);
    CHECK(r.overall().timeouts == 0);
    CHECK(r.overall().latency_us.count() == 301);
    CHECK(r.overall().latency_us.max() < 1000); // the slow warm-up never shows
    CHECK(r.uncorrected().count() == 301);
    CHECK(r.warmup().count == 101);
    CHECK(r.warmup().ok == 100);
    CHECK(r.warmup().timeouts == 1);
    CHECK(r.throughput() == doctest::Approx(301.0 / 3.0)); // over the 3 measured seconds
    CHECK_FALSE(r.all_ok()); // the warm-up timeout and the error both count for the exit code
}

TEST_CASE("a run of only ok outcomes is all ok, warm-up included") {
    Report r("echo", {false, 0, 0.5});
    r.outcome_ok(ok_after(10, 10, true));
    r.outcome_ok(ok_after(10, 10));
    CHECK(r.all_ok());
    r.outcome_timeout("", true);
    CHECK_FALSE(r.all_ok());
}

TEST_CASE("intervals hold what ended within them, and start over empty") {
    Report r("echo", {true, 100, 1.0});
    for (int i = 1; i <= 100; ++i)
        r.outcome_ok(ok_after(i * 10, 5, true));
    const IntervalRow first = r.interval_close(1.0, 1.0, true);
    CHECK(first.rps == doctest::Approx(100));
    CHECK(first.p50_us == 500);
    CHECK(first.p99_us == 990);
    CHECK(first.errors == 0);
    CHECK(first.warmup);
    r.outcome_timeout("s1", false);
    r.outcome_ok(ok_after(7, 7));
    const IntervalRow second = r.interval_close(1.5, 0.5, false);
    CHECK(second.rps == doctest::Approx(4)); // 2 outcomes in half a second
    CHECK(second.p50_us == 7);               // the first interval's values are gone
    CHECK(second.errors == 1);
    const IntervalRow empty = r.interval_close(2.5, 1.0, false);
    CHECK(empty.rps == 0);
    CHECK(empty.p99_us == 0);
    CHECK(r.intervals().size() == 3);
}

TEST_CASE("percentile_curve agrees with Histogram::percentile everywhere") {
    Histogram h;
    for (std::uint64_t v = 1; v <= 50'000; v += 7)
        h.record(v * v % 1'000'003 + 1);
    h.record(30'000'000);
    std::vector<double> pcts;
    for (int k = 0; k <= 600; ++k)
        pcts.push_back(100 * (1 - std::pow(10.0, -6.0 * k / 600)));
    pcts.push_back(100);
    const auto curve = percentile_curve(h, pcts);
    REQUIRE(curve.size() == pcts.size());
    for (std::size_t i = 0; i < pcts.size(); ++i) {
        INFO("p = ", pcts[i]);
        CHECK(curve[i] == h.percentile(pcts[i]));
    }
    CHECK(percentile_curve(Histogram(), {0, 50, 100}) == std::vector<std::uint64_t>{0, 0, 0});
}

TEST_CASE("the SVG stands alone and has both views, axes and a legend") {
    Histogram all, one, two;
    for (std::uint64_t v = 100; v < 20'000; v += 3) {
        all.record(v);
        (v % 2 ? one : two).record(v);
    }
    std::vector<IntervalRow> rows;
    for (int t = 1; t <= 5; ++t)
        rows.push_back({double(t), 1, 500, 120, t == 3 ? 0u : 900u, 0, t == 1});
    PlotInput in{
        "zlb-client echo <test> & more",
        {{"all servers", &all, false}, {"server-1", &one, false}, {"server-2", &two, false}},
        &rows,
        1.0};
    std::ostringstream out;
    svg_write(out, in);
    const std::string svg = out.str();
    CHECK(svg.rfind("<?xml", 0) == 0);
    CHECK(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
    CHECK(svg.find("</svg>") != std::string::npos);
    CHECK(svg.find("&lt;test&gt; &amp; more") != std::string::npos); // escaped
    for (const char* s :
         {"90%", "99%", "99.9%", "99.99%", "latency (ms)", "server-1", "server-2",
          "throughput (req/s)", "p99 latency (ms)", "warm-up", "time since start (s)"})
        CHECK_MESSAGE(svg.find(s) != std::string::npos, s);
    // Nothing to fetch when it is viewed: no links, scripts or external images.
    CHECK(svg.find("href") == std::string::npos);
    CHECK(svg.find("<script") == std::string::npos);
    // Three curves plus rps and p99 (broken in two at the empty interval 3).
    std::size_t polylines = 0;
    for (auto at = svg.find("<polyline"); at != std::string::npos;
         at = svg.find("<polyline", at + 1))
        ++polylines;
    CHECK(polylines == 3 + 1 + 2);
}

TEST_CASE("the SVG copes with an empty run") {
    Histogram empty;
    PlotInput in{"nothing", {{"all servers", &empty, false}}, nullptr, 0};
    std::ostringstream out;
    svg_write(out, in);
    CHECK(out.str().find("no intervals recorded") != std::string::npos);
    CHECK(out.str().find("nan") == std::string::npos);
}

TEST_CASE("server names can't break the SVG") {
    Histogram h;
    h.record(100);
    std::string long_utf8;
    for (int i = 0; i < 30; ++i) long_utf8 += "\xc3\xa9"; // é, two bytes each
    PlotInput in{"t", {{"all", &h, false}, {"bad\x01name", &h, false}, {long_utf8, &h, false}},
                 nullptr, 0};
    std::ostringstream out;
    svg_write(out, in);
    const std::string svg = out.str();
    CHECK(svg.find("bad?name") != std::string::npos);
    CHECK(svg.find(long_utf8.substr(0, 40) + "<") != std::string::npos); // 20 whole letters
    CHECK(svg.find('\x01') == std::string::npos);
}
