#pragma once
// The worker protocol between zlb-broker's backend (ROUTER) and zlb-server workers
// (DEALER). See PROTOCOL.md. Every message starts with a command frame:
//
//   worker -> broker  [READY, msgpack {v: 2, name, ops, credit, heartbeat_ms?}]
//                     [HEARTBEAT]                 (answered by a HEARTBEAT)
//                     [BYE]                       (draining: send me nothing new)
//                     [REQUEST+token, reply]      (a reply; one credit comes back)
//   broker -> worker  [REQUEST+token, request]
//                     [HEARTBEAT]
//                     [BYE]                       (forget me: re-register)
//
// A request's [REQUEST+token] frame is its whole routing envelope on the worker, so the
// worker's ordinary reply path returns it untouched. Command and token share one frame,
// and no empty delimiter follows it (worker protocol v2; v1 sent [REQUEST, token, "",
// body]): every frame costs libzmq about 500 instructions a hop, and a brokered request
// crosses the backend twice.
#include "proto/codec.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zlb::proto::worker {

inline constexpr std::string_view kReady = "ZLB1READY";
inline constexpr std::string_view kHeartbeat = "ZLB1HB";
inline constexpr std::string_view kBye = "ZLB1BYE";
inline constexpr std::string_view kRequest = "ZLB2REQ"; // followed by the 8-byte token
inline constexpr std::size_t kRequestFrameBytes = kRequest.size() + sizeof(std::uint64_t);
// READY's v: a broker refuses workers of another worker-protocol version.
inline constexpr std::uint64_t kWorkerVersion = 2;

// The request frame for a token: kRequest then the token's 8 bytes.
inline std::array<char, kRequestFrameBytes> request_frame(std::uint64_t token) {
    std::array<char, kRequestFrameBytes> f{};
    std::memcpy(f.data(), kRequest.data(), kRequest.size());
    std::memcpy(f.data() + kRequest.size(), &token, sizeof token);
    return f;
}
// The token of a request frame; nullopt when the frame is not one.
inline std::optional<std::uint64_t> request_token(std::string_view frame) {
    if (frame.size() != kRequestFrameBytes || !frame.starts_with(kRequest)) return std::nullopt;
    std::uint64_t token = 0;
    std::memcpy(&token, frame.data() + kRequest.size(), sizeof token);
    return token;
}

struct Ready {
    std::string name;
    std::uint32_t ops = 0; // bit (1 << Op) for each op served
    std::uint32_t credit = 1;
    // The worker's heartbeat interval (optional on the wire; 0: not sent). The broker
    // waits for a worker at the slower of the two intervals, so a worker and a broker
    // started with different --heartbeat-ms do not keep dropping each other.
    std::uint32_t heartbeat_ms = 0;
};
inline constexpr std::uint32_t kMaxHeartbeatMs = 3'600'000;

inline constexpr std::uint32_t op_bit(Op op) { return 1u << static_cast<unsigned>(op); }

void encode_ready(msgpack::sbuffer& buf, const Ready& r);
// Packs the ops in a bit set as an array of op names.
void pack_ops(Packer& pk, std::uint32_t ops);
// nullopt when the frame is not a valid READY body (one of another version included).
std::optional<Ready> decode_ready(std::string_view body);

} // namespace zlb::proto::worker
