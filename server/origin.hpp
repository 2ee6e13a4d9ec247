#pragma once
// Which of the server's sockets a request came in on, so its reply goes back there.
#include <cstddef>
#include <cstdint>

namespace zlb::server {

enum class Origin : std::uint8_t { router, broker };
inline constexpr std::size_t kOriginCount = 2; // arrays indexed by Origin are this long

} // namespace zlb::server
