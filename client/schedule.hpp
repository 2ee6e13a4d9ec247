#pragma once
// The open-loop timetable: request i is due at start + i/rate whatever the replies do.
// Latency counted from the due time (not the actual send) corrects for coordinated
// omission as wrk2 does: a stall delays the sends behind it, and they are charged for it.
#include "core/clock.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>

namespace zlb::client {

class Schedule {
  public:
    // How far behind its due time a send may go before it counts as a late start, when
    // the window had room: covers timer wake-up jitter, not a client that can't keep up.
    static constexpr std::chrono::milliseconds kLateAfter{10};

    Schedule(double rate_per_s, Clock::time_point start) : rate_(rate_per_s), start_(start) {}

    double rate() const { return rate_; }
    Clock::time_point start() const { return start_; }

    Clock::time_point due(std::uint64_t i) const {
        // From i each time instead of summing periods, so rounding never accumulates.
        return start_ + std::chrono::nanoseconds(std::llround(double(i) * 1e9 / rate_));
    }

    // How many requests fall due in [start, start + seconds): ceil(rate * seconds).
    std::uint64_t count_within(double seconds) const {
        const double n = std::ceil(rate_ * seconds - 1e-9);
        if (!(n > 0)) return 0;
        return n >= 9e18 ? std::numeric_limits<std::uint64_t>::max() : std::uint64_t(n);
    }

    // A late start had to wait: all window slots were still busy at its due time (the
    // window last went from full to having room after it was due), or the client itself
    // fell behind by more than kLateAfter. k6 counts the first kind as dropped_iterations.
    static bool late(Clock::time_point due, Clock::time_point sent,
                     Clock::time_point window_freed) {
        return window_freed > due || sent - due > kLateAfter;
    }

  private:
    double rate_;
    Clock::time_point start_;
};

// What one request's outcome is charged: from its due time (corrected) and from its
// first actual send (uncorrected). In a closed loop the two are the same instant.
struct Latency {
    std::uint64_t corrected_us;
    std::uint64_t uncorrected_us;
};

inline Latency latency_of(Clock::time_point due, Clock::time_point first_sent,
                          Clock::time_point done) {
    return {us_between(due, done), us_between(first_sent, done)};
}

} // namespace zlb::client
