#pragma once
// What a process hands each engine (server, broker, client): the ZeroMQ context its
// sockets live in, the clock it reads and the stop-signal fd it watches. main() passes
// the real ones; a test passes its own context (for inproc peers), a ManualTime, and
// no signal fd.
#include "core/clock.hpp"

#include <zmq.hpp>

namespace zlb {

struct EngineEnv {
    zmq::context_t& zmq;
    const TimeSource& time = steady_time();
    int stop_fd = -1; // a StopSignals fd; -1 for none
};

} // namespace zlb
