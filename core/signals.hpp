#pragma once
// SIGTERM and SIGINT as a readable fd for a poll loop. Call before starting any thread:
// the signals are blocked in the caller and so in every thread it starts afterwards,
// and no worker or resolver thread is ever interrupted by them.
namespace zlb {

// Returns a non-blocking signalfd; throws std::runtime_error on failure.
int stop_signals_fd();
// Reads every pending signal from fd; returns how many there were.
int stop_signals_read(int fd);

} // namespace zlb
