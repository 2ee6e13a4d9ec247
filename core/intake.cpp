#include "core/intake.hpp"

#include "core/zmq_util.hpp"

namespace zlb {

using proto::ErrorCode;

RequestIntake::Verdict RequestIntake::take(std::span<zmq::message_t> frames) {
    body_ = nullptr;
    std::size_t delim = find_delimiter(frames);
    if (delim == 0 || frames.empty()) {
        routing_ = {};
        return Verdict::dropped;
    }
    // Without a delimiter only the first frame is sure to be routing: the ROUTER's
    // identity of the peer that sent it, or a broker link's command frame.
    routing_ = frames.first(delim < frames.size() ? delim : 1);
    std::size_t total = 0;
    for (const auto& f : frames) total += f.size();
    if (total > max_msg_bytes_) {
        // Huge routing frames are the sender's own bytes: answer to its identity alone
        // rather than echo them back.
        std::size_t routing_bytes = 0;
        for (const auto& f : routing_) routing_bytes += f.size();
        if (routing_bytes > max_msg_bytes_ / 2) routing_ = frames.first(1);
        // The id still comes back when the framing lets the body be found, so the client
        // sees too_large for its request, not a reply it can't place.
        std::optional<std::uint64_t> id;
        if (delim + 2 == frames.size()) id = proto::request_id_peek(view(frames[delim + 1]));
        return refuse(id, ErrorCode::too_large,
                      "request exceeds the message size limit (all frames counted)");
    }
    if (delim == frames.size() || delim + 2 != frames.size())
        return refuse(std::nullopt, ErrorCode::bad_request,
                      "expected [routing..., empty delimiter, one msgpack body] frames");
    body_ = &frames[delim + 1];
    if (!decoder_.decode(view(*body_), request_, decode_error_))
        return refuse(request_.id, decode_error_.code, decode_error_.message);
    return Verdict::request;
}

RequestIntake::Verdict RequestIntake::refuse(std::optional<std::uint64_t> id, ErrorCode code,
                                             std::string_view message) {
    refusal_ = {id, code, message};
    return Verdict::refused;
}

} // namespace zlb
