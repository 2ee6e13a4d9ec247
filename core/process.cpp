#include "core/process.hpp"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

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

DescriptorLimits descriptors_raise(std::size_t need) {
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) != 0) return {};
    if (nofile.rlim_cur != RLIM_INFINITY && nofile.rlim_cur < need) {
        const rlim_t want = nofile.rlim_max == RLIM_INFINITY
                                ? static_cast<rlim_t>(need)
                                : std::min(static_cast<rlim_t>(need), nofile.rlim_max);
        rlimit raised = nofile;
        raised.rlim_cur = want;
        if (want > nofile.rlim_cur && ::setrlimit(RLIMIT_NOFILE, &raised) == 0) nofile = raised;
    }
    auto size_of = [](rlim_t v) {
        return v == RLIM_INFINITY ? SIZE_MAX : static_cast<std::size_t>(v);
    };
    return {size_of(nofile.rlim_cur), size_of(nofile.rlim_max)};
}

} // namespace zlb
