#pragma once
// Endpoint lists: "tcp://host:8004-8011" expands to eight endpoints; files hold one
// endpoint (or range) per line, with # comments. Every endpoint is checked before
// anything connects: a port outside 1..65535 would otherwise wrap (99999 is 34463).
#include <string>
#include <string_view>
#include <vector>

namespace zlb::client {

// Expands a port range and checks every endpoint (zlb::endpoint_check). Throws
// std::invalid_argument for a malformed endpoint or a malformed or reversed range.
std::vector<std::string> endpoints_expand(std::string_view endpoint);
// Reads and expands an endpoints file. Throws std::runtime_error when unreadable, and
// std::invalid_argument (with the file and line) for a bad endpoint.
std::vector<std::string> endpoints_read(const std::string& path);
// The endpoints without repeats, first occurrence kept; each repeat goes to `dropped`.
std::vector<std::string> endpoints_unique(const std::vector<std::string>& endpoints,
                                          std::vector<std::string>& dropped);

} // namespace zlb::client
