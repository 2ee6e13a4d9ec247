#include "core/log.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <unistd.h>

namespace zlb {
namespace {

std::atomic<LogLevel> g_level{LogLevel::info};
std::atomic<LogFormat> g_format{LogFormat::text};
char g_name[64] = "zlb";

constexpr const char* kLevelNames[] = {"debug", "info", "warn", "error"}; // by LogLevel
constexpr const char* kFormatNames[] = {"text", "json"};                  // by LogFormat

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

// utf8_length: bytes of the well-formed UTF-8 character at s[0..n), or 0 if it is not one
// (stray continuation byte, overlong form, surrogate, above U+10FFFF, or cut short).
std::size_t utf8_length(const unsigned char* s, std::size_t n) {
    unsigned char c = s[0];
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xBF; // allowed range of the second byte
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (std::size_t i = 2; i < len; ++i)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

// append: copy what[0..len) to out+n if it fits in size; false (nothing written) if not.
bool append(char* out, std::size_t size, std::size_t& n, const char* what, std::size_t len) {
    if (len > size - n) return false;
    std::memcpy(out + n, what, len);
    n += len;
    return true;
}

bool append(char* out, std::size_t size, std::size_t& n, std::string_view what) {
    return append(out, size, n, what.data(), what.size());
}

} // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
    for (std::size_t i = 0; i < std::size(kLevelNames); ++i)
        if (name == kLevelNames[i]) return static_cast<LogLevel>(i);
    return std::nullopt;
}

std::optional<LogFormat> parse_log_format(std::string_view name) {
    for (std::size_t i = 0; i < std::size(kFormatNames); ++i)
        if (name == kFormatNames[i]) return static_cast<LogFormat>(i);
    return std::nullopt;
}

void set_log_level(LogLevel level) { g_level = level; }

void set_log_format(LogFormat format) { g_format = format; }

void set_log_name(std::string_view name) {
    std::size_t n = std::min(name.size(), sizeof g_name - 1);
    name.copy(g_name, n);
    g_name[n] = '\0';
}

bool log_enabled(LogLevel level) { return level >= g_level.load(std::memory_order_relaxed); }

std::size_t json_escape(std::string_view in, char* out, std::size_t size) {
    static constexpr char kHex[] = "0123456789abcdef";
    auto s = reinterpret_cast<const unsigned char*>(in.data());
    std::size_t n = 0;
    for (std::size_t i = 0; i < in.size();) {
        unsigned char c = s[i];
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        std::size_t len = 2, step = 1;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            if (c < 0x20 || c == 0x7F) { // other control characters: \u00XX
                std::memcpy(esc + 1, "u00", 3);
                esc[4] = kHex[c >> 4];
                esc[5] = kHex[c & 0xF];
                len = 6;
            } else if ((step = utf8_length(s + i, in.size() - i)) == 0) {
                std::memcpy(esc, "\\ufffd", 6); // invalid UTF-8: the replacement character
                len = 6;
                step = 1;
            } else {
                if (!append(out, size, n, in.data() + i, step)) return n;
                i += step;
                continue;
            }
        }
        if (!append(out, size, n, esc, len)) return n;
        i += step;
    }
    return n;
}

std::size_t format_log_line(char* out, std::size_t size, LogFormat format, LogLevel level,
                            std::string_view time, std::string_view program,
                            std::string_view message) {
    if (size < 2) return 0;
    std::size_t n = 0;
    const char* level_name = kLevelNames[int(level)];
    if (format == LogFormat::text) {
        int head = std::snprintf(out, size, "%.*s %-5s %.*s: ", int(time.size()), time.data(),
                                 level_name, int(program.size()), program.data());
        n = std::min<std::size_t>(std::max(head, 0), size - 1);
        std::size_t body = std::min(message.size(), size - 1 - n);
        std::memcpy(out + n, message.data(), body);
        n += body;
    } else {
        // The fixed parts and the short fields always fit a line buffer of a sane size; the
        // message is escaped into what is left, keeping room for the closing "}\n.
        constexpr std::size_t kTail = 3;
        std::size_t room = size - kTail;
        append(out, room, n, R"({"time":")");
        n += json_escape(time, out + n, room - n);
        append(out, room, n, R"(","level":")");
        append(out, room, n, level_name);
        append(out, room, n, R"(","program":")");
        n += json_escape(program, out + n, room - n);
        append(out, room, n, R"(","message":")");
        n += json_escape(message, out + n, room - n);
        std::memcpy(out + n, "\"}", 2);
        n += 2;
    }
    out[n++] = '\n';
    return n;
}

void log(LogLevel level, const char* fmt, ...) {
    char message[2048];
    va_list args;
    va_start(args, fmt);
    int body = std::vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    std::size_t len = std::min<std::size_t>(std::max(body, 0), sizeof message - 1);
    char time[40];
    int time_len = format_time(time, sizeof time);
    char line[4096];
    std::size_t n = format_log_line(line, sizeof line, g_format.load(std::memory_order_relaxed),
                                    level, std::string_view(time, time_len), g_name,
                                    std::string_view(message, len));
    ssize_t ignored = ::write(STDERR_FILENO, line, n);
    (void)ignored;
}

} // namespace zlb
