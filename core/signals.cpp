#include "core/signals.hpp"

#include <csignal>
#include <stdexcept>
#include <sys/signalfd.h>

namespace zlb {

StopSignals::StopSignals() {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0)
        throw std::runtime_error("cannot block SIGTERM/SIGINT");
    std::signal(SIGPIPE, SIG_IGN);
    fd_.reset(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd_) throw std::runtime_error("signalfd failed");
}

int StopSignals::read() { return stop_signals_read(fd_.get()); }

int stop_signals_read(int fd) {
    int count = 0;
    signalfd_siginfo info{};
    while (::read(fd, &info, sizeof info) == sizeof info) ++count;
    return count;
}

} // namespace zlb
