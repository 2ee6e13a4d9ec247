#pragma once
// Where fetches may connect. Checked on every connection curl opens, redirects
// included, against the address actually dialled, so DNS tricks don't get around it.
// By default link-local and cloud metadata addresses are refused.
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zlb::server {

struct Cidr {
    int family = AF_INET;
    std::array<std::uint8_t, 16> bytes{};
    unsigned prefix = 0;
};

// "169.254.0.0/16", "fd00:ec2::254" (a plain address is a /32 or /128). nullopt if bad.
std::optional<Cidr> parse_cidr(std::string_view text);

inline constexpr std::array<std::string_view, 3> kDefaultDenyCidrs{
    "169.254.0.0/16",   // IPv4 link-local, where cloud metadata services live
    "fe80::/10",        // IPv6 link-local
    "fd00:ec2::254/128" // AWS metadata over IPv6
};

class FetchPolicy {
public:
    FetchPolicy() : FetchPolicy({}, {}) {}
    // deny_cidrs adds to the defaults; allow_hosts (names or addresses) are exempt.
    // Throws std::invalid_argument on a malformed CIDR.
    FetchPolicy(const std::vector<std::string>& deny_cidrs, std::vector<std::string> allow_hosts);

    // Whether a connection to addr, for a URL naming host, is allowed.
    bool allowed(const sockaddr* addr, std::string_view host) const;

private:
    std::vector<Cidr> deny_;
    std::vector<std::string> allow_hosts_;
};

} // namespace zlb::server
