// The open-loop timetable and its coordinated-omission arithmetic, on synthetic times:
// nothing here sleeps.
#include "client/schedule.hpp"

#include <doctest/doctest.h>

using zlb::client::Schedule;
using namespace std::chrono;
using zlb::Clock;

namespace {

const Clock::time_point t0 = Clock::time_point{} + hours(1);

} // namespace

TEST_CASE("request i is due at start + i / rate") {
    Schedule s(500, t0);
    CHECK(s.due(0) == t0);
    CHECK(s.due(1) == t0 + 2ms);
    CHECK(s.due(500) == t0 + 1s);
    CHECK(s.due(1'000'000) == t0 + 2000s);
    Schedule third(3, t0);
    CHECK(third.due(1) == t0 + nanoseconds(333'333'333));
    CHECK(third.due(2) == t0 + nanoseconds(666'666'667));
    CHECK(third.due(3) == t0 + 1s); // no drift from summing rounded periods
}

TEST_CASE("due times never go backwards, even at fractional rates") {
    Schedule s(7.3, t0);
    for (std::uint64_t i = 1; i < 10'000; ++i)
        CHECK(s.due(i) > s.due(i - 1));
    Schedule fast(1e6, t0);
    CHECK(fast.due(1) == t0 + 1us);
}

TEST_CASE("count_within is the number of due times before the end") {
    CHECK(Schedule(500, t0).count_within(4) == 2000);
    CHECK(Schedule(3, t0).count_within(0.5) == 2); // due at 0 and 1/3 s
    CHECK(Schedule(3, t0).count_within(1) == 3);   // 1 s itself is excluded
    CHECK(Schedule(1000, t0).count_within(0.0001) == 1);
    CHECK(Schedule(10, t0).count_within(0) == 0);
    // Whatever count_within says, the last one is due within the duration.
    for (double rate : {1.0, 3.0, 7.3, 333.3, 500.0, 12345.0}) {
        Schedule s(rate, t0);
        const std::uint64_t n = s.count_within(2.5);
        CHECK(s.due(n - 1) < t0 + 2500ms);
        CHECK(s.due(n) >= t0 + 2500ms - 1ns);
    }
}

TEST_CASE("corrected latency counts from the due time, uncorrected from the send") {
    Schedule s(100, t0); // every 10 ms
    // The server stalls: request 5 is due at 50 ms but goes out at 950 ms when a slot
    // frees, and is answered 1 ms later.
    const auto due = s.due(5), sent = t0 + 950ms, done = sent + 1ms;
    const auto l = zlb::client::latency_of(due, sent, done);
    CHECK(l.corrected_us == 901'000);
    CHECK(l.uncorrected_us == 1'000);
    // On time, the two agree.
    const auto on_time = zlb::client::latency_of(s.due(6), s.due(6), s.due(6) + 250us);
    CHECK(on_time.corrected_us == on_time.uncorrected_us);
    CHECK(on_time.corrected_us == 250);
    // A clock read before the due time (it can't happen, but) never wraps around.
    CHECK(zlb::us_between(t0 + 1s, t0) == 0);
}

TEST_CASE("a start is late when the window was full at its due time") {
    Schedule s(100, t0);
    const auto due = s.due(10); // 100 ms
    // The window last had a slot freed before the request was due: it went on time.
    CHECK_FALSE(Schedule::late(due, due + 50us, t0 + 20ms));
    CHECK_FALSE(Schedule::late(due, due, Clock::time_point{}));
    // The window was full at 100 ms and only got room at 101 ms: late, though only by 1 ms.
    CHECK(Schedule::late(due, due + 1ms, due + 1ms));
    // A slot freed exactly at the due time was free in time.
    CHECK_FALSE(Schedule::late(due, due + 1ms, due));
}

TEST_CASE("a start is late when the client itself fell behind") {
    Schedule s(100, t0);
    const auto due = s.due(3);
    CHECK_FALSE(Schedule::late(due, due + Schedule::kLateAfter, t0));
    CHECK(Schedule::late(due, due + Schedule::kLateAfter + 1us, t0));
    CHECK(Schedule::late(due, due + 2s, t0));
}

TEST_CASE("seconds_of keeps fractions") {
    CHECK(zlb::seconds_of(0.25) == 250ms);
    CHECK(zlb::seconds_of(0) == Clock::duration::zero());
    CHECK(zlb::seconds_of(1.5) == 1500ms);
}
