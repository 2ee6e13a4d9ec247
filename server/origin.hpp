#pragma once
// Which of the server's sockets a request came in on, so its reply goes back there:
// the server's own ROUTER, or one of its broker links (a worker may serve several
// brokers at once, so that no single broker is a point of failure).
#include "core/zmq_util.hpp"

#include <cstddef>
#include <cstdint>

namespace zlb::server {

enum class Origin : std::uint8_t { router }; // broker link i is broker_origin(i)
inline constexpr std::size_t kMaxBrokers = 8;
inline constexpr std::size_t kOriginCount = 1 + kMaxBrokers; // arrays indexed by Origin are this long
inline constexpr Origin broker_origin(std::size_t link) { return static_cast<Origin>(1 + link); }
// The client protocol on the ROUTER, the worker protocol on a broker link.
inline constexpr Framing framing_of(Origin origin) {
    return origin == Origin::router ? Framing::delimited : Framing::command;
}

} // namespace zlb::server
