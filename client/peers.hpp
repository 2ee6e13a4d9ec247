#pragma once
// The servers a client talks to: one connection per endpoint on the client's ROUTER
// socket, each under its own routing alias; a rotation over the peers that can take
// work now; and liveness from the socket's monitor events (handshake, disconnect).
#include "core/clock.hpp"

#include <zmq.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace zlb::client {

struct Peer {
    std::string endpoint;
    std::string alias; // routing id this client gave the connection
    std::string name;  // the server's name, once it has replied
    std::uint64_t sent = 0;
    bool connected = false;
    Clock::time_point skip_until{}; // suspected dead: left out of the rotation until then
};

class PeerSet {
public:
    // Starts the monitor, then connects to every endpoint. Throws std::runtime_error.
    PeerSet(zmq::context_t& ctx, zmq::socket_t& socket, const std::vector<std::string>& endpoints);

    std::size_t size() const { return peers_.size(); }
    Peer& operator[](std::size_t i) { return peers_[i]; }
    const std::vector<Peer>& all() const { return peers_; }
    zmq::socket_t& monitor() { return monitor_; }

    // The peer a reply came from, by the routing alias the socket reports for it.
    std::optional<std::size_t> find_alias(std::string_view alias) const;
    // How many peers have completed their handshake (see events_read).
    std::size_t connected() const;
    // Sends [alias, "", body] to the next peer in turn that takes it, preferring peers
    // other than `avoid` that are not suspected at `now`. Returns the peer, or nullopt.
    std::optional<std::size_t> send_next(std::string_view body, std::optional<std::size_t> avoid,
                                         Clock::time_point now);
    // Drains monitor events; returns the peers that disconnected since the last call.
    const std::vector<std::size_t>& events_read();
    void suspect(std::size_t peer, Clock::time_point until) { peers_[peer].skip_until = until; }
    void alive(std::size_t peer) { peers_[peer].skip_until = {}; }

private:
    bool send_to(std::size_t peer, std::string_view body);
    bool usable(std::size_t peer, std::optional<std::size_t> avoid, Clock::time_point now) const;

    zmq::socket_t& socket_;
    zmq::socket_t monitor_;
    std::vector<Peer> peers_;
    std::unordered_map<std::string, std::size_t> by_endpoint_;
    std::size_t next_ = 0;
    std::vector<zmq::message_t> frames_;
    std::vector<std::size_t> down_;
};

} // namespace zlb::client
