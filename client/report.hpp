#pragma once
// What a run measured: outcomes and latency histograms overall and per server, the
// warm-up it left out, the per-interval time series, the stdout table, and the --json,
// --hist and --plot files. Memory is fixed per server and per interval, not per request.
#include "client/schedule.hpp"
#include "stats/histogram.hpp"

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace zlb::client {

struct GroupStats {
    std::uint64_t count = 0;    // requests whose outcome came from here
    std::uint64_t ok = 0;
    std::uint64_t errors = 0;
    std::uint64_t timeouts = 0;         // requests that ended as timeouts
    std::uint64_t attempt_timeouts = 0; // attempts that got no reply in time, retried or not
    Histogram latency_us;  // end to end from the due time (corrected), as the client saw it
    Histogram service_us;  // receipt to reply, as the server reported it
};

// One request's end, as the client hands it to the report.
struct Outcome {
    std::string_view server;
    Latency latency;
    std::uint64_t service_us = 0;
    bool warmup = false; // started during --warmup: left out of the statistics
};

// Requests started during the warm-up still end as exactly one outcome; only these
// totals remember them.
struct WarmupStats {
    std::uint64_t count = 0, ok = 0, errors = 0, timeouts = 0;
};

// One row of the time series: outcomes that ended within the interval ending at t_s.
struct IntervalRow {
    double t_s = 0;      // end of the interval, seconds since the run started
    double length_s = 0; // the last interval of a run may be shorter
    double rps = 0;      // outcomes per second (ok, errors and timeouts alike)
    std::uint64_t p50_us = 0, p99_us = 0; // corrected latency; 0 when nothing ended
    std::uint64_t errors = 0;             // errors and timeouts
    bool warmup = false;                  // the interval lies within the warm-up
};

// How the run was driven, for the table, the JSON and the plot's title.
struct RunMode {
    bool open_loop = false;
    double rate = 0;     // requests per second, open loop only
    double warmup_s = 0;
};

class Report {
public:
    explicit Report(std::string op, RunMode mode = {}) : op_(std::move(op)), mode_(mode) {}

    void outcome_ok(const Outcome& o);
    void outcome_error(const Outcome& o, std::string_view code);
    void outcome_timeout(std::string_view server, bool warmup);
    // An attempt that got no reply in time; the request may still succeed on a retry.
    void attempt_timeout(std::string_view server);
    void retry() { ++retried_; }
    void late_reply() { ++late_replies_; }
    void invalid_reply() { ++invalid_replies_; }
    void late_start() { ++late_starts_; }
    void finish(double elapsed_s);
    // How many requests went to each endpoint (sends, not outcomes).
    void endpoint_sent(const std::string& endpoint, std::uint64_t sent);

    // Closes the current interval: returns its row (also kept for the JSON and the plot)
    // and starts the next one empty.
    const IntervalRow& interval_close(double t_s, double length_s, bool warmup);

    const GroupStats& overall() const { return overall_; }
    const Histogram& uncorrected() const { return uncorrected_us_; }
    const std::vector<IntervalRow>& intervals() const { return intervals_; }
    const WarmupStats& warmup() const { return warmup_; }
    const RunMode& mode() const { return mode_; }
    const std::string& op() const { return op_; }
    std::uint64_t late_starts() const { return late_starts_; }
    std::uint64_t retried() const { return retried_; }
    std::uint64_t late_replies() const { return late_replies_; }
    std::uint64_t invalid_replies() const { return invalid_replies_; }
    // Warm-up requests count here too: a failure is a failure, measured or not.
    bool all_ok() const {
        return overall_.ok == overall_.count && warmup_.ok == warmup_.count;
    }
    // Requests per second over the measured part of the run (after the warm-up).
    double throughput() const;

    void table_print(std::FILE* out) const;
    // Each throws std::runtime_error when the file can't be written.
    void json_write(const std::string& path) const;
    // HdrHistogram's percentile distribution of the corrected latency, in milliseconds.
    void hist_write(const std::string& path) const;
    void plot_write(const std::string& path) const;

private:
    GroupStats& server(std::string_view name);
    void interval_record(const Outcome* o, bool error);

    std::string op_;
    RunMode mode_;
    GroupStats overall_;
    Histogram uncorrected_us_; // overall, from the actual first send
    std::map<std::string, GroupStats, std::less<>> servers_;
    std::map<std::string, std::uint64_t, std::less<>> errors_;
    WarmupStats warmup_;
    std::uint64_t late_replies_ = 0;
    std::uint64_t retried_ = 0;
    std::uint64_t invalid_replies_ = 0;
    std::uint64_t late_starts_ = 0;
    double elapsed_s_ = 0;
    std::map<std::string, std::uint64_t> endpoints_;

    // The interval in progress: reset when it closes, so memory stays fixed.
    Histogram interval_us_;
    std::uint64_t interval_count_ = 0;
    std::uint64_t interval_errors_ = 0;
    std::vector<IntervalRow> intervals_;
};

} // namespace zlb::client
