#pragma once
// A server's link to a zlb-broker (worker side of proto/worker.hpp): a DEALER that
// announces READY with the server's credit, exchanges heartbeats, and starts over
// (new socket, READY again) when the broker goes silent or has forgotten it, so a
// restarted broker is rejoined without help.
#include "core/clock.hpp"
#include "core/curve.hpp"
#include "proto/worker.hpp"

#include <zmq.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace zlb::server {

class BrokerLink {
public:
    // With CURVE the link is a CURVE client: this worker's key pair, the broker's key.
    struct Curve {
        CurveKeyPair keys;
        std::string broker_z85;
    };

    BrokerLink(zmq::context_t& ctx, const TimeSource& time, std::string endpoint,
               proto::worker::Ready ready, std::chrono::milliseconds heartbeat,
               std::optional<Curve> curve);

    zmq::socket_t& socket() { return *socket_; }
    const std::string& endpoint() const { return endpoint_; }
    std::uint32_t credit() const { return ready_.credit; }

    enum class Read { empty, request, control };
    // Reads one message without waiting: `request` with frames = [REQUEST+token, body]
    // for a request to serve (Framing::command); `control` for a heartbeat or BYE,
    // handled here; `empty` when nothing is queued. One call per message, no poll first.
    Read message_read(std::vector<zmq::message_t>& frames);
    // Sends heartbeats when due and restarts the link when the broker went silent.
    void tick(Clock::time_point now);
    Clock::time_point next_tick() const { return next_heartbeat_; }
    // Draining: tell the broker to send nothing new.
    void leave();

private:
    void connect();
    void send_command(std::string_view command);

    zmq::context_t& ctx_;
    const TimeSource& time_;
    std::string endpoint_;
    proto::worker::Ready ready_;
    std::chrono::milliseconds heartbeat_;
    std::optional<Curve> curve_;
    std::optional<zmq::socket_t> socket_;
    Clock::time_point broker_expiry_;
    Clock::time_point next_heartbeat_;
    msgpack::sbuffer buf_;
    bool leaving_ = false;
    bool link_failing_ = false; // the last attempt to open a new link failed
};

} // namespace zlb::server
