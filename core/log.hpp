#pragma once
// One line per event on stderr: "2026-11-21T23:59:01.123Z info  zlb-server: message", or with
// --log-format json one JSON object per line with the same fields:
//   {"time":"2026-11-21T23:59:01.123Z","level":"info","program":"zlb-server","message":"..."}
// printf-style because g++ 12 has no std::format; each line is one write(2) so
// lines from several threads never interleave.
#include <cstddef>
#include <optional>
#include <string_view>

namespace zlb {

enum class LogLevel { debug, info, warn, error };
enum class LogFormat { text, json };

std::optional<LogLevel> parse_log_level(std::string_view name);
std::optional<LogFormat> parse_log_format(std::string_view name); // "text" or "json"
void set_log_level(LogLevel level);
void set_log_format(LogFormat format);
void set_log_name(std::string_view name); // the program name printed on each line
bool log_enabled(LogLevel level);

void log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Writes `in` into out[0..size) as the inside of a JSON string: '"', '\\' and control characters
// escaped, invalid UTF-8 replaced by \ufffd. Stops before an escape or character that would not
// fit whole, so what is written is always valid; returns the bytes written (no terminator).
std::size_t json_escape(std::string_view in, char* out, std::size_t size);

// One complete log line, '\n' included, into out[0..size) (truncating the message to fit);
// returns its length. log() is this with the clock's time, then one write(2).
std::size_t format_log_line(char* out, std::size_t size, LogFormat format, LogLevel level,
                            std::string_view time, std::string_view program,
                            std::string_view message);

} // namespace zlb

#define ZLB_LOG(level, ...)                                                                        \
    do {                                                                                           \
        if (::zlb::log_enabled(level)) ::zlb::log(level, __VA_ARGS__);                              \
    } while (0)
#define LOG_DEBUG(...) ZLB_LOG(::zlb::LogLevel::debug, __VA_ARGS__)
#define LOG_INFO(...) ZLB_LOG(::zlb::LogLevel::info, __VA_ARGS__)
#define LOG_WARN(...) ZLB_LOG(::zlb::LogLevel::warn, __VA_ARGS__)
#define LOG_ERROR(...) ZLB_LOG(::zlb::LogLevel::error, __VA_ARGS__)
