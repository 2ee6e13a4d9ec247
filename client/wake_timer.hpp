#pragma once
// A timerfd the client's zmq_poll also watches. zmq_poll's timeout has millisecond
// steps; an open loop woken up to 1 ms late would charge that to every corrected
// latency, so sends due on the timetable wake the loop through this instead.
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>

namespace zlb::client {

class WakeTimer {
  public:
    WakeTimer() : fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) {
        if (fd_ < 0) throw std::runtime_error("timerfd_create failed");
        // The default 50 us timer slack would show up in every corrected latency.
        ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    }
    ~WakeTimer() { ::close(fd_); }
    WakeTimer(const WakeTimer&) = delete;
    WakeTimer& operator=(const WakeTimer&) = delete;

    int fd() const { return fd_; }

    // steady_clock is CLOCK_MONOTONIC on Linux, so its time points arm the timer as is.
    void arm(std::chrono::steady_clock::time_point at) {
        if (at == armed_) return;
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch());
        itimerspec spec{};
        spec.it_value.tv_sec = ns.count() / 1'000'000'000;
        spec.it_value.tv_nsec = ns.count() % 1'000'000'000;
        if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
        ::timerfd_settime(fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
        armed_ = at;
    }

    // After the fd polled readable: empties it, so the next poll waits again.
    void clear() {
        std::uint64_t expirations;
        [[maybe_unused]] auto n = ::read(fd_, &expirations, sizeof expirations);
        armed_ = {};
    }

  private:
    int fd_;
    std::chrono::steady_clock::time_point armed_{};
};

} // namespace zlb::client
