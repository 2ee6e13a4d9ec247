#include "client/report.hpp"

#include <fstream>
#include <stdexcept>

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

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\', out += c;
        else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else out += c;
    }
    return out + "\"";
}

std::string json_latency(const Histogram& h) {
    Summary s = summarize(h);
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "{\"min\": %llu, \"mean\": %.1f, \"p50\": %llu, \"p90\": %llu, \"p99\": %llu, "
                  "\"p999\": %llu, \"max\": %llu}",
                  static_cast<unsigned long long>(s.min), s.mean,
                  static_cast<unsigned long long>(s.p50), static_cast<unsigned long long>(s.p90),
                  static_cast<unsigned long long>(s.p99), static_cast<unsigned long long>(s.p999),
                  static_cast<unsigned long long>(s.max));
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

} // namespace

GroupStats& Report::server(std::string_view name) {
    auto it = servers_.find(name);
    if (it == servers_.end()) it = servers_.try_emplace(std::string(name)).first;
    return it->second;
}

void Report::outcome_ok(std::string_view name, std::uint64_t latency_us, std::uint64_t service_us) {
    for (GroupStats* g : {&overall_, &server(name)}) {
        ++g->count;
        ++g->ok;
        g->latency_us.record(latency_us);
        g->service_us.record(service_us);
    }
}

void Report::outcome_error(std::string_view name, std::string_view code, std::uint64_t latency_us,
                           std::uint64_t service_us) {
    for (GroupStats* g : {&overall_, &server(name)}) {
        ++g->count;
        ++g->errors;
        g->latency_us.record(latency_us);
        g->service_us.record(service_us);
    }
    auto it = errors_.find(code);
    if (it == errors_.end()) it = errors_.emplace(std::string(code), 0).first;
    ++it->second;
}

void Report::outcome_timeout(std::string_view name) {
    for (GroupStats* g : {&overall_, &server(name.empty() ? kNoServer : name)}) {
        ++g->count;
        ++g->timeouts;
    }
}

void Report::attempt_timeout(std::string_view name) {
    ++overall_.attempt_timeouts;
    ++server(name).attempt_timeouts;
}

void Report::finish(std::uint64_t requests, double elapsed_s) {
    requests_ = requests;
    elapsed_s_ = elapsed_s;
}

void Report::endpoint_sent(const std::string& endpoint, std::uint64_t sent) {
    endpoints_[endpoint] += sent;
}

void Report::table_print(std::FILE* out) const {
    double rps = elapsed_s_ > 0 ? overall_.count / elapsed_s_ : 0;
    std::fprintf(out, "zlb-client: %s, %llu requests to %zu endpoints in %.3f s: %.1f req/s\n",
                 op_.c_str(), static_cast<unsigned long long>(requests_), endpoints_.size(), elapsed_s_,
                 rps);
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

void Report::json_write(const std::string& path) const {
    std::ofstream out(path);
    if (!out) throw std::runtime_error("cannot write " + path);
    double rps = elapsed_s_ > 0 ? overall_.count / elapsed_s_ : 0;
    out << "{\n  \"op\": " << json_string(op_) << ",\n  \"requests\": " << requests_
        << ",\n  \"ok\": " << overall_.ok << ",\n  \"failed\": " << overall_.errors
        << ",\n  \"timeouts\": " << overall_.timeouts << ",\n  \"retried\": " << retried_
        << ",\n  \"late_replies\": " << late_replies_
        << ",\n  \"invalid_replies\": " << invalid_replies_ << ",\n  \"elapsed_s\": " << elapsed_s_
        << ",\n  \"throughput_rps\": " << rps
        << ",\n  \"latency_us\": " << json_latency(overall_.latency_us)
        << ",\n  \"service_us\": " << json_latency(overall_.service_us)
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
    out << "}\n}\n";
    if (!out) throw std::runtime_error("cannot write " + path);
}

} // namespace zlb::client
