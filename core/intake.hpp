#pragma once
// The one request intake of zlb: zlb-server (its ROUTER and its broker link) and
// zlb-broker's frontend take protocol v1 requests through it, so framing, size limit,
// decoding, and what a refused request is answered (refusal(): id, code, message), are
// the same everywhere; each process encodes that answer with proto::encode_error.
//
// Two framings (Framing): a ROUTER's request is [routing..., "", body], one or more
// routing frames (the peer's identity, any proxies' frames), the empty delimiter, exactly
// one msgpack body; a broker link's is [REQUEST+token, body], the command frame its whole
// envelope, without a delimiter (worker protocol v2). Anything else is refused with
// bad_request, answered to the routing frames (before the delimiter, or the first frame
// alone when there is none). The size limit counts every frame, routing included.
#include "core/clock.hpp"
#include "core/zmq_util.hpp"
#include "proto/codec.hpp"

#include <zmq.hpp>

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace zlb {

class RequestIntake {
public:
    enum class Verdict {
        request, // routing() and request() hold a well-formed request
        refused, // answer refusal() to routing()
        dropped, // nothing to answer to: a message without any routing frame
    };
    struct Refusal {
        std::optional<std::uint64_t> id; // when the body got far enough to say
        proto::ErrorCode code = proto::ErrorCode::bad_request;
        std::string_view message;
    };

    explicit RequestIntake(std::size_t max_msg_bytes) : max_msg_bytes_(max_msg_bytes) {}

    // frames: one whole message as read from the socket; must outlive the verdict's use.
    Verdict take(std::span<zmq::message_t> frames, Framing framing = Framing::delimited);

    std::span<zmq::message_t> routing() const { return routing_; }
    zmq::message_t& body() { return *body_; }
    proto::Request& request() { return request_; }
    const Refusal& refusal() const { return refusal_; }

private:
    Verdict refuse(std::optional<std::uint64_t> id, proto::ErrorCode code, std::string_view message);

    std::size_t max_msg_bytes_;
    std::span<zmq::message_t> routing_;
    zmq::message_t* body_ = nullptr;
    // Reused for every message: the hot path allocates nothing it can avoid.
    proto::RequestDecoder decoder_;
    proto::Request request_;
    proto::DecodeError decode_error_;
    Refusal refusal_;
};

} // namespace zlb
