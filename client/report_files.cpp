// The report's files, written once the run is over: --json, --hist and --plot.
#include "client/plot.hpp"
#include "client/report.hpp"

#include <fstream>
#include <stdexcept>

namespace zlb::client {
namespace {

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            out += '\\', out += c;
        else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else
            out += c;
    }
    return out + "\"";
}

std::string json_latency(const Histogram& h) {
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "{\"min\": %llu, \"mean\": %.1f, \"p50\": %llu, \"p90\": %llu, \"p99\": %llu, "
                  "\"p999\": %llu, \"max\": %llu}",
                  static_cast<unsigned long long>(h.min()), h.mean(),
                  static_cast<unsigned long long>(h.percentile(50)),
                  static_cast<unsigned long long>(h.percentile(90)),
                  static_cast<unsigned long long>(h.percentile(99)),
                  static_cast<unsigned long long>(h.percentile(99.9)),
                  static_cast<unsigned long long>(h.max()));
    return buf;
}

std::string json_group(const GroupStats& g) {
    return "{\"count\": " + std::to_string(g.count) + ", \"ok\": " + std::to_string(g.ok) +
           ", \"errors\": " + std::to_string(g.errors) +
           ", \"timeouts\": " + std::to_string(g.timeouts) +
           ", \"attempt_timeouts\": " + std::to_string(g.attempt_timeouts) +
           ", \"latency_us\": " + json_latency(g.latency_us) +
           ", \"service_us\": " + json_latency(g.service_us) + "}";
}

std::string json_interval(const IntervalRow& r) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "{\"t_s\": %.3f, \"length_s\": %.3f, \"rps\": %.1f, \"p50_us\": %llu, "
                  "\"p99_us\": %llu, \"errors\": %llu, \"warmup\": %s}",
                  r.t_s, r.length_s, r.rps, static_cast<unsigned long long>(r.p50_us),
                  static_cast<unsigned long long>(r.p99_us),
                  static_cast<unsigned long long>(r.errors), r.warmup ? "true" : "false");
    return buf;
}

std::ofstream file_open(const std::string& path) {
    std::ofstream out(path);
    if (!out) throw std::runtime_error("cannot write " + path);
    return out;
}

void file_check(const std::ofstream& out, const std::string& path) {
    if (!out) throw std::runtime_error("cannot write " + path);
}

} // namespace

void Report::json_write(const std::string& path) const {
    auto out = file_open(path);
    out << "{\n  \"op\": " << json_string(op_) << ",\n  \"mode\": \""
        << (mode_.open_loop ? "open" : "closed") << "\"";
    if (mode_.open_loop) out << ",\n  \"rate_rps\": " << mode_.rate;
    out << ",\n  \"requests\": " << overall_.count << ",\n  \"ok\": " << overall_.ok
        << ",\n  \"failed\": " << overall_.errors << ",\n  \"timeouts\": " << overall_.timeouts
        << ",\n  \"retried\": " << retried_ << ",\n  \"late_replies\": " << late_replies_
        << ",\n  \"invalid_replies\": " << invalid_replies_
        << ",\n  \"late_starts\": " << late_starts_ << ",\n  \"elapsed_s\": " << elapsed_s_
        << ",\n  \"throughput_rps\": " << throughput()
        << ",\n  \"latency_us\": " << json_latency(overall_.latency_us)
        << ",\n  \"latency_uncorrected_us\": " << json_latency(uncorrected_us_)
        << ",\n  \"service_us\": " << json_latency(overall_.service_us)
        << ",\n  \"warmup\": {\"s\": " << mode_.warmup_s << ", \"requests\": " << warmup_.count
        << ", \"ok\": " << warmup_.ok << ", \"failed\": " << warmup_.errors
        << ", \"timeouts\": " << warmup_.timeouts << "}"
        << ",\n  \"ops\": {" << json_string(op_) << ": " << json_group(overall_) << "}"
        << ",\n  \"servers\": {";
    const char* sep = "\n    ";
    for (const auto& [name, g] : servers_) {
        out << sep << json_string(name) << ": " << json_group(g);
        sep = ",\n    ";
    }
    out << "\n  },\n  \"endpoints\": {";
    sep = "";
    for (const auto& [endpoint, sent] : endpoints_) {
        out << sep << json_string(endpoint) << ": {\"sent\": " << sent << "}";
        sep = ", ";
    }
    out << "},\n  \"errors\": {";
    sep = "";
    for (const auto& [code, n] : errors_) {
        out << sep << json_string(code) << ": " << n;
        sep = ", ";
    }
    out << "},\n  \"intervals\": [";
    sep = "\n    ";
    for (const auto& row : intervals_) {
        out << sep << json_interval(row);
        sep = ",\n    ";
    }
    out << (intervals_.empty() ? "]" : "\n  ]") << "\n}\n";
    file_check(out, path);
}

// Milliseconds, as wrk2 writes it and HdrHistogram's plotter labels its axis.
void Report::hist_write(const std::string& path) const {
    auto out = file_open(path);
    overall_.latency_us.write_percentile_distribution(out, 1000.0);
    file_check(out, path);
}

void Report::plot_write(const std::string& path) const {
    PlotInput in;
    in.title = "zlb-client " + op_ + ": " + std::to_string(overall_.count) + " requests";
    char mode[64] = ", closed loop";
    if (mode_.open_loop) std::snprintf(mode, sizeof mode, ", open loop at %g req/s", mode_.rate);
    in.title += mode;
    in.curves.push_back({"all servers", &overall_.latency_us, false});
    if (mode_.open_loop)
        in.curves.push_back({"all, from actual send (uncorrected)", &uncorrected_us_, true});
    for (const auto& [name, g] : servers_)
        if (g.latency_us.count() > 0) in.curves.push_back({name, &g.latency_us, false});
    in.intervals = &intervals_;
    in.warmup_s = mode_.warmup_s;
    in.open_loop = mode_.open_loop;
    auto out = file_open(path);
    svg_write(out, in);
    file_check(out, path);
}

} // namespace zlb::client
