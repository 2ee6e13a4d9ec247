#include "metrics/socket_monitor.hpp"

#include <chrono>
#include <cstring>
#include <string>

namespace zlb::metrics {
namespace {

std::atomic<unsigned> g_monitor_serial{0};

} // namespace

SocketMonitor::SocketMonitor(zmq::context_t& ctx, zmq::socket_t& socket, Level& peers, Count& refusals)
    : socket_(socket.handle()), events_(ctx, zmq::socket_type::pair), peers_(peers),
      refusals_(refusals) {
    const std::string endpoint = "inproc://zlb-metrics-monitor-" + std::to_string(g_monitor_serial++);
    if (zmq_socket_monitor(socket.handle(), endpoint.c_str(),
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_MONITOR_STOPPED) != 0)
        throw zmq::error_t();
    events_.set(zmq::sockopt::linger, 0);
    events_.connect(endpoint);
    thread_ = std::thread([this] { thread_main(); });
}

SocketMonitor::~SocketMonitor() {
    zmq_socket_monitor(socket_, nullptr, 0); // sends MONITOR_STOPPED: the thread ends on it
    stopping_ = true;
    thread_.join();
}

// Each event is two frames: 6 bytes (uint16 event, uint32 value) and the endpoint. The
// thread waits for events (waking once a second to check stopping_, should MONITOR_STOPPED
// never come) and ends at MONITOR_STOPPED.
void SocketMonitor::thread_main() {
    zmq::message_t head, address;
    while (!stopping_) {
        zmq::pollitem_t item{events_.handle(), 0, ZMQ_POLLIN, 0};
        if (zmq::poll(&item, 1, std::chrono::milliseconds(1000)) == 0) continue;
        if (!events_.recv(head, zmq::recv_flags::dontwait)) continue;
        if (head.more()) (void)events_.recv(address, zmq::recv_flags::none);
        if (head.size() < 2) continue;
        std::uint16_t event = 0;
        std::memcpy(&event, head.data(), sizeof event);
        if (event == ZMQ_EVENT_ACCEPTED) peers_.add(1);
        else if (event == ZMQ_EVENT_DISCONNECTED) peers_.add(-1);
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) ++refusals_;
        else if (event == ZMQ_EVENT_MONITOR_STOPPED) return;
    }
}

} // namespace zlb::metrics
