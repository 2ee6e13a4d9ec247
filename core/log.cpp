#include "core/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <unistd.h>

namespace zlb {
namespace {

std::atomic<LogLevel> g_level{LogLevel::info};
char g_name[64] = "zlb";

constexpr const char* kLevelNames[] = {"debug", "info", "warn", "error"}; // by LogLevel

int format_time(char* out, std::size_t size) {
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t secs = system_clock::to_time_t(now);
    auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    int n = static_cast<int>(std::strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm));
    return n + std::snprintf(out + n, size - n, ".%03dZ", static_cast<int>(ms));
}

} // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
    for (std::size_t i = 0; i < std::size(kLevelNames); ++i)
        if (name == kLevelNames[i]) return static_cast<LogLevel>(i);
    return std::nullopt;
}

void set_log_level(LogLevel level) { g_level = level; }

void set_log_name(std::string_view name) {
    std::size_t n = std::min(name.size(), sizeof g_name - 1);
    name.copy(g_name, n);
    g_name[n] = '\0';
}

bool log_enabled(LogLevel level) { return level >= g_level.load(std::memory_order_relaxed); }

void log(LogLevel level, const char* fmt, ...) {
    char line[2048];
    int n = format_time(line, sizeof line);
    n += std::snprintf(line + n, sizeof line - n, " %-5s %s: ", kLevelNames[int(level)], g_name);
    va_list args;
    va_start(args, fmt);
    int body = std::vsnprintf(line + n, sizeof line - n - 1, fmt, args);
    va_end(args);
    n = std::min<int>(n + std::max(body, 0), sizeof line - 2);
    line[n++] = '\n';
    ssize_t ignored = ::write(STDERR_FILENO, line, static_cast<std::size_t>(n));
    (void)ignored;
}

} // namespace zlb
