#include "core/intake.hpp"

#include "core/zmq_util.hpp"

namespace zlb {

using proto::ErrorCode;

// One pass over the frames finds the delimiter and counts the bytes: each frame's size is
// a call into libzmq, asked once here (about 20 instructions a call, six calls a request
// before this pass).
RequestIntake::Verdict RequestIntake::take(std::span<zmq::message_t> frames, Framing framing) {
    body_ = nullptr;
    routing_ = {};
    if (frames.empty()) return Verdict::dropped;
    std::size_t total = 0, last_bytes = 0, delim = frames.size();
    for (std::size_t i = 0; i < frames.size(); ++i) {
        last_bytes = frames[i].size();
        total += last_bytes;
        if (last_bytes == 0 && delim == frames.size()) delim = i;
    }
    // Where the body is when the framing is right: after the delimiter, or after the
    // command frame. Without a delimiter only the first frame is sure to be routing: the
    // ROUTER's identity of the peer that sent it, or a broker link's command frame.
    std::size_t body_at = 1;
    if (framing == Framing::delimited) {
        if (delim == 0) return Verdict::dropped;
        body_at = delim + 1; // past the end when there is no delimiter
        routing_ = frames.first(delim < frames.size() ? delim : 1);
    } else {
        routing_ = frames.first(1);
    }
    // The body is then the last frame, whose size is last_bytes.
    const bool framed = body_at + 1 == frames.size();
    if (total > max_msg_bytes_) {
        // Huge routing frames are the sender's own bytes: answer to its identity alone
        // rather than echo them back.
        std::size_t routing_bytes = 0;
        for (const auto& f : routing_) routing_bytes += f.size();
        if (routing_bytes > max_msg_bytes_ / 2) routing_ = frames.first(1);
        // The id still comes back when the framing lets the body be found, so the client
        // sees too_large for its request, not a reply it can't place.
        std::optional<std::uint64_t> id;
        if (framed) id = proto::request_id_peek(view(frames[body_at]));
        return refuse(id, ErrorCode::too_large,
                      "request exceeds the message size limit (all frames counted)");
    }
    if (!framed)
        return refuse(std::nullopt, ErrorCode::bad_request,
                      framing == Framing::delimited
                          ? "expected [routing..., empty delimiter, one msgpack body] frames"
                          : "expected [REQUEST+token, one msgpack body] frames");
    body_ = &frames[body_at];
    if (!decoder_.decode({body_->data<char>(), last_bytes}, request_, decode_error_))
        return refuse(request_.id, decode_error_.code, decode_error_.message);
    return Verdict::request;
}

RequestIntake::Verdict RequestIntake::refuse(std::optional<std::uint64_t> id, ErrorCode code,
                                             std::string_view message) {
    refusal_ = {id, code, message};
    return Verdict::refused;
}

} // namespace zlb
