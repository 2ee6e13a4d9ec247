#include "core/endpoint.hpp"

#include <cctype>
#include <charconv>
#include <stdexcept>
#include <string>

namespace zlb {
namespace {

[[noreturn]] void bad(std::string_view endpoint, const std::string& why) {
    throw std::invalid_argument("bad endpoint '" + std::string(endpoint) + "': " + why);
}

// A host name (RFC 1123 labels), an IPv4 address, or [an IPv6 address].
bool host_ok(std::string_view host) {
    if (host.empty() || host.size() > 255) return false;
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']') return false;
        for (char c : host.substr(1, host.size() - 2))
            if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.' && c != '%')
                return false;
        return true;
    }
    std::size_t label = 0;
    for (char c : host) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
        if (++label > 63) return false;
    }
    return label > 0;
}

} // namespace

bool port_parse(std::string_view text, unsigned& port) {
    if (text.empty() || text.size() > 5) return false;
    for (char c : text)
        if (c < '0' || c > '9') return false;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    return ec == std::errc() && end == text.data() + text.size() && port > 0 && port < 65536;
}

void endpoint_check(std::string_view endpoint, bool bind) {
    auto scheme = endpoint.find("://");
    if (scheme == std::string_view::npos)
        bad(endpoint, "expected tcp://HOST:PORT, ipc://PATH or inproc://NAME");
    std::string_view transport = endpoint.substr(0, scheme), rest = endpoint.substr(scheme + 3);
    if (transport == "ipc" || transport == "inproc") {
        if (rest.empty()) bad(endpoint, "the " + std::string(transport) + " name is empty");
        return;
    }
    if (transport != "tcp")
        bad(endpoint, "transport '" + std::string(transport) + "' is not supported (tcp, ipc or inproc)");
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos || (rest.front() == '[' && rest.rfind(']') > colon))
        bad(endpoint, "no port (expected tcp://HOST:PORT)");
    std::string_view host = rest.substr(0, colon), port_text = rest.substr(colon + 1);
    if (!(bind && host == "*") && !host_ok(host))
        bad(endpoint, "'" + std::string(host) + "' is not a host name or address");
    unsigned port = 0;
    if (!(bind && port_text == "*") && !port_parse(port_text, port))
        bad(endpoint, "port '" + std::string(port_text) + "' is not a number in 1..65535");
}

} // namespace zlb
