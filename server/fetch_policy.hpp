#pragma once
// Where fetches may connect. Checked on every connection curl opens, redirects
// included, against the address actually dialled, so DNS tricks don't get around it.
// By default link-local and cloud metadata addresses are refused.
//
// An address is judged in every form it reaches: an IPv6 address that carries an IPv4
// one (IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96, NAT64 64:ff9b::/96, 6to4
// 2002::/16, Teredo 2001::/32) is also checked as that IPv4 address, and an unspecified
// address (0.0.0.0/8, ::), which the kernel dials as the local host, is also checked as
// 127.0.0.1 and ::1. It is refused if any of its forms is.
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
// A range inside ::ffff:0:0/96 (IPv4-mapped, prefix 96 or more) comes back as the IPv4
// range it maps, so that it applies to IPv4 destinations however they are spelt.
std::optional<Cidr> parse_cidr(std::string_view text);

inline constexpr std::array<std::string_view, 3> kDefaultDenyCidrs{
    "169.254.0.0/16",   // IPv4 link-local, where cloud metadata services live
    "fe80::/10",        // IPv6 link-local
    "fd00:ec2::254/128" // AWS metadata over IPv6
};

// What --deny-private adds: loopback, private, shared and link-local ranges and the
// unspecified addresses, for servers that fetch URLs from untrusted clients.
inline constexpr std::array<std::string_view, 12> kPrivateCidrs{
    "0.0.0.0/8",      // "this network"; 0.0.0.0 is dialled as the local host
    "127.0.0.0/8",    // loopback
    "10.0.0.0/8",     // RFC 1918
    "172.16.0.0/12",  // RFC 1918
    "192.168.0.0/16", // RFC 1918
    "100.64.0.0/10",  // RFC 6598 shared address space (CGNAT)
    "169.254.0.0/16", // link-local
    "::/128",         // unspecified
    "::1/128",        // loopback
    "fe80::/10",      // link-local
    "fec0::/10",      // deprecated site-local
    "fc00::/7",       // unique local (ULA)
};

class FetchPolicy {
public:
    FetchPolicy() : FetchPolicy({}, {}) {}
    // deny_cidrs adds to the defaults; allow_hosts (names or addresses, IPv6 with or
    // without brackets) are exempt. Throws std::invalid_argument on a malformed CIDR.
    FetchPolicy(const std::vector<std::string>& deny_cidrs, std::vector<std::string> allow_hosts);

    // Whether a connection to addr, for a URL naming host, is allowed.
    bool allowed(const sockaddr* addr, std::string_view host) const;
    // Whether host (as a URL spells it: "example.com", "10.0.0.1", "[::1]") is listed
    // with --allow-host. Names compare without case and without a trailing dot;
    // addresses compare as addresses ("::0:1" is "::1").
    bool host_exempt(std::string_view host) const;

private:
    struct AllowedHost {
        std::string name;             // lower case, no brackets, no trailing dot
        std::optional<Cidr> address;  // when the host is an address literal
    };
    std::vector<Cidr> deny_;
    std::vector<AllowedHost> allow_hosts_;
};

} // namespace zlb::server
