// The report's files, written once the run is over: --json, --hist and --plot; and the
// --hlog interval log, written as the run goes, one row per tag and interval.
#include "client/report.hpp"
#include "report/files.hpp"
#include "report/plot.hpp"
#include "stats/hlog.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace zlb::client {
namespace {

using report::file_write;
using report::json_interval;
using report::json_latency;
using report::json_string;

std::string json_group(const GroupStats& g) {
    return "{\"count\": " + std::to_string(g.count) + ", \"ok\": " + std::to_string(g.ok) +
           ", \"errors\": " + std::to_string(g.errors) +
           ", \"timeouts\": " + std::to_string(g.timeouts) +
           ", \"attempt_timeouts\": " + std::to_string(g.attempt_timeouts) +
           ", \"latency_us\": " + json_latency(g.latency_us) +
           ", \"service_us\": " + json_latency(g.service_us) + "}";
}

} // namespace

std::string Report::json_text() const {
    std::ostringstream out;
    out << "{\n  \"op\": " << json_string(op_) << ",\n  \"mode\": \""
        << (mode_.open_loop ? "open" : "closed") << "\"";
    if (mode_.open_loop) out << ",\n  \"rate_rps\": " << mode_.rate;
    out << ",\n  \"interrupted\": " << (interrupted_ ? "true" : "false");
    if (interrupted_) {
        out << ",\n  \"unsent\": ";
        if (unsent_) out << *unsent_;
        else out << "null";
        out << ",\n  \"in_flight\": " << in_flight_ << ",\n  \"grace_s\": " << grace_s_;
    }
    out << ",\n  \"requests\": " << overall_.count << ",\n  \"ok\": " << overall_.ok
        << ",\n  \"failed\": " << overall_.errors << ",\n  \"timeouts\": " << overall_.timeouts
        << ",\n  \"retried\": " << retried_ << ",\n  \"late_replies\": " << late_replies_
        << ",\n  \"invalid_replies\": " << invalid_replies_
        << ",\n  \"late_starts\": " << late_starts_;
    if (start_late_ms_) out << ",\n  \"start_late_ms\": " << *start_late_ms_;
    out << ",\n  \"elapsed_s\": " << elapsed_s_
        << ",\n  \"measured_s\": " << measured_s()
        << ",\n  \"throughput_rps\": " << throughput();
    if (op_ == "factor")
        out << ",\n  \"numbers\": " << items_ << ",\n  \"numbers_per_s\": "
            << (measured_s() > 0 ? double(items_) / measured_s() : 0.0);
    out << ",\n  \"error_rate\": " << error_rate()
        << ",\n  \"latency_us\": " << json_latency(overall().latency_us)
        << ",\n  \"latency_uncorrected_us\": " << json_latency(uncorrected())
        << ",\n  \"service_us\": " << json_latency(overall().service_us)
        << ",\n  \"warmup\": {\"s\": " << mode_.warmup_s << ", \"requests\": " << warmup_.count
        << ", \"ok\": " << warmup_.ok << ", \"failed\": " << warmup_.errors
        << ", \"timeouts\": " << warmup_.timeouts << "}"
        << ",\n  \"ops\": {" << json_string(op_) << ": " << json_group(overall()) << "}"
        << ",\n  \"servers\": {";
    const char* sep = "\n    ";
    for (const auto& [name, g] : servers_) {
        out << sep << json_string(name) << ": " << json_group(g);
        sep = ",\n    ";
    }
    out << "\n  },\n  \"endpoints\": {";
    sep = "\n    ";
    for (const auto& [endpoint, e] : endpoints_) {
        out << sep << json_string(endpoint) << ": {\"sent\": " << e.sent
            << ", \"connected\": " << (e.connected ? "true" : "false");
        if (!e.problem.empty()) out << ", \"problem\": " << json_string(e.problem);
        out << "}";
        sep = ",\n    ";
    }
    out << (endpoints_.empty() ? "}" : "\n  }") << ",\n  \"errors\": {";
    sep = "";
    for (const auto& [code, n] : errors_) {
        out << sep << json_string(code) << ": " << n;
        sep = ", ";
    }
    out << "},\n  \"error_messages\": {";
    sep = "\n    ";
    for (const auto& [code, m] : messages_) {
        out << sep << json_string(code) << ": {\"messages\": [";
        const char* inner = "";
        for (const auto& [text, n] : m.messages) {
            out << inner << "{\"message\": " << json_string(text) << ", \"count\": " << n << "}";
            inner = ", ";
        }
        out << "], \"other\": " << m.other << "}";
        sep = ",\n    ";
    }
    out << (messages_.empty() ? "}" : "\n  }") << ",\n  \"http_status\": {";
    sep = "";
    for (const auto& [status, n] : http_status_) {
        out << sep << "\"" << status << "\": " << n;
        sep = ", ";
    }
    out << "},\n  \"slo\": [";
    sep = "\n    ";
    for (const auto& r : slo_results_) {
        out << sep << "{\"slo\": " << json_string(r.slo.text) << ", \"value\": " << r.value
            << ", \"limit\": " << r.slo.limit << ", \"unit\": \""
            << (r.slo.metric == Slo::Metric::error_rate ? "fraction" : "us")
            << "\", \"ok\": " << (r.ok ? "true" : "false") << "}";
        sep = ",\n    ";
    }
    out << (slo_results_.empty() ? "]" : "\n  ]")
        << ",\n  \"slo_ok\": " << (slo_ok() ? "true" : "false") << ",\n  \"intervals\": [";
    sep = "\n    ";
    for (const auto& row : intervals_) {
        out << sep << json_interval(row);
        sep = ",\n    ";
    }
    out << (intervals_.empty() ? "]" : "\n  ]") << "\n}\n";
    return out.str();
}

void Report::json_write(const std::string& path) const {
    std::string text = json_text();
    if (path == "-") {
        std::fwrite(text.data(), 1, text.size(), stdout);
        if (std::fflush(stdout) != 0) throw std::runtime_error("cannot write the JSON to stdout");
        return;
    }
    file_write(path, [&](std::ostream& out) { out << text; });
}

// Milliseconds, as wrk2 writes it and HdrHistogram's plotter labels its axis.
void Report::hist_write(const std::string& path) const {
    file_write(path, [&](std::ostream& out) {
        overall().latency_us.write_percentile_distribution(out, 1000.0);
    });
}

void Report::plot_write(const std::string& path) const {
    report::PlotInput in;
    in.title = "zlb-client " + op_ + ": " + std::to_string(overall_.count) + " requests";
    char mode[64] = ", closed loop";
    if (mode_.open_loop) std::snprintf(mode, sizeof mode, ", open loop at %g req/s", mode_.rate);
    in.title += mode;
    in.curves.push_back({"all servers", &overall().latency_us, false});
    if (mode_.open_loop)
        in.curves.push_back({"all, from actual send (uncorrected)", &uncorrected_us_, true});
    for (const auto& [name, g] : servers_)
        if (g.latency_us.count() > 0) in.curves.push_back({name, &g.latency_us, false});
    in.intervals = &intervals_;
    in.warmup_s = mode_.warmup_s;
    in.open_loop = mode_.open_loop;
    file_write(path, [&](std::ostream& out) { report::svg_write(out, in); });
}

void Report::hlog_open(const std::string& path) {
    hlog_.reset(std::fopen(path.c_str(), "w"));
    if (!hlog_) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    hlog_path_ = path;
}

void Report::hlog_start(std::int64_t start_epoch_ms) {
    if (!hlog_) return;
    const std::string header = hdr::log_header(
        start_epoch_ms, "zlb-client " + op_ + ": latency in microseconds, Interval_Max in ms");
    std::fputs(header.c_str(), hlog_.get());
    std::fflush(hlog_.get());
}

// Written and flushed at every interval, so a reader sees whole rows as the run goes.
// A full disk is reported once, at the end (hlog_finish), not per row.
void Report::hlog_rows(double start_s, double length_s) {
    const std::string rows = hdr::log_interval("corrected", start_s, length_s, interval_us_) +
                             hdr::log_interval("uncorrected", start_s, length_s,
                                               interval_uncorrected_us_);
    std::fputs(rows.c_str(), hlog_.get());
    std::fflush(hlog_.get());
    interval_uncorrected_us_.reset();
}

void Report::hlog_finish(double t_s) {
    if (!hlog_) return;
    if (interval_us_.count() > 0 || interval_uncorrected_us_.count() > 0)
        hlog_rows(interval_end_s_, std::max(t_s - interval_end_s_, 0.0));
    const bool failed = std::ferror(hlog_.get()) != 0;
    if (std::fclose(hlog_.release()) != 0 || failed)
        throw std::runtime_error("cannot write " + hlog_path_);
}

} // namespace zlb::client
