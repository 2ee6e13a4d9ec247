#pragma once
// What the client's flags and views spell in units: durations ("30s", "1m", "500ms"; a
// bare number is seconds), thresholds ("p99<5ms", "error_rate<1%"), and latencies shown
// in milliseconds, the one unit of the live view, the interval lines and the table.
#include "client/report.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace zlb::client {

// Seconds in a duration: a non-negative number with an optional unit us, ms, s, m or h
// ("1.5", "30s", "500ms", "1m", "2h"). Throws std::invalid_argument naming `flag`.
double parse_duration_s(std::string_view text, std::string_view flag);

// --start-at: ms since the epoch ("1767225600000"), or "+5s" (any duration) from now.
// Throws std::invalid_argument for seconds given as ms, a time over a day away or junk.
std::int64_t parse_start_at_ms(std::string_view text);

// 'p99<5ms', 'p50<=800us', 'max<1s', 'error_rate<0.01', 'error_rate<1%'. A latency
// without a unit is in milliseconds. Throws std::invalid_argument with the reason.
Slo parse_slo(std::string_view text);

// A latency in microseconds as milliseconds with a precision that suits its size:
// "0.062", "12.35", "123.4", "1234".
std::string ms_text(std::uint64_t us);

// The width of the terminal on fd: TIOCGWINSZ, else $COLUMNS, else 80.
unsigned terminal_width(int fd);

} // namespace zlb::client
