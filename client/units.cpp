#include "client/units.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace zlb::client {
namespace {

// A non-negative decimal number at the start of text; rest gets what follows.
bool number_parse(std::string_view text, double& value, std::string_view& rest) {
    std::size_t n = 0;
    bool digits = false, dot = false;
    for (; n < text.size(); ++n) {
        char c = text[n];
        if (c >= '0' && c <= '9') digits = true;
        else if (c == '.' && !dot) dot = true;
        else break;
    }
    if (!digits) return false;
    value = std::strtod(std::string(text.substr(0, n)).c_str(), nullptr);
    rest = text.substr(n);
    return std::isfinite(value);
}

// Microseconds in one of the unit; 0 for an unknown unit.
double unit_us(std::string_view unit) {
    if (unit == "us") return 1;
    if (unit == "ms") return 1e3;
    if (unit == "s") return 1e6;
    if (unit == "m") return 60e6;
    if (unit == "h") return 3600e6;
    return 0;
}

} // namespace

double parse_duration_s(std::string_view text, std::string_view flag) {
    double value = 0;
    std::string_view unit;
    double per = 0;
    if (!number_parse(text, value, unit) || (per = unit.empty() ? 1e6 : unit_us(unit)) == 0)
        throw std::invalid_argument(std::string(flag) + ": '" + std::string(text) +
                                    "' is not a duration (like 30s, 1m, 500ms, or 1.5 seconds)");
    return value * per / 1e6;
}

std::int64_t parse_start_at_ms(std::string_view text) {
    using namespace std::chrono;
    const auto now_ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    constexpr std::int64_t kDayMs = 86'400'000;
    std::int64_t at = 0;
    if (!text.empty() && text.front() == '+') {
        const double s = parse_duration_s(text.substr(1), "--start-at");
        if (s * 1000 > double(kDayMs)) throw std::invalid_argument("--start-at: more than a day from now");
        return now_ms + std::llround(s * 1000);
    }
    const std::string digits(text);
    char* end = nullptr;
    errno = 0;
    at = std::strtoll(digits.c_str(), &end, 10);
    if (digits.empty() || end != digits.c_str() + digits.size() || errno != 0 || at < 0)
        throw std::invalid_argument("--start-at: '" + digits +
                                    "' is neither ms since the epoch nor +DURATION (like +5s)");
    // Seconds since the epoch are ten digits today; ms thirteen.
    if (at < 100'000'000'000)
        throw std::invalid_argument("--start-at: " + digits +
                                    " looks like seconds; give milliseconds since the epoch");
    if (at - now_ms > kDayMs) throw std::invalid_argument("--start-at: more than a day from now");
    return at;
}

Slo parse_slo(std::string_view text) {
    Slo slo;
    slo.text = std::string(text);
    auto fail = [&](const std::string& why) {
        return std::invalid_argument("--slo '" + slo.text + "': " + why +
                                     " (expected like p99<5ms or error_rate<1%)");
    };
    auto op = text.find('<');
    if (op == std::string_view::npos) throw fail("no '<'");
    std::string_view name = text.substr(0, op), limit = text.substr(op + 1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    if (!limit.empty() && limit.front() == '=') {
        slo.inclusive = true;
        limit.remove_prefix(1);
    }
    while (!limit.empty() && limit.front() == ' ') limit.remove_prefix(1);
    while (!limit.empty() && limit.back() == ' ') limit.remove_suffix(1);
    using M = Slo::Metric;
    if (name == "p50") slo.metric = M::p50;
    else if (name == "p90") slo.metric = M::p90;
    else if (name == "p99") slo.metric = M::p99;
    else if (name == "p999" || name == "p99.9") slo.metric = M::p999;
    else if (name == "max") slo.metric = M::max;
    else if (name == "error_rate") slo.metric = M::error_rate;
    else throw fail("'" + std::string(name) + "' is not p50, p90, p99, p999, max or error_rate");
    double value = 0;
    std::string_view unit;
    if (!number_parse(limit, value, unit)) throw fail("'" + std::string(limit) + "' is not a number");
    if (slo.metric == M::error_rate) {
        if (unit == "%") value /= 100;
        else if (!unit.empty()) throw fail("an error rate takes no unit but %");
        slo.limit = value;
        return slo;
    }
    double per = unit.empty() ? 1e3 : unit_us(unit);
    if (per == 0 || unit == "m" || unit == "h")
        throw fail("'" + std::string(unit) + "' is not a latency unit (us, ms, s)");
    slo.limit = value * per;
    return slo;
}

std::string ms_text(std::uint64_t us) {
    double ms = us / 1000.0;
    char buf[32];
    if (ms < 10) std::snprintf(buf, sizeof buf, "%.3f", ms);
    else if (ms < 100) std::snprintf(buf, sizeof buf, "%.2f", ms);
    else if (ms < 1000) std::snprintf(buf, sizeof buf, "%.1f", ms);
    else std::snprintf(buf, sizeof buf, "%.0f", ms);
    return buf;
}

unsigned terminal_width(int fd) {
    winsize ws{};
    if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    if (const char* columns = std::getenv("COLUMNS")) {
        long n = std::strtol(columns, nullptr, 10);
        if (n > 0 && n < 10'000) return static_cast<unsigned>(n);
    }
    return 80;
}

} // namespace zlb::client
