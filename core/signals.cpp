#include "core/signals.hpp"

#include <csignal>
#include <stdexcept>
#include <sys/signalfd.h>
#include <unistd.h>

namespace zlb {

int stop_signals_fd() {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0)
        throw std::runtime_error("cannot block SIGTERM/SIGINT");
    std::signal(SIGPIPE, SIG_IGN);
    int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) throw std::runtime_error("signalfd failed");
    return fd;
}

int stop_signals_read(int fd) {
    int count = 0;
    signalfd_siginfo info{};
    while (::read(fd, &info, sizeof info) == sizeof info) ++count;
    return count;
}

} // namespace zlb
