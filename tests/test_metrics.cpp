// metrics/: the --metrics address, duration buckets (le: at most the bound), what the
// catalog makes of its cells, and the bound on the broker's worker-name labels.
#include "metrics/broker_series.hpp"
#include "metrics/exposer.hpp"
#include "metrics/server_series.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <map>
#include <stdexcept>

using namespace zlb::metrics;

namespace {

const prometheus::MetricFamily& family(const std::vector<prometheus::MetricFamily>& all,
                                       const std::string& name) {
    for (const auto& f : all)
        if (f.name == name) return f;
    throw std::runtime_error("no family " + name);
}

std::string label(const prometheus::ClientMetric& m, const std::string& name) {
    for (const auto& l : m.label)
        if (l.name == name) return l.value;
    return "";
}

} // namespace

TEST_CASE("listen_address: a bare port is loopback; hosts are IP addresses") {
    CHECK(listen_address("9100") == "127.0.0.1:9100");
    CHECK(listen_address("10.1.2.3:9100") == "10.1.2.3:9100");
    CHECK(listen_address("[::1]:9100") == "[::1]:9100");
    CHECK(listen_address("*:9100") == "0.0.0.0:9100");
    for (const char* bad : {"", "0", "65536", "99999", "abc", "127.0.0.1", "127.0.0.1:", ":9100",
                            "localhost:9100", "1.2.3.4.5:80", "[::1:80", "[zz]:80", "1.2.3.4:0x10",
                            "tcp://1.2.3.4:80", "1.2.3.4:*"})
        CHECK_THROWS_AS(listen_address(bad), std::invalid_argument);
}

TEST_CASE("durations land in the first bucket whose bound they do not exceed") {
    DurationHistogram h;
    h.observe_us(0);
    h.observe_us(10);         // le 10 us
    h.observe_us(11);         // le 25 us
    h.observe_us(60'000'000); // the last bound
    h.observe_us(60'000'001); // +Inf
    CHECK(h.bucket(0) == 2);
    CHECK(h.bucket(1) == 1);
    CHECK(h.bucket(kDurationBoundsUs.size() - 1) == 1);
    CHECK(h.bucket(kDurationBoundsUs.size()) == 1);
    CHECK(h.sum_us() == 120'000'022);
}

TEST_CASE("the server's catalog: bounded label sets, cumulative buckets in seconds") {
    ServerSeries s;
    s.request_done(zlb::proto::Op::echo, std::nullopt, 3);
    s.request_done(zlb::proto::Op::echo, std::nullopt, 30);
    s.request_done(std::nullopt, zlb::proto::ErrorCode::bad_request, 1);
    Catalog c;
    s.catalog_fill(c);
    auto all = c.Collect();
    const auto& requests = family(all, "zlb_server_requests_total");
    CHECK(requests.type == prometheus::MetricType::Counter);
    CHECK(requests.metric.size() == kOpLabels * ServerSeries::kOutcomes);
    double echo_ok = -1, unknown_bad = -1;
    for (const auto& m : requests.metric) {
        if (label(m, "op") == "echo" && label(m, "code") == "ok") echo_ok = m.counter.value;
        if (label(m, "op") == "unknown" && label(m, "code") == "bad_request") unknown_bad = m.counter.value;
    }
    CHECK(echo_ok == 2);
    CHECK(unknown_bad == 1);
    const auto& durations = family(all, "zlb_server_request_duration_seconds");
    const auto& echo = durations.metric[static_cast<std::size_t>(zlb::proto::Op::echo)];
    CHECK(label(echo, "op") == "echo");
    CHECK(echo.histogram.sample_count == 2);
    CHECK(echo.histogram.sample_sum == doctest::Approx(33e-6));
    CHECK(echo.histogram.bucket.front().upper_bound == doctest::Approx(10e-6));
    CHECK(echo.histogram.bucket.front().cumulative_count == 1);
    CHECK(echo.histogram.bucket[2].cumulative_count == 2); // le 50 us
    CHECK(echo.histogram.bucket.back().cumulative_count == 2);
    CHECK_THROWS_AS(c.counter("zlb_server_requests_total", "again"), std::logic_error);
}

TEST_CASE("worker names past the bound share worker=\"_other\"; a name goes with its last worker") {
    BrokerSeries s;
    Count a, b, d;
    Catalog c;
    s.catalog_fill(c, {a, b, d});
    std::vector<std::uint32_t> slots;
    for (std::size_t i = 0; i < BrokerSeries::kWorkerNamesMax + 3; ++i) {
        char name[16]; // not "w" + to_string(i): g++ 12 -O3 warns (-Wrestrict) on that falsely
        std::snprintf(name, sizeof name, "w%zu", i);
        slots.push_back(s.worker_slot(name));
    }
    std::uint32_t twin = s.worker_slot("w0"); // the same name: the same series
    CHECK(twin == slots[0]);
    for (auto slot : slots) s.tally_add(slot, 2, 1);
    s.tally_add(twin, 2, 1);
    s.tally_publish();
    auto credit = [&] {
        std::map<std::string, double> out;
        const auto all = c.Collect();
        for (const auto& m : family(all, "zlb_broker_worker_credit").metric)
            out[label(m, "worker")] = m.gauge.value;
        return out;
    };
    auto seen = credit();
    CHECK(seen.size() == BrokerSeries::kWorkerNamesMax + 1);
    CHECK(seen["_other"] == 6);
    CHECK(seen["w0"] == 4);
    CHECK(seen["w1"] == 2);
    s.worker_slot_release(slots[1]);
    s.tally_publish(); // sums were reset: nothing tallied this turn
    seen = credit();
    CHECK(seen.count("w1") == 0);
    CHECK(seen.size() == BrokerSeries::kWorkerNamesMax);
    // The freed slot goes to the next new name.
    CHECK(s.worker_slot("newcomer") == slots[1]);
}
