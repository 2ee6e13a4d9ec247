#pragma once
// Endpoint lists: "tcp://host:8004-8011" expands to eight endpoints; files hold one
// endpoint (or range) per line, with # comments.
#include <string>
#include <string_view>
#include <vector>

namespace zlb::client {

// Expands a port range; anything else is returned as is. Throws std::invalid_argument
// for a malformed or reversed range.
std::vector<std::string> endpoints_expand(std::string_view endpoint);
// Reads and expands an endpoints file. Throws std::runtime_error when unreadable.
std::vector<std::string> endpoints_read(const std::string& path);

} // namespace zlb::client
