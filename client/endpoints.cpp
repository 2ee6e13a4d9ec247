#include "client/endpoints.hpp"

#include <charconv>
#include <fstream>
#include <stdexcept>

namespace zlb::client {
namespace {

bool parse_port(std::string_view text, unsigned& port) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    return ec == std::errc() && end == text.data() + text.size() && port > 0 && port < 65536;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

} // namespace

std::vector<std::string> endpoints_expand(std::string_view endpoint) {
    endpoint = trim(endpoint);
    auto colon = endpoint.rfind(':');
    auto dash = endpoint.rfind('-');
    bool ranged = colon != std::string_view::npos && dash != std::string_view::npos &&
                  dash > colon && endpoint.substr(0, 6) == "tcp://";
    if (!ranged) {
        if (endpoint.empty()) throw std::invalid_argument("empty endpoint");
        return {std::string(endpoint)};
    }
    unsigned first = 0, last = 0;
    if (!parse_port(endpoint.substr(colon + 1, dash - colon - 1), first) ||
        !parse_port(endpoint.substr(dash + 1), last) || last < first)
        throw std::invalid_argument("bad port range in " + std::string(endpoint) +
                                    " (expected tcp://HOST:FIRST-LAST)");
    std::vector<std::string> out;
    std::string base(endpoint.substr(0, colon + 1));
    for (unsigned port = first; port <= last; ++port) out.push_back(base + std::to_string(port));
    return out;
}

std::vector<std::string> endpoints_read(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read endpoints file " + path);
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line)) {
        auto text = trim(std::string_view(line).substr(0, line.find('#')));
        if (text.empty()) continue;
        for (auto& ep : endpoints_expand(text)) out.push_back(std::move(ep));
    }
    return out;
}

} // namespace zlb::client
