#pragma once
// The servers a client talks to: a DEALER socket per endpoint, so the socket a reply
// comes in on says who sent it; a rotation over the peers that can take work now; and
// liveness from each socket's monitor events (handshake, disconnect), which also say why
// an endpoint is not up (refused, CURVE refusal, protocol error).
//
// Why a DEALER each and not one ROUTER for all: a ROUTER adds a routing frame to every
// message each way and looks the peer up by it on every send, about 1,200 instructions
// an echo (bench/scenarios/callgrind.py); a socket per peer costs 4 descriptors instead
// of 1 (the socket's and its monitor's mailboxes, the connection), and a check of each
// socket a turn sent to or heard from (see socket_items).
#include "core/clock.hpp"

#include <zmq.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zlb::client {

struct Peer {
    std::string endpoint;
    zmq::socket_t socket;  // a DEALER connected to endpoint alone
    zmq::socket_t monitor; // its events (PAIR)
    std::string name;      // the server's name, once it has replied
    std::uint64_t sent = 0;
    std::size_t in_flight = 0; // attempts sent here and not over yet (see attempt_over)
    bool connected = false;
    Clock::time_point skip_until{}; // suspected dead: left out of the rotation until then
    // Why it is not up, from the monitor's events (see PeerSet::problem).
    std::string resolve_error;     // the host name did not resolve
    std::string handshake_error;   // the last ZMTP/CURVE handshake failure, until one succeeds
    bool tcp_connected = false;    // TCP is up (ZMTP may not be)
    bool connect_pending = false;  // a TCP connect is under way
    bool lost = false;             // was up, then disconnected
    unsigned connect_failures = 0; // TCP connects that failed (refused, unreachable)
    bool read_due = false;         // in PeerSet's due list (see socket_items)
};

class PeerSet {
public:
    using Configure = std::function<void(zmq::socket_t&)>;
    static constexpr std::size_t kDescriptorsPerPeer = 4;
    // For the rest of the process: libzmq's context and I/O thread, the report's files.
    static constexpr std::size_t kDescriptorsSpare = 64;

    // Makes a DEALER per endpoint, set up by configure, starts its monitor, then connects
    // it. Raises the soft `ulimit -n` toward the hard limit if the sockets need more.
    // Host names of tcp endpoints are resolved first: one that does not resolve is still
    // connected (libzmq retries it), but its problem says so. Throws std::runtime_error.
    PeerSet(zmq::context_t& ctx, const Configure& configure,
            const std::vector<std::string>& endpoints);

    std::size_t size() const { return peers_.size(); }
    Peer& operator[](std::size_t i) { return peers_[i]; }
    const std::vector<Peer>& all() const { return peers_; }
    zmq::socket_t& socket(std::size_t peer) { return peers_[peer].socket; }

    // Poll items, appended to out in peer order: each peer's socket and each monitor by
    // its fd (edge_item). zmq_poll would ask every zmq socket in its set for ZMQ_EVENTS on
    // every pass, a system call for each idle one: with 64 servers, 64 a turn. A plain fd
    // costs nothing until it fires, but it is edge-triggered, so:
    //  - a socket whose fd fired is read until EAGAIN (or is marked due again);
    //  - so is a socket sent to since, before the client waits: a send processes the
    //    socket's commands, and may take the wake-up of a reply already there;
    //  - events_read reads every monitor to EAGAIN.
    void socket_items(std::vector<zmq::pollitem_t>& out);
    void monitor_items(std::vector<zmq::pollitem_t>& out);
    // Moves the peers due for a read (sent to, or connected, since their socket was last
    // read to EAGAIN) into out, and clears their marks.
    void reads_due_take(std::vector<std::size_t>& out);
    void read_due(std::size_t peer);
    // How many peers have completed their handshake (see events_read).
    std::size_t connected() const { return connected_; }
    // True when every peer that is not up can't come up by waiting (its host name did
    // not resolve), so there is no point waiting for it.
    bool hopeless() const;
    // Sends ["", body] to the next peer in turn that takes it, preferring peers other
    // than `avoid` that are not suspected at `now`, and never to a peer holding
    // max_in_flight attempts already. Returns the peer, or nullopt.
    std::optional<std::size_t> send_next(std::string_view body, std::optional<std::size_t> avoid,
                                         Clock::time_point now,
                                         std::size_t max_in_flight = SIZE_MAX);
    // An attempt sent to `peer` is over (answered, timed out, failed over or released).
    void attempt_over(std::size_t peer) {
        if (peers_[peer].in_flight > 0) --peers_[peer].in_flight;
    }
    // Drains every monitor's events; returns the peers that disconnected since the last
    // call.
    const std::vector<std::size_t>& events_read();
    void suspect(std::size_t peer, Clock::time_point until) { peers_[peer].skip_until = until; }
    void alive(std::size_t peer) { peers_[peer].skip_until = {}; }
    // Whether this client uses CURVE: a handshake failing without detail then most likely
    // means a wrong server key, and without CURVE a server that requires it.
    void curve_set(bool on) { curve_ = on; }
    // Why peer is not up, as a phrase: "connection refused ...", "CURVE ..."; "" when up.
    std::string problem(std::size_t peer) const;

private:
    bool send_to(std::size_t peer, std::string_view body);
    bool usable(std::size_t peer, std::optional<std::size_t> avoid, Clock::time_point now) const;
    void event_apply(Peer& p, std::size_t index, std::uint16_t event, std::uint32_t value);

    std::vector<Peer> peers_;
    std::size_t next_ = 0;
    std::size_t connected_ = 0;
    bool curve_ = false;
    std::vector<zmq::message_t> frames_;
    std::vector<std::size_t> down_;
    std::vector<std::size_t> due_;
};

} // namespace zlb::client
