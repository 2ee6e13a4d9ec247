#pragma once
// What zlb-client's and zlb-report's output files share: whole-or-absent file writes and
// the JSON pieces (strings, latency summaries) both write in the same shape.
#include "report/plot.hpp"
#include "stats/histogram.hpp"

#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace zlb::report {

// Writes a temporary file beside path, then renames it over path. Throws
// std::runtime_error naming path when it can't be written.
void file_write(const std::string& path, const std::function<void(std::ostream&)>& fill);

// A JSON string literal, control characters escaped.
std::string json_string(std::string_view s);
// {"min": .., "mean": .., "p50": .., "p90": .., "p99": .., "p999": .., "max": ..} in us.
std::string json_latency(const Histogram& h);
// One row of the time series: {"t_s": .., "length_s": .., "rps": .., "p50_us": .., ...}.
std::string json_interval(const IntervalRow& r);

} // namespace zlb::report
