// The client's report files and accounting: the --hist format, warm-up exclusion, the
// interval series, the percentile curve behind the plot, and the SVG itself.
#include "client/endpoints.hpp"
#include "core/endpoint.hpp"
#include "report/plot.hpp"
#include "client/report.hpp"
#include "client/units.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

using namespace zlb::client;
using namespace zlb::report;
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

TEST_CASE("closed loop: the uncorrected latency is the corrected one, recorded once") {
    Report r("echo", {false, 0, 0});
    for (std::uint64_t us : {120, 450, 9000}) r.outcome_ok(ok_after(us, us));
    r.outcome_error(ok_after(77, 77), "overloaded");
    CHECK(r.uncorrected().count() == 4);
    CHECK(r.uncorrected().min() == 77);
    CHECK(r.uncorrected().max() == r.overall().latency_us.max());
    CHECK(r.uncorrected().percentile(50) == r.overall().latency_us.percentile(50));
}

TEST_CASE("without intervals nothing is recorded for them") {
    Report r("echo", {false, 0, 0, false});
    r.outcome_ok(ok_after(100, 100));
    r.interval_close(1.0, 1.0, false);
    REQUIRE(r.intervals().size() == 1);
    CHECK(r.intervals()[0].p99_us == 0);
    Report on("echo", {false, 0, 0, true});
    on.outcome_ok(ok_after(100, 100));
    on.interval_close(1.0, 1.0, false);
    REQUIRE(on.intervals().size() == 1);
    CHECK(on.intervals()[0].p99_us > 0);
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

// Issue 10: durations with units, thresholds, error messages, units of the table and the
// endpoint checks, each without a process.
TEST_CASE("durations take us, ms, s, m and h; a bare number is seconds") {
    CHECK(parse_duration_s("30s", "--duration") == doctest::Approx(30));
    CHECK(parse_duration_s("1m", "--duration") == doctest::Approx(60));
    CHECK(parse_duration_s("500ms", "--duration") == doctest::Approx(0.5));
    CHECK(parse_duration_s("1.5", "--duration") == doctest::Approx(1.5));
    CHECK(parse_duration_s("2h", "--duration") == doctest::Approx(7200));
    CHECK(parse_duration_s("250us", "--duration") == doctest::Approx(0.00025));
    for (const char* bad : {"", "s", "-1s", "1x", "1 s", "1sec", "abc"}) {
        CAPTURE(bad);
        CHECK_THROWS_WITH_AS(parse_duration_s(bad, "--warmup"), doctest::Contains("--warmup"),
                             std::invalid_argument);
    }
}

TEST_CASE("thresholds parse percentiles, max and the error rate") {
    auto p99 = parse_slo("p99<5ms");
    CHECK(p99.metric == Slo::Metric::p99);
    CHECK(p99.limit == doctest::Approx(5000));
    CHECK_FALSE(p99.inclusive);
    auto p50 = parse_slo("p50<=800us");
    CHECK(p50.inclusive);
    CHECK(p50.limit == doctest::Approx(800));
    CHECK(parse_slo("max<1s").limit == doctest::Approx(1e6));
    CHECK(parse_slo("p999<2").limit == doctest::Approx(2000)); // ms without a unit
    CHECK(parse_slo("error_rate<1%").limit == doctest::Approx(0.01));
    CHECK(parse_slo("error_rate<0.05").limit == doctest::Approx(0.05));
    for (const char* bad : {"p98<5ms", "p99>5ms", "p99<", "p99<5m", "error_rate<1ms", "p99"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(parse_slo(bad), std::invalid_argument);
    }
}

TEST_CASE("a failed threshold makes the exit code 3; an interrupted run 130") {
    Report r("echo");
    for (std::uint64_t us = 100; us <= 10'000; us += 100) r.outcome_ok(ok_after(us, us));
    r.finish(1.0);
    r.slo_evaluate({parse_slo("p50<1s"), parse_slo("error_rate<1%")});
    CHECK(r.slo_ok());
    CHECK(r.exit_code() == 0);
    r.slo_evaluate({parse_slo("p99<5ms"), parse_slo("max<=1s")});
    CHECK_FALSE(r.slo_ok());
    CHECK_FALSE(r.slo_results()[0].ok);
    CHECK(r.slo_results()[0].value == doctest::Approx(9900).epsilon(0.01));
    CHECK(r.slo_results()[1].ok);
    CHECK(r.exit_code() == 3);
    r.interrupted(5, 2, 1.0);
    CHECK(r.exit_code() == 130);
}

TEST_CASE("error messages: a few per code, each counted, the rest as other") {
    Report r("fetch");
    for (int i = 0; i < 4; ++i) r.outcome_error(ok_after(10, 10), "fetch_failed", "Couldn't connect");
    r.outcome_error(ok_after(10, 10), "fetch_failed", "Timeout was reached");
    for (const char* m : {"a", "b", "c"}) r.outcome_error(ok_after(10, 10), "fetch_failed", m);
    r.outcome_error(ok_after(10, 10), "bad_request", "line\nbreak");
    r.outcome_timeout("s1", false, "no reply within 100 ms, 3 attempts");
    const auto& m = r.error_messages();
    REQUIRE(m.count("fetch_failed") == 1);
    const auto& f = m.at("fetch_failed");
    REQUIRE(f.messages.size() == ErrorMessages::kMaxMessages);
    CHECK(f.messages[0] == std::pair<std::string, std::uint64_t>{"Couldn't connect", 4});
    CHECK(f.messages[1].second == 1);
    CHECK(f.other == 2);
    CHECK(m.at("bad_request").messages[0].first == "line break"); // one line each
    CHECK(m.at("timeout(client)").messages[0].second == 1);
}

TEST_CASE("the table shows ms, and s once values reach 100 s; columns never run together") {
    auto table = [](std::uint64_t us) {
        Report r("echo");
        r.outcome_ok(ok_after(us, us));
        r.finish(1.0);
        std::string path = temp_path("table.txt");
        std::FILE* f = std::fopen(path.c_str(), "w");
        r.table_print(f);
        std::fclose(f);
        return file_read(path);
    };
    auto small = table(62);
    CHECK(small.find("latency (ms)") != std::string::npos);
    CHECK(small.find("0.062") != std::string::npos);
    auto large = table(123'456'789);
    CHECK(large.find("latency (s)") != std::string::npos);
    CHECK(large.find(" 123.") != std::string::npos);
    auto mid = table(12'345'678); // 8 digits of us: 12345.678 ms, still apart
    CHECK(mid.find(" 12345.") != std::string::npos);
    CHECK(mid.find("12345.67812345") == std::string::npos);
}

TEST_CASE("factor runs count numbers; fetch runs their HTTP statuses") {
    Report r("factor", RunMode{false, 0, 0});
    Outcome o = ok_after(100, 100);
    o.items = 8;
    for (int i = 0; i < 5; ++i) r.outcome_ok(o);
    r.finish(2.0);
    CHECK(r.items() == 40);
    Report f("fetch");
    for (long status : {200L, 200L, 404L, 500L}) {
        Outcome h = ok_after(100, 100);
        h.http_status = status;
        f.outcome_ok(h);
    }
    CHECK(f.http_statuses() == std::map<long, std::uint64_t>{{200, 2}, {404, 1}, {500, 1}});
}

TEST_CASE("endpoints: ports outside 1..65535 and malformed ones are refused, naming them") {
    for (const char* bad : {"tcp://127.0.0.1:99999", "tcp://127.0.0.1:0", "tcp://127.0.0.1:65536",
                            "tcp://127.0.0.1", "127.0.0.1:8004", "tcp://:8004", "udp://h:1",
                            "tcp://host name:1", "tcp://h:80x", "tcp://127.0.0.1:1-70000",
                            "tcp://h:*", "ipc://"}) {
        CAPTURE(bad);
        try {
            endpoints_expand(bad);
            FAIL("accepted");
        } catch (const std::invalid_argument& e) {
            CHECK(std::string(e.what()).find(bad) != std::string::npos);
        }
    }
    for (const char* good : {"tcp://127.0.0.1:1", "tcp://localhost:65535", "tcp://[::1]:8004",
                             "ipc:///tmp/zlb.sock", "inproc://x", "tcp://a-b.example.org:80"})
        CHECK_NOTHROW(endpoints_expand(good));
    CHECK(endpoints_expand("tcp://h:8004-8006").size() == 3);
    CHECK_NOTHROW(zlb::endpoint_check("tcp://*:*", true));
    std::vector<std::string> dropped;
    auto unique = endpoints_unique({"tcp://a:1", "tcp://b:1", "tcp://a:1"}, dropped);
    CHECK(unique == std::vector<std::string>{"tcp://a:1", "tcp://b:1"});
    CHECK(dropped == std::vector<std::string>{"tcp://a:1"});
}

TEST_CASE("what servers name is bounded: names and codes in number and length, printable") {
    Report r("echo");
    // A hostile server names itself anew in every reply, with escapes and at length.
    for (int i = 0; i < 2000; ++i) {
        std::string name = "\x1b[31mserver-" + std::to_string(i) + std::string(i % 3 ? 0 : 100'000, 'x');
        r.outcome_ok(ok_after(100, 10));
        r.outcome_error({name, {100, 100}, 10, false}, "code-" + std::to_string(i), "m");
        r.outcome_ok({name, {100, 100}, 10, false});
    }
    r.finish(1.0);
    const auto& servers = r.servers();
    CHECK(servers.size() <= Report::kMaxServers + 1);
    REQUIRE(servers.count("(other servers)") == 1);
    std::uint64_t counted = 0;
    for (const auto& [name, g] : servers) {
        CHECK(name.size() <= Report::kMaxKeyBytes);
        for (char c : name) CHECK((c >= 0x20 && c < 0x7f));
        counted += g.count;
    }
    CHECK(counted == r.overall().count); // every outcome still counted once
    CHECK(r.overall().count == 6000);
    CHECK(r.overall().latency_us.count() == 6000);
    CHECK(servers.count("?[31mserver-1") == 1); // the escape shows as ?, the name stays
    CHECK(r.error_messages().size() <= Report::kMaxCodes + 1);
    CHECK(r.error_messages().count("(other codes)") == 1);
}

TEST_CASE("each server's outcomes land in its own group, with more servers than remembered") {
    // The report remembers the last few groups it found by name: six names taking turns
    // (more than it remembers), some of the same length and last byte, must each count
    // exactly their own outcomes, with their own latencies.
    Report r("echo");
    const std::vector<std::string> names = {"vm:1001", "vm:1011", "vm:2001", "a", "b:1", "vm:1001x"};
    for (int round = 0; round < 50; ++round)
        for (std::size_t i = 0; i < names.size(); ++i)
            for (std::size_t k = 0; k <= i; ++k) r.outcome_ok(ok_after(100 * (i + 1), 10, false, names[i]));
    r.finish(1.0);
    const auto& servers = r.servers();
    REQUIRE(servers.size() == names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
        const auto& g = servers.at(names[i]);
        CHECK(g.count == 50 * (i + 1));
        CHECK(g.latency_us.min() == 100 * (i + 1));
        CHECK(g.latency_us.max() == 100 * (i + 1));
    }
    // A report moved elsewhere records into its own groups.
    Report moved = std::move(r);
    moved.outcome_ok(ok_after(7, 7, false, "a"));
    CHECK(moved.servers().at("a").count == 50 * 4 + 1);
}

TEST_CASE("a report assigned over another records into its own groups") {
    // Assignment (move, through the remembered groups' copy) must leave them pointing
    // into the report assigned to, never into the one it came from.
    Report a("echo"), b("echo");
    a.outcome_ok(ok_after(10, 10, false, "s"));
    b.outcome_ok(ok_after(20, 20, false, "s"));
    b = std::move(a);
    b.outcome_ok(ok_after(30, 30, false, "s"));
    CHECK(b.servers().at("s").count == 2);
    CHECK(b.servers().at("s").latency_us.max() == 30);
}
