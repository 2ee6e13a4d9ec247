#include "server/fetch_policy.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <charconv>
#include <cstring>
#include <netinet/in.h>
#include <stdexcept>

namespace zlb::server {
namespace {

bool prefix_match(const std::uint8_t* a, const std::uint8_t* b, unsigned bits) {
    unsigned whole = bits / 8, rest = bits % 8;
    if (std::memcmp(a, b, whole) != 0) return false;
    if (rest == 0) return true;
    auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

bool host_equal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

} // namespace

std::optional<Cidr> parse_cidr(std::string_view text) {
    Cidr c;
    auto slash = text.find('/');
    std::string addr(text.substr(0, slash));
    if (inet_pton(AF_INET, addr.c_str(), c.bytes.data()) == 1) c.family = AF_INET;
    else if (inet_pton(AF_INET6, addr.c_str(), c.bytes.data()) == 1) c.family = AF_INET6;
    else return std::nullopt;
    unsigned max_bits = c.family == AF_INET ? 32 : 128;
    c.prefix = max_bits;
    if (slash != std::string_view::npos) {
        auto bits = text.substr(slash + 1);
        auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), c.prefix);
        if (ec != std::errc() || end != bits.data() + bits.size() || c.prefix > max_bits)
            return std::nullopt;
    }
    return c;
}

FetchPolicy::FetchPolicy(const std::vector<std::string>& deny_cidrs,
                         std::vector<std::string> allow_hosts)
    : allow_hosts_(std::move(allow_hosts)) {
    for (auto text : kDefaultDenyCidrs) deny_.push_back(*parse_cidr(text));
    for (const auto& text : deny_cidrs) {
        auto c = parse_cidr(text);
        if (!c) throw std::invalid_argument("bad CIDR '" + text + "' (expected e.g. 10.0.0.0/8)");
        deny_.push_back(*c);
    }
}

bool FetchPolicy::allowed(const sockaddr* addr, std::string_view host) const {
    for (const auto& h : allow_hosts_)
        if (host_equal(h, host)) return true;
    const std::uint8_t* bytes = nullptr;
    int family = addr->sa_family;
    std::uint8_t mapped[4];
    if (family == AF_INET) {
        bytes = reinterpret_cast<const std::uint8_t*>(
            &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr);
    } else if (family == AF_INET6) {
        const auto* a6 = &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr;
        bytes = a6->s6_addr;
        // An IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            std::memcpy(mapped, a6->s6_addr + 12, 4);
            bytes = mapped;
            family = AF_INET;
        }
    } else {
        return false;
    }
    for (const auto& c : deny_)
        if (c.family == family && prefix_match(bytes, c.bytes.data(), c.prefix)) return false;
    return true;
}

} // namespace zlb::server
