#include "client/peers.hpp"

#include "core/log.hpp"
#include "core/process.hpp"
#include "core/zmq_util.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace zlb::client {
namespace {

std::atomic<unsigned> g_monitor_serial{0};

// tcp://HOST:PORT with HOST a name (not an address): resolves it. Returns "" when it
// resolves or needs no resolving, else why not.
std::string tcp_resolve(const std::string& endpoint) {
    if (!endpoint.starts_with("tcp://")) return "";
    std::string rest = endpoint.substr(6);
    auto colon = rest.rfind(':');
    if (colon == std::string::npos || rest.find(';') != std::string::npos) return "";
    std::string host = rest.substr(0, colon);
    if (host.empty() || host.front() == '[' || host == "*") return "";
    in_addr v4{};
    if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return "";
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    addrinfo* found = nullptr;
    int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
    if (rc != 0)
        return "cannot resolve host name '" + host + "': " +
               (rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc));
    ::freeaddrinfo(found);
    return "";
}

std::string protocol_error_text(std::uint32_t code, bool curve) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", code);
    switch (code) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return curve ? "security mismatch: the server does not use CURVE (leave out "
                       "--curve-server-key and --curve-secret)"
                     : "security mismatch: the server requires CURVE (give --curve-server-key "
                       "and --curve-secret)";
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
    case ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE:
        return std::string("CURVE handshake failed (") + hex + "): wrong --curve-server-key?";
    default:
        if ((code & 0xf0000000u) == ZMQ_PROTOCOL_ERROR_ZAP_UNSPECIFIED)
            return std::string("the server's ZAP authentication failed (") + hex + ")";
        return std::string("ZMTP protocol error ") + hex + " (not a zlb server?)";
    }
}

} // namespace

PeerSet::PeerSet(zmq::context_t& ctx, const Configure& configure,
                 const std::vector<std::string>& endpoints) {
    constexpr int events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_DELAYED |
                           ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_CLOSED |
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    // Descriptors: each peer's DEALER has a mailbox and a connection, and its monitor a
    // mailbox at each end. Counted before the first socket, so too many endpoints for
    // `ulimit -n` is said as such instead of as one socket that could not be made.
    const std::size_t need = kDescriptorsSpare + kDescriptorsPerPeer * endpoints.size();
    if (const auto limits = descriptors_raise(need); limits.soft < need)
        throw std::runtime_error(
            std::to_string(endpoints.size()) + " endpoints need about " + std::to_string(need) +
            " file descriptors (" + std::to_string(kDescriptorsPerPeer) + " each), and ulimit -n " +
            "allows " + std::to_string(limits.soft) + " (hard limit " +
            std::to_string(limits.hard) + "): raise it, or connect to fewer");
    const unsigned serial = g_monitor_serial++;
    peers_.reserve(endpoints.size());
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
        Peer& p = peers_.emplace_back();
        p.endpoint = endpoints[i];
        p.socket = zmq::socket_t(ctx, zmq::socket_type::dealer);
        p.monitor = zmq::socket_t(ctx, zmq::socket_type::pair);
        configure(p.socket);
        // Watch from before the connect, or a fast handshake would go unseen. The
        // connect and handshake failures say why an endpoint is not up.
        const std::string monitor_ep = "inproc://zlb-client-monitor-" + std::to_string(serial) +
                                       "-" + std::to_string(i);
        if (zmq_socket_monitor(p.socket.handle(), monitor_ep.c_str(), events) != 0)
            throw std::runtime_error("zmq_socket_monitor failed: " +
                                     std::string(zmq_strerror(zmq_errno())));
        p.monitor.connect(monitor_ep);
        // Its fd is polled edge-triggered (monitor_items), and the pipe this connect made
        // announces nothing until a read has found it empty: read it once now, before
        // the connect below can send the first event.
        zmq::message_t none;
        (void)p.monitor.recv(none, zmq::recv_flags::dontwait);
        // libzmq resolves names later and says only that connecting failed: resolve here
        // so a mistyped host reads as one.
        p.resolve_error = tcp_resolve(p.endpoint);
        try {
            p.socket.connect(p.endpoint);
        } catch (const zmq::error_t& e) {
            throw std::runtime_error("cannot connect to " + p.endpoint + ": " + e.what());
        }
        // inproc has no handshake and sends no monitor events: its connect is complete
        // as soon as it returns (the peer is bound in the same context).
        p.connected = p.endpoint.starts_with("inproc://");
        connected_ += p.connected;
    }
}

void PeerSet::socket_items(std::vector<zmq::pollitem_t>& out) {
    for (auto& p : peers_) out.push_back(edge_item(p.socket));
}

void PeerSet::read_due(std::size_t peer) {
    if (peers_[peer].read_due) return;
    peers_[peer].read_due = true;
    due_.push_back(peer);
}

void PeerSet::reads_due_take(std::vector<std::size_t>& out) {
    out.swap(due_);
    due_.clear();
    for (std::size_t peer : out) peers_[peer].read_due = false;
}

void PeerSet::monitor_items(std::vector<zmq::pollitem_t>& out) {
    for (auto& p : peers_) out.push_back(edge_item(p.monitor));
}

bool PeerSet::hopeless() const {
    for (const auto& p : peers_)
        if (!p.connected && p.resolve_error.empty()) return false;
    return true;
}

// Event frames: [uint16 event, uint32 value] then the endpoint; the monitor says which
// peer. Every monitor is read to EAGAIN, as its edge-triggered fd requires.
const std::vector<std::size_t>& PeerSet::events_read() {
    down_.clear();
    for (std::size_t i = 0; i < peers_.size(); ++i) {
        while (recv_frames(peers_[i].monitor, frames_)) {
            if (frames_.size() != 2 || frames_[0].size() < 6) continue;
            std::uint16_t event = 0;
            std::uint32_t value = 0;
            std::memcpy(&event, frames_[0].data(), sizeof event);
            std::memcpy(&value, static_cast<const char*>(frames_[0].data()) + 2, sizeof value);
            event_apply(peers_[i], i, event, value);
        }
    }
    return down_;
}

// A failed TCP connect shows as CLOSED without CONNECTED (refused, unreachable; libzmq
// tells no errno); a refused handshake as HANDSHAKE_FAILED_*, then a disconnect.
void PeerSet::event_apply(Peer& p, std::size_t index, std::uint16_t event, std::uint32_t value) {
    switch (event) {
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        // A new pipe announces its first message only after a read found it empty.
        read_due(index);
        if (!p.connected) ++connected_;
        p.connected = true;
        p.skip_until = {};
        p.resolve_error.clear();
        p.handshake_error.clear();
        p.connect_failures = 0;
        p.lost = false;
        LOG_INFO("connected to %s", p.endpoint.c_str());
        break;
    case ZMQ_EVENT_DISCONNECTED:
        if (p.connected) {
            LOG_WARN("lost %s", p.endpoint.c_str());
            --connected_;
            p.lost = true;
        } else if (p.tcp_connected && p.handshake_error.empty()) {
            p.handshake_error = "disconnected during the ZMTP handshake (wrong "
                                "--curve-server-key, or not a ZeroMQ server?)";
        }
        p.connected = false;
        p.tcp_connected = false;
        down_.push_back(index);
        break;
    case ZMQ_EVENT_CONNECT_DELAYED: p.connect_pending = true; break;
    case ZMQ_EVENT_CONNECTED:
        p.connect_pending = false;
        p.tcp_connected = true;
        break;
    case ZMQ_EVENT_CLOSED:
        p.connect_pending = false;
        if (p.connected || p.tcp_connected) break;
        ++p.connect_failures;
        p.handshake_error.clear(); // nothing answers there now
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        p.handshake_error = "CURVE authentication refused by the server (ZAP status " +
                            std::to_string(value) +
                            "): is this client's public key in its --curve-allow directory?";
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        p.handshake_error = protocol_error_text(value, curve_);
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        if (!p.handshake_error.empty()) break; // a specific reason came first
        p.handshake_error = curve_ ? "ZMTP handshake failed: wrong --curve-server-key, or a "
                                     "server without CURVE?"
                                   : "ZMTP handshake failed: the server requires CURVE? (give "
                                     "--curve-server-key and --curve-secret)";
        break;
    default: break; // CONNECT_RETRIED: a reconnect is scheduled, which changes no reason
    }
}

std::string PeerSet::problem(std::size_t peer) const {
    const Peer& p = peers_[peer];
    if (p.connected) return "";
    if (!p.resolve_error.empty()) return p.resolve_error;
    if (!p.handshake_error.empty()) return p.handshake_error;
    if (p.tcp_connected)
        return "TCP connected, but no ZMTP handshake completed (not a ZeroMQ server, or a "
               "stopped one?)";
    if (p.connect_failures > 0)
        return "connection refused or unreachable (nothing listening there?), " +
               std::to_string(p.connect_failures) +
               (p.connect_failures == 1 ? " attempt" : " attempts");
    if (p.lost) return "connection lost";
    if (p.connect_pending) return "no answer to the TCP connect yet (host down or filtered?)";
    return "not connected";
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
                                              Clock::time_point now,
                                              std::size_t max_in_flight) {
    for (int pass = 0; pass < 2; ++pass) {
        for (std::size_t tries = 0; tries < peers_.size(); ++tries) {
            std::size_t peer = next_;
            next_ = (next_ + 1) % peers_.size();
            Peer& p = peers_[peer];
            if (!p.connected || p.in_flight >= max_in_flight ||
                (pass == 0 && !usable(peer, avoid, now)))
                continue;
            if (send_to(peer, body)) {
                ++p.sent;
                ++p.in_flight;
                return peer;
            }
        }
    }
    return std::nullopt;
}

// False when the peer's socket can't take it now (EAGAIN). Its queue has no bound (HWM 0):
// the window bounds it.
bool PeerSet::send_to(std::size_t peer, std::string_view body) {
    zmq::socket_t& socket = peers_[peer].socket;
    if (!socket.send(zmq::message_t(), zmq::send_flags::sndmore | zmq::send_flags::dontwait))
        return false;
    socket.send(zmq::buffer(body.data(), body.size()), zmq::send_flags::none);
    read_due(peer);
    return true;
}

} // namespace zlb::client
