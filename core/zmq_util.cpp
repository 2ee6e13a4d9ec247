#include "core/zmq_util.hpp"

#include "core/log.hpp"

#include <algorithm>
#include <stdexcept>

namespace zlb {

bool recv_frames(zmq::socket_t& socket, std::vector<zmq::message_t>& frames) {
    frames.clear();
    zmq::message_t first;
    if (!socket.recv(first, zmq::recv_flags::dontwait)) return false;
    bool more = first.more();
    frames.push_back(std::move(first));
    // The rest of a multipart message is already here: ZeroMQ delivers it atomically.
    while (more) {
        zmq::message_t part;
        (void)socket.recv(part, zmq::recv_flags::none);
        more = part.more();
        frames.push_back(std::move(part));
    }
    return true;
}

std::size_t find_delimiter(std::span<const zmq::message_t> frames) {
    for (std::size_t i = 0; i < frames.size(); ++i)
        if (frames[i].size() == 0) return i;
    return frames.size();
}

void endpoints_bind(zmq::socket_t& socket, const std::vector<std::string>& endpoints,
                    const char* what) {
    for (const auto& ep : endpoints) {
        try {
            socket.bind(ep);
        } catch (const zmq::error_t& e) {
            throw std::runtime_error(std::string("cannot bind ") + what + " " + ep + ": " + e.what());
        }
        LOG_INFO("%s listening on %s", what, socket.get(zmq::sockopt::last_endpoint).c_str());
    }
}

int hwm_for(std::size_t budget_bytes, std::size_t max_message_bytes) {
    std::size_t n = budget_bytes / std::max<std::size_t>(max_message_bytes, 1);
    return static_cast<int>(std::clamp<std::size_t>(n, kMinHwm, 1'000'000));
}

void queues_bound(zmq::socket_t& socket, std::size_t budget_bytes, std::size_t max_out_bytes,
                  std::size_t max_in_bytes) {
    socket.set(zmq::sockopt::sndhwm, hwm_for(budget_bytes, max_out_bytes));
    socket.set(zmq::sockopt::rcvhwm, hwm_for(budget_bytes, max_in_bytes));
    if (socket.get(zmq::sockopt::type) == ZMQ_ROUTER) socket.set(zmq::sockopt::router_mandatory, 1);
}

void heartbeats_set(zmq::socket_t& socket, std::chrono::milliseconds interval, int liveness) {
    int ivl_ms = static_cast<int>(interval.count());
    socket.set(zmq::sockopt::heartbeat_ivl, ivl_ms);
    socket.set(zmq::sockopt::heartbeat_timeout, liveness * ivl_ms);
    socket.set(zmq::sockopt::heartbeat_ttl, liveness * ivl_ms);
}

bool frame_route(zmq::socket_t& socket, zmq::message_t& frame, zmq::send_flags flags) {
    try {
        return socket.send(frame, flags | zmq::send_flags::dontwait).has_value();
    } catch (const zmq::error_t& e) {
        if (e.num() == EHOSTUNREACH) return false;
        throw;
    }
}

bool send_routed(zmq::socket_t& socket, std::span<zmq::message_t> routing, std::string_view body) {
    for (auto& frame : routing)
        if (!frame_route(socket, frame, zmq::send_flags::sndmore)) return false;
    socket.send(zmq::message_t(), zmq::send_flags::sndmore);
    socket.send(zmq::message_t(body.data(), body.size()), zmq::send_flags::none);
    return true;
}

void DroppedReplies::note() {
    if (count++ == 0)
        LOG_WARN("dropped a reply to a peer that does not read (or left); counting the rest");
}

} // namespace zlb
