#include "core/process.hpp"

#include <unistd.h>

namespace zlb {

std::string process_name_default() {
    char host[256] = "localhost";
    ::gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    return std::string(host) + ":" + std::to_string(::getpid());
}

} // namespace zlb
