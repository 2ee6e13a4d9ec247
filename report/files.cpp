#include "report/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace zlb::report {

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            out += '\\', out += c;
        else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else
            out += c;
    }
    return out + "\"";
}

std::string json_latency(const Histogram& h) {
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "{\"min\": %llu, \"mean\": %.1f, \"p50\": %llu, \"p90\": %llu, \"p99\": %llu, "
                  "\"p999\": %llu, \"max\": %llu}",
                  static_cast<unsigned long long>(h.min()), h.mean(),
                  static_cast<unsigned long long>(h.percentile(50)),
                  static_cast<unsigned long long>(h.percentile(90)),
                  static_cast<unsigned long long>(h.percentile(99)),
                  static_cast<unsigned long long>(h.percentile(99.9)),
                  static_cast<unsigned long long>(h.max()));
    return buf;
}

// Writes a temporary file beside path, then renames it over path: a reader (or a run
// killed while writing) sees the old file, no file or the whole new one, never a part.
void file_write(const std::string& path, const std::function<void(std::ostream&)>& fill) {
    namespace fs = std::filesystem;
    fs::path target(path);
    fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::string name = ".";
    name += target.filename().string();
    name += ".XXXXXX";
    std::string tmp = (dir / name).string();
    int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd, 0666 & ~mask);
    ::close(fd);
    bool ok = false;
    {
        std::ofstream out(tmp, std::ios::trunc);
        if (out) {
            fill(out);
            out.flush();
            ok = static_cast<bool>(out);
        }
    }
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw std::runtime_error("cannot write " + path + (ok ? std::string(": ") + std::strerror(err) : ""));
    }
}

std::string json_interval(const IntervalRow& r) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "{\"t_s\": %.3f, \"length_s\": %.3f, \"rps\": %.1f, \"p50_us\": %llu, "
                  "\"p99_us\": %llu, \"errors\": %llu, \"warmup\": %s}",
                  r.t_s, r.length_s, r.rps, static_cast<unsigned long long>(r.p50_us),
                  static_cast<unsigned long long>(r.p99_us),
                  static_cast<unsigned long long>(r.errors), r.warmup ? "true" : "false");
    return buf;
}

} // namespace zlb::report
