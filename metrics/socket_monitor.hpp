#pragma once
// Counts a bound socket's connections for its metrics: libzmq reports them on a monitor
// socket (zmq_socket_monitor), read here on a thread of its own, so the engine's loop has
// nothing more to poll and no event is lost while nobody scrapes.
#include "metrics/cells.hpp"

#include <zmq.hpp>

#include <atomic>
#include <thread>

namespace zlb::metrics {

class SocketMonitor {
public:
    // Call on the thread that owns socket, before it accepts the connections to count:
    // peers +1 per accepted connection and -1 per disconnection; refusals +1 per handshake
    // ZAP refused. Throws zmq::error_t when libzmq can't monitor it.
    SocketMonitor(zmq::context_t& ctx, zmq::socket_t& socket, Level& peers, Count& refusals);
    // On the socket's thread too, while the socket is open: libzmq stops reporting first,
    // so no event waits for a reader that is gone, and its last event ends the thread.
    ~SocketMonitor();
    SocketMonitor(const SocketMonitor&) = delete;
    SocketMonitor& operator=(const SocketMonitor&) = delete;

private:
    void thread_main();

    void* socket_;         // the socket monitored
    zmq::socket_t events_; // PAIR; used only by thread_ once it runs
    Level& peers_;
    Count& refusals_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

} // namespace zlb::metrics
