#pragma once
// What a run measured: outcomes and latency histograms overall and per server, the
// warm-up it left out, the per-interval time series, the stdout table, and the --json,
// --hist and --plot files. Memory is fixed per server and per interval, not per request.
#include "client/schedule.hpp"
#include "report/plot.hpp"
#include "stats/histogram.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
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
    std::size_t items = 1;  // numbers in a factor request (--batch)
    long http_status = 0;   // fetch: the HTTP status of an ok reply; 0 for none
};

// A threshold from --slo 'p99<5ms': a latency percentile (corrected, in us) or the error
// rate (errors and timeouts over measured requests, a fraction) must stay below limit.
struct Slo {
    enum class Metric { p50, p90, p99, p999, max, error_rate };
    std::string text; // as given
    Metric metric = Metric::p99;
    bool inclusive = false; // <= rather than <
    double limit = 0;       // us for latencies, a fraction for error_rate
};

struct SloResult {
    Slo slo;
    double value = 0; // us or a fraction, as limit
    bool ok = true;
};

// The few distinct messages kept for one error code, each with its count; messages
// beyond kMaxMessages are only counted, in `other`.
struct ErrorMessages {
    static constexpr std::size_t kMaxMessages = 3;
    std::vector<std::pair<std::string, std::uint64_t>> messages;
    std::uint64_t other = 0;
};

// State of one endpoint at the end of the run.
struct EndpointState {
    std::uint64_t sent = 0;
    bool connected = false;
    std::string problem; // why it is not up; empty when up
};

// Requests started during the warm-up still end as exactly one outcome; only these
// totals remember them.
struct WarmupStats {
    std::uint64_t count = 0, ok = 0, errors = 0, timeouts = 0;
};

using report::IntervalRow;

// How the run was driven, for the table, the JSON and the plot's title.
struct RunMode {
    bool open_loop = false;
    double rate = 0;     // requests per second, open loop only
    double warmup_s = 0;
    bool intervals = true; // intervals are closed (--interval): each outcome is recorded for them
};

class Report {
public:
    explicit Report(std::string op, RunMode mode = {}) : op_(std::move(op)), mode_(mode) {}

    void outcome_ok(const Outcome& o);
    void outcome_error(const Outcome& o, std::string_view code, std::string_view message = {});
    void outcome_timeout(std::string_view server, bool warmup, std::string_view message = {});
    // An attempt that got no reply in time; the request may still succeed on a retry.
    void attempt_timeout(std::string_view server);
    void retry() { ++retried_; }
    void late_reply() { ++late_replies_; }
    void invalid_reply(std::string_view message = {});
    void late_start() { ++late_starts_; }
    // --start-at: the run began this long after the time asked for (0: on time).
    void start_late(double late_ms) { start_late_ms_ = late_ms; }
    std::optional<double> start_late_ms() const { return start_late_ms_; }
    void finish(double elapsed_s);
    // How many requests went to each endpoint (sends, not outcomes).
    void endpoint_sent(const std::string& endpoint, std::uint64_t sent);
    // The same, with whether it was up at the end and why not.
    void endpoint_state(const std::string& endpoint, EndpointState state);
    // The run was stopped by a signal: `unsent` requests were never sent (nullopt when
    // the run had no request count: closed loop --duration), `in_flight` were still open
    // when the grace of grace_s ended.
    void interrupted(std::optional<std::uint64_t> unsent, std::uint64_t in_flight, double grace_s);
    bool was_interrupted() const { return interrupted_; }
    // Checks every threshold against the statistics; after finish().
    void slo_evaluate(const std::vector<Slo>& slos);
    bool slo_ok() const;
    const std::vector<SloResult>& slo_results() const { return slo_results_; }

    // Closes the current interval: returns its row (also kept for the JSON and the plot)
    // and starts the next one empty.
    const IntervalRow& interval_close(double t_s, double length_s, bool warmup);

    // The whole run: counts are kept as outcomes come; the histograms are the sum of the
    // servers' (every measured outcome has one server group), merged here when read, so
    // an outcome costs four records, not six.
    const GroupStats& overall() const;
    // Bounds on what servers name (see bounded_entry in report.cpp): distinct server
    // names (each has a pair of histograms, 360 KB) and error codes, and key length.
    static constexpr std::size_t kMaxServers = 256;
    static constexpr std::size_t kMaxCodes = 32;
    static constexpr std::size_t kMaxKeyBytes = 64;
    const Histogram& uncorrected() const {
        return mode_.open_loop ? uncorrected_us_ : overall().latency_us;
    }
    const std::vector<IntervalRow>& intervals() const { return intervals_; }
    const WarmupStats& warmup() const { return warmup_; }
    const RunMode& mode() const { return mode_; }
    const std::string& op() const { return op_; }
    std::uint64_t late_starts() const { return late_starts_; }
    std::uint64_t retried() const { return retried_; }
    std::uint64_t late_replies() const { return late_replies_; }
    std::uint64_t invalid_replies() const { return invalid_replies_; }
    const std::map<std::string, ErrorMessages, std::less<>>& error_messages() const {
        return messages_;
    }
    const std::map<long, std::uint64_t>& http_statuses() const { return http_status_; }
    const std::map<std::string, GroupStats, std::less<>>& servers() const { return servers_; }
    std::uint64_t items() const { return items_; }
    // Warm-up requests count here too: a failure is a failure, measured or not.
    bool all_ok() const {
        return overall_.ok == overall_.count && warmup_.ok == warmup_.count;
    }
    // Requests per second over the measured part of the run (after the warm-up).
    double throughput() const;
    // The measured part of the run: after the warm-up, in seconds.
    double measured_s() const;
    // Errors and timeouts over measured requests; 0 when nothing was measured.
    double error_rate() const;
    // 130 when interrupted, 3 when a threshold failed, 1 when a request failed, else 0.
    int exit_code() const;

    void table_print(std::FILE* out) const;
    // Each throws std::runtime_error when the file can't be written. Each writes a
    // temporary file beside `path` and renames it, so the file is whole or absent.
    // json_write("-") writes to stdout.
    void json_write(const std::string& path) const;
    // HdrHistogram's percentile distribution of the corrected latency, in milliseconds.
    void hist_write(const std::string& path) const;
    void plot_write(const std::string& path) const;
    // --hlog: an HdrHistogram interval log (stats/hlog.hpp), one row per tag at every
    // interval_close: "corrected" and "uncorrected" latency, warm-up included like the
    // time series. hlog_open creates the file (throws when it can't); hlog_start writes
    // the header with the run's start in ms since the epoch; hlog_finish writes what
    // ended after the last closed interval, up to t_s, and closes the file.
    void hlog_open(const std::string& path);
    void hlog_start(std::int64_t start_epoch_ms);
    void hlog_finish(double t_s);

private:
    GroupStats& server(std::string_view name);
    bool answered_record(const Outcome& o, bool ok);
    void interval_record(const Outcome* o, bool error);
    void message_record(std::string_view code, std::string_view message);
    void hlog_rows(double start_s, double length_s);
    std::string json_text() const;

    std::string op_;
    RunMode mode_;
    mutable GroupStats overall_;
    mutable bool overall_stale_ = false; // servers' histograms changed since overall()
    Histogram uncorrected_us_; // overall, from the actual first send (open loop only)
    std::map<std::string, GroupStats, std::less<>> servers_;
    // The groups server() found last, by name as the reply spelled it: a map lookup costs
    // string compares down the tree on every reply, and a run has a few servers. Points
    // into servers_, which never erases; a report moved (or copied) starts with none.
    struct RecentGroups {
        struct Entry {
            const std::string* name = nullptr;
            GroupStats* group = nullptr;
        };
        std::array<Entry, 4> entries{};
        std::size_t next = 0;
        RecentGroups() = default;
        RecentGroups(const RecentGroups&) {}
        RecentGroups& operator=(const RecentGroups&) {
            entries = {};
            next = 0;
            return *this;
        }
    } recent_servers_;
    std::map<std::string, std::uint64_t, std::less<>> errors_;
    WarmupStats warmup_;
    std::uint64_t late_replies_ = 0;
    std::uint64_t retried_ = 0;
    std::uint64_t invalid_replies_ = 0;
    std::uint64_t late_starts_ = 0;
    double elapsed_s_ = 0;
    std::map<std::string, EndpointState> endpoints_;
    std::map<std::string, ErrorMessages, std::less<>> messages_;
    std::map<long, std::uint64_t> http_status_;
    std::uint64_t items_ = 0; // numbers in measured factor requests
    bool interrupted_ = false;
    std::optional<std::uint64_t> unsent_;
    std::uint64_t in_flight_ = 0;
    double grace_s_ = 0;
    std::vector<SloResult> slo_results_;

    std::optional<double> start_late_ms_;
    struct FileClose {
        void operator()(std::FILE* f) const { std::fclose(f); }
    };
    std::unique_ptr<std::FILE, FileClose> hlog_;
    std::string hlog_path_;
    double interval_end_s_ = 0; // where the last closed interval ended

    // The interval in progress: reset when it closes, so memory stays fixed.
    Histogram interval_us_;
    Histogram interval_uncorrected_us_; // only with --hlog
    std::uint64_t interval_count_ = 0;
    std::uint64_t interval_errors_ = 0;
    std::vector<IntervalRow> intervals_;
};

} // namespace zlb::client
