#pragma once
// --plot: one self-contained SVG (no scripts, fonts or links to fetch) with two views:
// latency by percentile, x log-scaled in 1/(1-p) as HdrHistogram plots it, one line
// overall and one per server (or per client log, in zlb-report); and throughput and p99 over time from the interval series.
#include "stats/histogram.hpp"

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace zlb::report {

// One row of the time series: outcomes that ended within the interval ending at t_s.
struct IntervalRow {
    double t_s = 0;      // end of the interval, seconds since the run started
    double length_s = 0; // the last interval of a run may be shorter
    double rps = 0;      // outcomes per second (ok, errors and timeouts alike)
    std::uint64_t p50_us = 0, p99_us = 0; // corrected latency; 0 when nothing ended
    std::uint64_t errors = 0;             // errors and timeouts
    bool warmup = false;                  // the interval lies within the warm-up
};


struct PlotCurve {
    std::string name;
    const Histogram* hist;
    bool dashed = false;
};

struct PlotInput {
    std::string title;
    std::vector<PlotCurve> curves; // the first is drawn boldest: the overall one
    const std::vector<IntervalRow>* intervals = nullptr;
    double warmup_s = 0;
    bool open_loop = false; // latency counts from each request's scheduled time
};

void svg_write(std::ostream& out, const PlotInput& in);

// The values at ascending percentiles pcts (0..100), with Histogram::percentile's
// meaning, in one pass over the buckets instead of one per percentile.
std::vector<std::uint64_t> percentile_curve(const Histogram& h, const std::vector<double>& pcts);

} // namespace zlb::report
