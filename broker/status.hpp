#pragma once
#include <string>

namespace zlb::broker {

// Sends {op: status} to endpoint and prints the reply as JSON on stdout. Returns the
// exit code: 0 on a reply, 1 when none came within 5 s.
int status_query(const std::string& endpoint);

} // namespace zlb::broker
