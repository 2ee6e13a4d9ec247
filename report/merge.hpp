#pragma once
// One report from many clients: the interval logs of several zlb-client --hlog runs
// added together on absolute time. Histograms are summed, count by count; percentiles
// are read off the sums, never averaged.
#include "report/plot.hpp"
#include "stats/hlog.hpp"

#include <string>
#include <vector>

namespace zlb::report {

// One log, or the union of them all, over the intervals that were counted.
struct LogSummary {
    std::string name;
    Histogram corrected;   // tag "corrected" (or untagged rows, as Java writes them)
    Histogram uncorrected; // tag "uncorrected"
    double start_s = 0;    // absolute, seconds since the epoch: first counted interval
    double end_s = 0;      // end of the last counted interval
    std::uint64_t skipped = 0; // corrected counts left out as warm-up
    std::uint64_t other_tags = 0; // rows of other tags, ignored
    bool spanned = false;         // start_s and end_s are set
    double elapsed_s() const { return end_s > start_s ? end_s - start_s : 0; }
    // Corrected latencies recorded (ok and failed requests) per second of elapsed_s().
    double throughput() const;
};

struct Merged {
    std::vector<LogSummary> logs; // in the order given
    LogSummary all;               // every log's counts in one histogram per tag
    double t0_s = 0;              // the earliest StartTime: time 0 of the series
    double skip_warmup_s = 0;
    // Every log's intervals summed into steps of the first log's interval length,
    // each at its midpoint; t_s is the step's end after t0_s.
    std::vector<IntervalRow> series;
};

// skip_warmup_s: intervals that start within this long after the earliest StartTime of
// all logs are left out (absolute time: the clients' common start).
Merged merge(const std::vector<std::pair<std::string, hdr::Log>>& logs, double skip_warmup_s);

} // namespace zlb::report
