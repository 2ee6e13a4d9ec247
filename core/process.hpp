#pragma once
// Facts about this process that several programs report.
#include <cstddef>
#include <string>

namespace zlb {

// "host:pid": the default name a server or broker puts in its replies.
std::string process_name_default();

// The project's version, as every binary's --version prints it ("0.1.0").
const char* version();

// Makes glibc hand large freed blocks back to the system at once (a fixed mmap
// threshold), so a burst of large messages does not stay in the process's RSS.
void memory_return_eagerly();

// RLIMIT_NOFILE, SIZE_MAX for unlimited.
struct DescriptorLimits {
    std::size_t soft = 0;
    std::size_t hard = 0;
};
// Raises the soft RLIMIT_NOFILE to at least `need` descriptors where the hard limit
// allows (it never lowers it). Returns the limits now (zeros if they can't be read).
DescriptorLimits descriptors_raise(std::size_t need);

} // namespace zlb
