#pragma once
#include <chrono>
#include <string>

namespace zlb::broker {

// Sends {op: status} to a broker's frontend and prints the reply as JSON on stdout.
// Returns the exit code: 0 on a well-formed ok reply; 1 when none came within
// max_wait or the reply was malformed or an error; 2 when the endpoint is invalid.
// Every failure is one line on stderr.
int status_query(const std::string& endpoint,
                 std::chrono::milliseconds max_wait = std::chrono::milliseconds(5000));

} // namespace zlb::broker
