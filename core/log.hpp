#pragma once
// One line per event on stderr: "2026-11-21T23:59:01.123Z info  zlb-server: message".
// printf-style because g++ 12 has no std::format; each line is one write(2) so
// lines from several threads never interleave.
#include <optional>
#include <string_view>

namespace zlb {

enum class LogLevel { debug, info, warn, error };

std::optional<LogLevel> parse_log_level(std::string_view name);
void set_log_level(LogLevel level);
void set_log_name(std::string_view name); // the program name printed on each line
bool log_enabled(LogLevel level);

void log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

} // namespace zlb

#define ZLB_LOG(level, ...)                                                                        \
    do {                                                                                           \
        if (::zlb::log_enabled(level)) ::zlb::log(level, __VA_ARGS__);                              \
    } while (0)
#define LOG_DEBUG(...) ZLB_LOG(::zlb::LogLevel::debug, __VA_ARGS__)
#define LOG_INFO(...) ZLB_LOG(::zlb::LogLevel::info, __VA_ARGS__)
#define LOG_WARN(...) ZLB_LOG(::zlb::LogLevel::warn, __VA_ARGS__)
#define LOG_ERROR(...) ZLB_LOG(::zlb::LogLevel::error, __VA_ARGS__)
