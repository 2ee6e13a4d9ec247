#pragma once
// The one clock of zlb, and where engines read it. Processes read the steady clock;
// tests hand an engine a ManualTime and step it, so timeouts, retries, heartbeats and
// queue expiry are tested without sleeping.
#include <atomic>
#include <chrono>
#include <cstdint>

namespace zlb {

using Clock = std::chrono::steady_clock;

class TimeSource {
public:
    virtual ~TimeSource() = default;
    virtual Clock::time_point now() const = 0;
};

class SteadyTime final : public TimeSource {
public:
    Clock::time_point now() const override { return Clock::now(); }
};

// The process-wide steady clock.
inline const TimeSource& steady_time() {
    static const SteadyTime time;
    return time;
}

// Time that moves only when a test moves it. Atomic: worker threads read it too.
class ManualTime final : public TimeSource {
public:
    // Starts at an arbitrary point well away from the epoch, like the steady clock.
    explicit ManualTime(Clock::time_point start = Clock::time_point(std::chrono::hours(1)))
        : ticks_(start.time_since_epoch().count()) {}
    Clock::time_point now() const override {
        return Clock::time_point(Clock::duration(ticks_.load(std::memory_order_acquire)));
    }
    void advance(Clock::duration d) { ticks_.fetch_add(d.count(), std::memory_order_acq_rel); }

private:
    std::atomic<Clock::rep> ticks_;
};

// Whole microseconds from `from` to `to`; 0 when `to` is not later.
inline std::uint64_t us_between(Clock::time_point from, Clock::time_point to) {
    if (to <= from) return 0;
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(to - from).count());
}

// Fractional seconds from a flag as a clock duration.
inline Clock::duration seconds_of(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

} // namespace zlb
