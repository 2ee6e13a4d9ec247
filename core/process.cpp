#include "core/process.hpp"

#include <malloc.h>
#include <unistd.h>

namespace zlb {

std::string process_name_default() {
    char host[256] = "localhost";
    ::gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    return std::string(host) + ":" + std::to_string(::getpid());
}

const char* version() { return ZLB_VERSION; }

void memory_return_eagerly() {
    // A fixed threshold also turns off glibc's dynamic one, which after the first large
    // free would serve later large blocks from the heap and keep them.
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
}

} // namespace zlb
