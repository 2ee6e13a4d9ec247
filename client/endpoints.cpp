#include "client/endpoints.hpp"

#include "core/endpoint.hpp"

#include <cctype>
#include <charconv>
#include <fstream>
#include <stdexcept>
#include <unordered_set>

namespace zlb::client {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

} // namespace

std::vector<std::string> endpoints_expand(std::string_view endpoint) {
    endpoint = trim(endpoint);
    if (endpoint.empty()) throw std::invalid_argument("empty endpoint");
    auto colon = endpoint.rfind(':');
    auto dash = endpoint.rfind('-');
    bool ranged = colon != std::string_view::npos && dash != std::string_view::npos &&
                  dash > colon && endpoint.substr(0, 6) == "tcp://";
    if (!ranged) {
        endpoint_check(endpoint);
        return {std::string(endpoint)};
    }
    unsigned first = 0, last = 0;
    if (!port_parse(endpoint.substr(colon + 1, dash - colon - 1), first) ||
        !port_parse(endpoint.substr(dash + 1), last) || last < first)
        throw std::invalid_argument("bad port range in " + std::string(endpoint) +
                                    " (expected tcp://HOST:FIRST-LAST, ports 1..65535)");
    std::vector<std::string> out;
    std::string base(endpoint.substr(0, colon + 1));
    endpoint_check(base + std::to_string(first));
    for (unsigned port = first; port <= last; ++port) out.push_back(base + std::to_string(port));
    return out;
}

std::vector<std::string> endpoints_read(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read endpoints file " + path);
    std::vector<std::string> out;
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
        auto text = trim(std::string_view(line).substr(0, line.find('#')));
        if (text.empty()) continue;
        try {
            for (auto& ep : endpoints_expand(text)) out.push_back(std::move(ep));
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(path + ":" + std::to_string(number) + ": " + e.what());
        }
    }
    return out;
}

std::vector<std::string> endpoints_unique(const std::vector<std::string>& endpoints,
                                          std::vector<std::string>& dropped) {
    std::vector<std::string> out;
    std::unordered_set<std::string> seen;
    for (const auto& ep : endpoints) {
        if (seen.insert(ep).second) out.push_back(ep);
        else dropped.push_back(ep);
    }
    return out;
}

} // namespace zlb::client
