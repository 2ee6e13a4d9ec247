#include "server/broker_link.hpp"

#include "core/log.hpp"
#include "core/zap.hpp"
#include "core/zmq_util.hpp"

namespace zlb::server {

namespace worker = proto::worker;

constexpr int kLiveness = 3; // heartbeats missed before the broker counts as gone

BrokerLink::BrokerLink(zmq::context_t& ctx, const TimeSource& time, std::string endpoint,
                       worker::Ready ready, std::chrono::milliseconds heartbeat,
                       std::optional<Curve> curve)
    : ctx_(ctx), time_(time), endpoint_(std::move(endpoint)), ready_(std::move(ready)),
      heartbeat_(heartbeat), curve_(std::move(curve)) {
    connect();
}

// A new link replaces the old one only once it exists: when it can't be made (out of
// descriptors, say), the old socket stays, the server keeps serving what it has, and
// the link is tried again at the next heartbeat. Only the very first link's failure is
// fatal: that is a startup error (a bad endpoint).
void BrokerLink::connect() {
    std::optional<zmq::socket_t> fresh;
    try {
        fresh.emplace(ctx_, zmq::socket_type::dealer);
        fresh->set(zmq::sockopt::linger, 0);
        fresh->set(zmq::sockopt::sndhwm, 0);
        fresh->set(zmq::sockopt::rcvhwm, 0);
        fresh->set(zmq::sockopt::reconnect_ivl, 100);
        fresh->set(zmq::sockopt::reconnect_ivl_max, 2000);
        if (curve_) curve_client_set(*fresh, curve_->keys, curve_->broker_z85);
        fresh->connect(endpoint_);
    } catch (const zmq::error_t& e) {
        if (!socket_) throw std::runtime_error("cannot connect to broker " + endpoint_ + ": " + e.what());
        if (!link_failing_)
            LOG_WARN("cannot open a new link to broker %s: %s; retrying every heartbeat",
                     endpoint_.c_str(), e.what());
        link_failing_ = true;
        broker_expiry_ = time_.now() + heartbeat_;
        return;
    }
    if (link_failing_) LOG_INFO("a new link to broker %s is open again", endpoint_.c_str());
    link_failing_ = false;
    socket_ = std::move(fresh);
    // READY waits in the DEALER's queue until the connection is up. Never a blocking
    // send: once a handshake has failed (a broker that refuses this key), libzmq can
    // leave the DEALER with no pipe, and a blocking send would then hang the server
    // before it serves anything. A READY not queued is sent again by the reconnect
    // that the broker's silence brings.
    worker::encode_ready(buf_, ready_);
    if (socket_->send(zmq::buffer(worker::kReady), zmq::send_flags::sndmore | zmq::send_flags::dontwait))
        socket_->send(zmq::buffer(buf_.data(), buf_.size()), zmq::send_flags::dontwait);
    else
        LOG_WARN("broker %s: READY not queued (no connection); retrying", endpoint_.c_str());
    if (leaving_) send_command(worker::kBye);
    auto now = time_.now();
    broker_expiry_ = now + kLiveness * heartbeat_;
    next_heartbeat_ = now + heartbeat_;
    LOG_INFO("joining broker %s with credit %u", endpoint_.c_str(), ready_.credit);
}

void BrokerLink::send_command(std::string_view command) {
    socket_->send(zmq::buffer(command), zmq::send_flags::dontwait);
}

BrokerLink::Read BrokerLink::message_read(std::vector<zmq::message_t>& frames) {
    if (!recv_frames(*socket_, frames)) return Read::empty;
    broker_expiry_ = time_.now() + kLiveness * heartbeat_; // any message shows it is alive
    std::string_view command = view(frames[0]);
    if (worker::request_token(command)) return Read::request;
    if (command == worker::kBye) {
        LOG_WARN("broker %s asked to re-register", endpoint_.c_str());
        connect();
    } else if (command != worker::kHeartbeat) {
        LOG_WARN("ignoring a message from broker %s with command frame of %zu bytes",
                 endpoint_.c_str(), frames[0].size());
    }
    return Read::control;
}

void BrokerLink::tick(Clock::time_point now) {
    if (now >= broker_expiry_) {
        LOG_WARN("broker %s silent for %d heartbeats; reconnecting", endpoint_.c_str(), kLiveness);
        connect();
        return;
    }
    if (now >= next_heartbeat_) {
        send_command(worker::kHeartbeat);
        next_heartbeat_ = now + heartbeat_;
    }
}

void BrokerLink::leave() {
    leaving_ = true;
    send_command(worker::kBye);
}

} // namespace zlb::server
