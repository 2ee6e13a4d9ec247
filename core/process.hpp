#pragma once
// Facts about this process that several programs report.
#include <string>

namespace zlb {

// "host:pid": the default name a server or broker puts in its replies.
std::string process_name_default();

} // namespace zlb
