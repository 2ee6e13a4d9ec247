#include "core/zmq_util.hpp"

#include "core/log.hpp"

#include <algorithm>
#include <stdexcept>

namespace zlb {

// Each frame is received into the message already at its place in the vector: libzmq
// reuses a message it receives into, so a frame costs no init, move or close (the vector
// changes size only when the frame count does). The rest of a multipart message is
// already here once its first frame is: ZeroMQ delivers it atomically.
bool recv_frames(zmq::socket_t& socket, std::vector<zmq::message_t>& frames) {
    std::size_t n = 0;
    for (bool more = true; more; ++n) {
        if (n == frames.size()) frames.emplace_back();
        // Nothing waiting (only the first frame can fail): the messages stay for the next
        // call, so a turn that reads one message at a time does not make them anew.
        if (!socket.recv(frames[n], n ? zmq::recv_flags::none : zmq::recv_flags::dontwait))
            return false;
        more = frames[n].more();
    }
    frames.resize(n);
    return true;
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

namespace {

enum class Routed { sent, full, gone };

// send_routed, telling a full queue (EAGAIN: try later) from a peer that is gone. A body
// sent goes out as it is, without a copy (the message is left empty); one not sent is
// left as it was.
Routed routed_send(zmq::socket_t& socket, std::span<zmq::message_t> routing,
                   zmq::message_t& body, Framing framing = Framing::delimited) {
    for (auto& frame : routing) {
        try {
            if (!socket.send(frame, zmq::send_flags::sndmore | zmq::send_flags::dontwait))
                return Routed::full;
        } catch (const zmq::error_t& e) {
            if (e.num() == EHOSTUNREACH) return Routed::gone;
            throw;
        }
    }
    if (framing == Framing::delimited) socket.send(zmq::message_t(), zmq::send_flags::sndmore);
    socket.send(body, zmq::send_flags::none);
    return Routed::sent;
}

} // namespace

bool send_routed(zmq::socket_t& socket, std::span<zmq::message_t> routing, zmq::message_t& body,
                 Framing framing) {
    return routed_send(socket, routing, body, framing) == Routed::sent;
}

bool ReplyBacklog::send(zmq::socket_t& socket, std::span<zmq::message_t> routing,
                        zmq::message_t& body, std::chrono::steady_clock::time_point now) {
    const std::size_t size = body.size();
    Routed r = routed_send(socket, routing, body);
    if (r == Routed::sent) return true;
    if (r == Routed::gone || held_.size() >= kMaxHeld || bytes_ + size > max_bytes_) {
        dropped_.note();
        return false;
    }
    Held h{{}, std::move(body), now};
    h.routing.reserve(routing.size());
    for (auto& frame : routing) h.routing.push_back(std::move(frame));
    bytes_ += size;
    held_.push_back(std::move(h));
    return true;
}

// A peer whose queue is still full is tried once a turn: its other replies wait
// untried, so a full backlog costs a comparison per reply, not a send.
void ReplyBacklog::retry(zmq::socket_t& socket, std::chrono::steady_clock::time_point now) {
    std::vector<std::string_view> full; // first routing frame of each peer found full
    for (std::size_t n = held_.size(); n > 0; --n) {
        Held h = std::move(held_.front());
        held_.pop_front();
        std::string_view peer = h.routing.empty() ? std::string_view() : view(h.routing[0]);
        Routed r = Routed::full;
        const std::size_t size = h.body.size(); // a body sent is left empty
        if (h.routing.empty() || now - h.since > kMaxAge) r = Routed::gone;
        else if (std::find(full.begin(), full.end(), peer) == full.end())
            r = routed_send(socket, h.routing, h.body);
        if (r == Routed::full) {
            held_.push_back(std::move(h));
            // The frame was not sent, so its bytes stay where the view points.
            if (std::find(full.begin(), full.end(), peer) == full.end())
                full.push_back(view(held_.back().routing[0]));
            continue;
        }
        bytes_ -= size;
        if (r == Routed::gone) dropped_.note();
    }
}

void DroppedReplies::note() {
    if (count++ == 0)
        LOG_WARN("dropped a reply to a peer that does not read (or left); counting the rest");
}

} // namespace zlb
