#include "server/fetch_policy.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <charconv>
#include <cstring>
#include <netinet/in.h>
#include <stdexcept>

namespace zlb::server {
namespace {

// One form of a destination address.
struct Addr {
    int family = AF_INET;
    std::array<std::uint8_t, 16> bytes{};
};

bool prefix_match(const std::uint8_t* a, const std::uint8_t* b, unsigned bits) {
    unsigned whole = bits / 8, rest = bits % 8;
    if (std::memcmp(a, b, whole) != 0) return false;
    if (rest == 0) return true;
    auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

bool all_zero(const std::uint8_t* p, std::size_t n) {
    return std::all_of(p, p + n, [](std::uint8_t b) { return b == 0; });
}

Addr v4_of(const std::uint8_t* four, bool invert = false) {
    Addr a;
    a.family = AF_INET;
    for (int i = 0; i < 4; ++i) a.bytes[i] = invert ? static_cast<std::uint8_t>(~four[i]) : four[i];
    return a;
}

// The IPv4 address an IPv6 address carries, for the embeddings that reach an IPv4 host.
std::optional<Addr> embedded_v4(const std::uint8_t* b) {
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static constexpr std::uint8_t kNat64[12] = {0x00, 0x64, 0xff, 0x9b}; // 64:ff9b::/96
    if (std::memcmp(b, kMapped, 12) == 0) return v4_of(b + 12);            // ::ffff:a.b.c.d
    if (std::memcmp(b, kNat64, 12) == 0) return v4_of(b + 12);             // NAT64
    if (b[0] == 0x20 && b[1] == 0x02) return v4_of(b + 2);                 // 6to4 2002:AABB:CCDD::
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0)            // Teredo: the client's
        return v4_of(b + 12, true);                                        // address, inverted
    // IPv4-compatible ::a.b.c.d (deprecated), but not :: and ::1, which are IPv6's own.
    if (all_zero(b, 12) && !(all_zero(b + 12, 3) && b[15] <= 1)) return v4_of(b + 12);
    return std::nullopt;
}

bool unspecified(const Addr& a) {
    if (a.family == AF_INET) return a.bytes[0] == 0; // 0.0.0.0/8
    return all_zero(a.bytes.data(), 16);             // ::
}

std::string_view host_trim(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (auto zone = host.find('%'); zone != std::string_view::npos) host = host.substr(0, zone);
    return host;
}

// The address a host spells, if it is an address literal; an IPv4-mapped one as IPv4.
std::optional<Cidr> host_address(std::string_view host) {
    std::string text(host_trim(host));
    Cidr c;
    if (inet_pton(AF_INET, text.c_str(), c.bytes.data()) == 1) {
        c.family = AF_INET;
        c.prefix = 32;
        return c;
    }
    if (inet_pton(AF_INET6, text.c_str(), c.bytes.data()) != 1) return std::nullopt;
    c.family = AF_INET6;
    c.prefix = 128;
    if (IN6_IS_ADDR_V4MAPPED(reinterpret_cast<const in6_addr*>(c.bytes.data()))) {
        std::memmove(c.bytes.data(), c.bytes.data() + 12, 4);
        std::fill(c.bytes.begin() + 4, c.bytes.end(), 0);
        c.family = AF_INET;
        c.prefix = 32;
    }
    return c;
}

std::string host_name_normal(std::string_view host) {
    host = host_trim(host);
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    std::string out(host);
    for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return out;
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
        if (bits.empty() || ec != std::errc() || end != bits.data() + bits.size() ||
            c.prefix > max_bits)
            return std::nullopt;
    }
    // ::ffff:127.0.0.0/104 is 127.0.0.0/8: a dual-stack socket dials the mapped IPv4.
    if (c.family == AF_INET6 && c.prefix >= 96 &&
        IN6_IS_ADDR_V4MAPPED(reinterpret_cast<const in6_addr*>(c.bytes.data()))) {
        std::memmove(c.bytes.data(), c.bytes.data() + 12, 4);
        std::fill(c.bytes.begin() + 4, c.bytes.end(), 0);
        c.family = AF_INET;
        c.prefix -= 96;
    }
    return c;
}

FetchPolicy::FetchPolicy(const std::vector<std::string>& deny_cidrs,
                         std::vector<std::string> allow_hosts) {
    for (auto text : kDefaultDenyCidrs) deny_.push_back(*parse_cidr(text));
    for (const auto& text : deny_cidrs) {
        auto c = parse_cidr(text);
        if (!c) throw std::invalid_argument("bad CIDR '" + text + "' (expected e.g. 10.0.0.0/8)");
        deny_.push_back(*c);
    }
    for (const auto& h : allow_hosts) allow_hosts_.push_back({host_name_normal(h), host_address(h)});
}

bool FetchPolicy::host_exempt(std::string_view host) const {
    if (allow_hosts_.empty() || host.empty()) return false;
    auto address = host_address(host);
    std::string name = address ? std::string() : host_name_normal(host);
    for (const auto& h : allow_hosts_) {
        if (address) {
            if (h.address && h.address->family == address->family &&
                h.address->bytes == address->bytes)
                return true;
        } else if (!h.address && h.name == name) {
            return true;
        }
    }
    return false;
}

bool FetchPolicy::allowed(const sockaddr* addr, std::string_view host) const {
    if (host_exempt(host)) return true;
    // Every form of the address, each checked against every denied range.
    std::array<Addr, 4> forms;
    std::size_t n = 0;
    if (addr->sa_family == AF_INET) {
        forms[n].family = AF_INET;
        std::memcpy(forms[n++].bytes.data(), &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, 4);
    } else if (addr->sa_family == AF_INET6) {
        forms[n].family = AF_INET6;
        std::memcpy(forms[n++].bytes.data(),
                    reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr.s6_addr, 16);
        if (auto v4 = embedded_v4(forms[0].bytes.data())) forms[n++] = *v4;
    } else {
        return false;
    }
    if (std::any_of(forms.begin(), forms.begin() + n, unspecified)) {
        forms[n++] = v4_of(std::array<std::uint8_t, 4>{127, 0, 0, 1}.data());
        forms[n].family = AF_INET6;
        forms[n++].bytes[15] = 1; // ::1
    }
    for (std::size_t i = 0; i < n; ++i)
        for (const auto& c : deny_)
            if (c.family == forms[i].family &&
                prefix_match(forms[i].bytes.data(), c.bytes.data(), c.prefix))
                return false;
    return true;
}

} // namespace zlb::server
