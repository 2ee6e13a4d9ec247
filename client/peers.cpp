#include "client/peers.hpp"

#include "core/log.hpp"
#include "core/zmq_util.hpp"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace zlb::client {
namespace {

std::atomic<unsigned> g_monitor_serial{0};

} // namespace

PeerSet::PeerSet(zmq::context_t& ctx, zmq::socket_t& socket,
                 const std::vector<std::string>& endpoints)
    : socket_(socket), monitor_(ctx, zmq::socket_type::pair) {
    // Watch from before the first connect, or fast handshakes would go unseen.
    std::string monitor_ep = "inproc://zlb-client-monitor-";
    monitor_ep += std::to_string(g_monitor_serial++);
    if (zmq_socket_monitor(socket_.handle(), monitor_ep.c_str(),
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0)
        throw std::runtime_error("zmq_socket_monitor failed");
    monitor_.connect(monitor_ep);
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
        Peer p;
        p.endpoint = endpoints[i];
        // Built in one go: g++ 12 warns falsely (-Wrestrict) on assigning "p" first.
        char alias[24];
        std::snprintf(alias, sizeof alias, "p%zu", i);
        p.alias = alias;
        socket_.set(zmq::sockopt::connect_routing_id, p.alias);
        try {
            socket_.connect(p.endpoint);
        } catch (const zmq::error_t& e) {
            throw std::runtime_error("cannot connect to " + p.endpoint + ": " + e.what());
        }
        // inproc has no handshake and sends no monitor events: its connect is complete
        // as soon as it returns (the peer is bound in the same context).
        p.connected = p.endpoint.starts_with("inproc://");
        by_endpoint_.emplace(p.endpoint, i);
        peers_.push_back(std::move(p));
    }
}

// Aliases are "p<index>" (see the constructor).
std::optional<std::size_t> PeerSet::find_alias(std::string_view alias) const {
    if (alias.size() < 2 || alias.size() > 21 || alias[0] != 'p') return std::nullopt;
    std::size_t index = 0;
    for (char c : alias.substr(1)) {
        if (c < '0' || c > '9') return std::nullopt;
        index = index * 10 + static_cast<std::size_t>(c - '0');
    }
    if (index >= peers_.size() || peers_[index].alias != alias) return std::nullopt;
    return index;
}

std::size_t PeerSet::connected() const {
    std::size_t up = 0;
    for (const auto& p : peers_) up += p.connected;
    return up;
}

// Event frames: [uint16 event, uint32 value] then the endpoint. The endpoint names the
// peer; an address libzmq spells differently from the user only loses the fast path.
const std::vector<std::size_t>& PeerSet::events_read() {
    down_.clear();
    while (recv_frames(monitor_, frames_)) {
        if (frames_.size() != 2 || frames_[0].size() < 2) continue;
        std::uint16_t event = 0;
        std::memcpy(&event, frames_[0].data(), sizeof event);
        auto it = by_endpoint_.find(std::string(view(frames_[1])));
        if (it == by_endpoint_.end()) continue;
        Peer& p = peers_[it->second];
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            p.connected = true;
            p.skip_until = {};
            LOG_INFO("connected to %s", p.endpoint.c_str());
        } else if (event == ZMQ_EVENT_DISCONNECTED) {
            if (p.connected) LOG_WARN("lost %s", p.endpoint.c_str());
            p.connected = false;
            down_.push_back(it->second);
        }
    }
    return down_;
}

bool PeerSet::usable(std::size_t peer, std::optional<std::size_t> avoid,
                     Clock::time_point now) const {
    return peer != avoid && peers_[peer].skip_until <= now;
}

// Only connected peers: a message for one that isn't would wait in its pipe. Two
// passes: first the peers neither avoided nor suspected, then any connected peer, so a
// lone or all-suspected cluster still gets work.
std::optional<std::size_t> PeerSet::send_next(std::string_view body,
                                              std::optional<std::size_t> avoid,
                                              Clock::time_point now) {
    for (int pass = 0; pass < 2; ++pass) {
        for (std::size_t tries = 0; tries < peers_.size(); ++tries) {
            std::size_t peer = next_;
            next_ = (next_ + 1) % peers_.size();
            if (!peers_[peer].connected || (pass == 0 && !usable(peer, avoid, now))) continue;
            if (send_to(peer, body)) {
                ++peers_[peer].sent;
                return peer;
            }
        }
    }
    return std::nullopt;
}

// False when the peer is not connected (EHOSTUNREACH) or its queue is full (EAGAIN).
bool PeerSet::send_to(std::size_t peer, std::string_view body) {
    const std::string& alias = peers_[peer].alias;
    try {
        if (!socket_.send(zmq::buffer(alias), zmq::send_flags::sndmore | zmq::send_flags::dontwait))
            return false;
    } catch (const zmq::error_t& e) {
        if (e.num() == EHOSTUNREACH) return false;
        throw;
    }
    socket_.send(zmq::message_t(), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(body.data(), body.size()), zmq::send_flags::none);
    return true;
}

} // namespace zlb::client
