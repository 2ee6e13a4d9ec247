#include "client/report.hpp"

namespace zlb::client {
namespace {

// Requests that never got a reply have no server; they are listed under this name.
constexpr std::string_view kNoServer = "(no reply)";

struct Summary {
    std::uint64_t min, p50, p90, p99, p999, max;
    double mean;
};

Summary summarize(const Histogram& h) {
    return {h.min(),          h.percentile(50), h.percentile(90), h.percentile(99),
            h.percentile(99.9), h.max(),        h.mean()};
}

void row_print(std::FILE* out, std::string_view label, const GroupStats& g, std::uint64_t total,
               const Histogram& h) {
    Summary s = summarize(h);
    double share = total ? 100.0 * g.count / total : 0;
    std::fprintf(out, "  %-28.*s %8llu %6.1f%% %8llu %9.1f %8llu %8llu %8llu %8llu %8llu\n",
                 static_cast<int>(label.size()), label.data(),
                 static_cast<unsigned long long>(g.count), share,
                 static_cast<unsigned long long>(s.min), s.mean,
                 static_cast<unsigned long long>(s.p50), static_cast<unsigned long long>(s.p90),
                 static_cast<unsigned long long>(s.p99), static_cast<unsigned long long>(s.p999),
                 static_cast<unsigned long long>(s.max));
}

} // namespace

GroupStats& Report::server(std::string_view name) {
    auto it = servers_.find(name);
    if (it == servers_.end()) it = servers_.try_emplace(std::string(name)).first;
    return it->second;
}

// The time series covers the whole run, warm-up included, so the warm-up can be seen.
void Report::interval_record(const Outcome* o, bool error) {
    ++interval_count_;
    interval_errors_ += error;
    if (o) interval_us_.record(o->latency.corrected_us);
}

void Report::outcome_ok(const Outcome& o) {
    interval_record(&o, false);
    if (o.warmup) {
        ++warmup_.count;
        ++warmup_.ok;
        return;
    }
    uncorrected_us_.record(o.latency.uncorrected_us);
    for (GroupStats* g : {&overall_, &server(o.server)}) {
        ++g->count;
        ++g->ok;
        g->latency_us.record(o.latency.corrected_us);
        g->service_us.record(o.service_us);
    }
}

void Report::outcome_error(const Outcome& o, std::string_view code) {
    interval_record(&o, true);
    if (o.warmup) {
        ++warmup_.count;
        ++warmup_.errors;
        return;
    }
    uncorrected_us_.record(o.latency.uncorrected_us);
    for (GroupStats* g : {&overall_, &server(o.server)}) {
        ++g->count;
        ++g->errors;
        g->latency_us.record(o.latency.corrected_us);
        g->service_us.record(o.service_us);
    }
    auto it = errors_.find(code);
    if (it == errors_.end()) it = errors_.emplace(std::string(code), 0).first;
    ++it->second;
}

void Report::outcome_timeout(std::string_view name, bool warmup) {
    interval_record(nullptr, true);
    if (warmup) {
        ++warmup_.count;
        ++warmup_.timeouts;
        return;
    }
    for (GroupStats* g : {&overall_, &server(name.empty() ? kNoServer : name)}) {
        ++g->count;
        ++g->timeouts;
    }
}

void Report::attempt_timeout(std::string_view name) {
    ++overall_.attempt_timeouts;
    ++server(name).attempt_timeouts;
}

void Report::finish(double elapsed_s) {
    elapsed_s_ = elapsed_s;
}

double Report::throughput() const {
    double measured_s = elapsed_s_ - mode_.warmup_s;
    return measured_s > 0 ? double(overall_.count) / measured_s : 0;
}

void Report::endpoint_sent(const std::string& endpoint, std::uint64_t sent) {
    endpoints_[endpoint] += sent;
}

const IntervalRow& Report::interval_close(double t_s, double length_s, bool warmup) {
    IntervalRow row;
    row.t_s = t_s;
    row.length_s = length_s;
    row.rps = length_s > 0 ? double(interval_count_) / length_s : 0;
    row.p50_us = interval_us_.percentile(50);
    row.p99_us = interval_us_.percentile(99);
    row.errors = interval_errors_;
    row.warmup = warmup;
    intervals_.push_back(row);
    interval_us_.reset();
    interval_count_ = interval_errors_ = 0;
    return intervals_.back();
}

void Report::table_print(std::FILE* out) const {
    std::fprintf(out, "zlb-client: %s, %llu requests to %zu endpoints in %.3f s: %.1f req/s\n",
                 op_.c_str(), static_cast<unsigned long long>(overall_.count), endpoints_.size(),
                 elapsed_s_, throughput());
    if (mode_.open_loop)
        std::fprintf(out, "  open loop at %.1f req/s: late starts %llu\n", mode_.rate,
                     static_cast<unsigned long long>(late_starts_));
    if (mode_.warmup_s > 0)
        std::fprintf(out,
                     "  warm-up %.1f s: %llu requests left out "
                     "(ok %llu, failed %llu, timeouts %llu)\n",
                     mode_.warmup_s, static_cast<unsigned long long>(warmup_.count),
                     static_cast<unsigned long long>(warmup_.ok),
                     static_cast<unsigned long long>(warmup_.errors),
                     static_cast<unsigned long long>(warmup_.timeouts));
    std::fprintf(out,
                 "  ok %llu, failed %llu, timeouts %llu, retried %llu, late replies %llu, invalid %llu\n\n",
                 static_cast<unsigned long long>(overall_.ok),
                 static_cast<unsigned long long>(overall_.errors),
                 static_cast<unsigned long long>(overall_.timeouts),
                 static_cast<unsigned long long>(retried_),
                 static_cast<unsigned long long>(late_replies_),
                 static_cast<unsigned long long>(invalid_replies_));
    std::fprintf(out, "  %-28s %8s %7s %8s %9s %8s %8s %8s %8s %8s\n", "latency (us)", "count",
                 "share", "min", "mean", "p50", "p90", "p99", "p99.9", "max");
    row_print(out, op_ + " end-to-end", overall_, overall_.count, overall_.latency_us);
    // In a closed loop the two would be the same numbers.
    if (mode_.open_loop)
        row_print(out, op_ + " uncorrected", overall_, overall_.count, uncorrected_us_);
    row_print(out, op_ + " server service", overall_, overall_.count, overall_.service_us);
    for (const auto& [name, g] : servers_)
        row_print(out, "server " + name, g, overall_.count, g.latency_us);
    std::fprintf(out, "\n  errors:");
    if (errors_.empty() && overall_.timeouts == 0) std::fprintf(out, " none");
    for (const auto& [code, n] : errors_)
        std::fprintf(out, " %s=%llu", code.c_str(), static_cast<unsigned long long>(n));
    if (overall_.timeouts)
        std::fprintf(out, " timeout(client)=%llu", static_cast<unsigned long long>(overall_.timeouts));
    std::fprintf(out, "\n");
}

} // namespace zlb::client
