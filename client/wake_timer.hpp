#pragma once
// A timerfd the client's zmq_poll also watches. zmq_poll's timeout has millisecond
// steps; an open loop woken up to 1 ms late would charge that to every corrected
// latency, so sends due on the timetable wake the loop through this instead.
#include "core/clock.hpp"
#include "core/unique_fd.hpp"

#include <sys/prctl.h>
#include <sys/timerfd.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>

namespace zlb::client {

class WakeTimer {
  public:
    WakeTimer() : fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) {
        if (!fd_) throw std::runtime_error("timerfd_create failed");
        // The default 50 us timer slack would show up in every corrected latency.
        ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    }

    int fd() const { return fd_.get(); }

    // Wakes the poll at `at` on the engine's clock, `now` being that clock's present: the
    // timer is armed relative, so an engine on a test's manual time works the same.
    void arm(Clock::time_point at, Clock::time_point now) {
        if (at == armed_) return;
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(at - now).count();
        itimerspec spec{};
        spec.it_value.tv_sec = ns > 0 ? ns / 1'000'000'000 : 0;
        spec.it_value.tv_nsec = ns > 0 ? ns % 1'000'000'000 : 1; // 0 would disarm it
        ::timerfd_settime(fd_.get(), 0, &spec, nullptr);
        armed_ = at;
    }

    // After the fd polled readable: empties it, so the next poll waits again.
    void clear() {
        std::uint64_t expirations;
        [[maybe_unused]] auto n = ::read(fd_.get(), &expirations, sizeof expirations);
        armed_ = {};
    }

  private:
    UniqueFd fd_;
    Clock::time_point armed_{};
};

} // namespace zlb::client
