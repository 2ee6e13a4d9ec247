#pragma once
// SIGTERM and SIGINT as a readable fd for a poll loop. main() makes one StopSignals
// before starting any thread and hands its fd to the engine: the signals are blocked in
// main's thread and so in every thread started afterwards, so no worker or resolver
// thread is ever interrupted by them. Engines never touch the process's signal mask.
#include "core/unique_fd.hpp"

namespace zlb {

class StopSignals {
public:
    // Blocks SIGTERM/SIGINT, ignores SIGPIPE, opens the signalfd. Throws std::runtime_error.
    StopSignals();
    int fd() const { return fd_.get(); }
    // Reads every pending signal; returns how many there were.
    int read();

private:
    UniqueFd fd_;
};

// Reads every pending signal from a StopSignals fd; returns how many there were.
int stop_signals_read(int fd);

} // namespace zlb
