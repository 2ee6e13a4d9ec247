#pragma once
// Multipart helpers shared by server, client and broker. Frames are moved, never copied.
#include <zmq.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace zlb {

// Messages an engine reads from one socket before it looks at its other sockets, so a
// flood on one never starves the rest.
inline constexpr std::size_t kMaxReadsPerTurn = 256;

// A poll item for a socket that is seldom ready (a monitor, the factor pool's results):
// its ZMQ_FD as a plain fd. zmq_poll asks each zmq socket of its set for ZMQ_EVENTS on
// every pass, which for an idle socket costs a getpid and a poll system call; a plain fd
// costs nothing beyond the one poll. The fd is edge-triggered ("commands arrived", not
// "a message waits"), so whoever polls it reads the socket until EAGAIN whenever it
// fires, and once before the first wait: a message left behind would never be announced
// again, and until a read has found the socket empty, messages that come in over a pipe
// the socket made itself (a monitor's events) are not announced at all.
inline zmq::pollitem_t edge_item(zmq::socket_t& socket) {
    return {nullptr, socket.get(zmq::sockopt::fd), ZMQ_POLLIN, 0};
}

// Receives one whole multipart message without blocking. Returns false when none is
// waiting; frames then holds nothing meaningful. frames is reused between calls: keep it.
bool recv_frames(zmq::socket_t& socket, std::vector<zmq::message_t>& frames);

// How a message's routing frames end. The client protocol's end with the zguide's empty
// delimiter; the worker protocol's single command frame is the whole envelope, and a
// frame less each way is about 500 instructions a hop saved (PROTOCOL.md).
enum class Framing {
    delimited, // [routing..., "", body]
    command,   // [REQUEST+token, body]
};

// Sends the routing frames (moved out of envelope), the empty delimiter when delimited,
// then body, moved out too when sent. Returns false when the peer can't take it now
// (EAGAIN / EHOSTUNREACH).
bool send_routed(zmq::socket_t& socket, std::span<zmq::message_t> routing, zmq::message_t& body,
                 Framing framing = Framing::delimited);
// Sends one routing frame (moved out) without blocking, with `flags` added: false when the
// peer can't take the message now (its queue is full) or is gone. Once a ROUTER took the
// first frame it takes the rest of the message.
bool frame_route(zmq::socket_t& socket, zmq::message_t& frame, zmq::send_flags flags);

// Replies a peer could not take (it does not read, or it left): the process drops them
// rather than hold them. Counted; the first one is logged.
struct DroppedReplies {
    std::uint64_t count = 0;
    void note();
};

// Replies a ROUTER could not take at once because the peer's queue was full. libzmq
// counts a queue in messages and learns of its reader's progress only every HWM/2
// messages read, so a burst (a thousand fetches ending together, a window of 256
// answered in one turn) can meet a full queue while its reader keeps up: dropping those
// stalled the client for a whole timeout. They wait here instead and are sent again each
// turn (retry). Bounded: at most max_bytes of bodies and kMaxHeld replies, each held at
// most kMaxAge; past any bound, and for a peer that is gone, the reply is dropped and
// counted as before, so a peer that never reads costs its queue plus max_bytes.
class ReplyBacklog {
public:
    static constexpr std::size_t kMaxHeld = 16384;
    static constexpr std::chrono::milliseconds kMaxAge{5000};

    ReplyBacklog(std::size_t max_bytes, DroppedReplies& dropped)
        : max_bytes_(max_bytes), dropped_(dropped) {}

    // send_routed, or hold the reply when the peer's queue is full; false when dropped.
    // The body is sent or held without a copy, and left empty either way unless it was
    // dropped.
    bool send(zmq::socket_t& socket, std::span<zmq::message_t> routing, zmq::message_t& body,
              std::chrono::steady_clock::time_point now);
    // Sends what is held, oldest first; drops what is past kMaxAge.
    void retry(zmq::socket_t& socket, std::chrono::steady_clock::time_point now);
    bool empty() const { return held_.empty(); }
    std::size_t size() const { return held_.size(); }

private:
    struct Held {
        std::vector<zmq::message_t> routing;
        zmq::message_t body;
        std::chrono::steady_clock::time_point since;
    };
    std::size_t max_bytes_;
    DroppedReplies& dropped_;
    std::deque<Held> held_;
    std::size_t bytes_ = 0;
};

// Binds every endpoint and logs where it listens (`what` names the socket in messages).
// Throws std::runtime_error naming the endpoint that failed.
void endpoints_bind(zmq::socket_t& socket, const std::vector<std::string>& endpoints,
                    const char* what);

// libzmq bounds a connection's queues in messages, not bytes. A budget of budget_bytes
// per peer, for messages of at most max_message_bytes each, becomes this high-water mark
// (at least kMinHwm, so that a client pipelining small messages at window 256 never
// loses a reply to a burst).
inline constexpr int kMinHwm = 256;
int hwm_for(std::size_t budget_bytes, std::size_t max_message_bytes);
// Sets SNDHWM and RCVHWM from the budget, and ROUTER_MANDATORY on a ROUTER, so that a
// reply to a peer whose queue is full fails (and is counted) instead of vanishing.
void queues_bound(zmq::socket_t& socket, std::size_t budget_bytes, std::size_t max_out_bytes,
                  std::size_t max_in_bytes);

// ZMTP heartbeats: a peer silent for `liveness` intervals is disconnected.
void heartbeats_set(zmq::socket_t& socket, std::chrono::milliseconds interval, int liveness = 3);

inline std::string_view view(const zmq::message_t& m) {
    return {static_cast<const char*>(m.data()), m.size()};
}

} // namespace zlb
