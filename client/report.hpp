#pragma once
// What a run measured: outcomes and latency histograms overall and per server, the
// stdout table, and the --json summary. Memory is fixed per server, not per request.
#include "core/histogram.hpp"

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>

namespace zlb::client {

struct GroupStats {
    std::uint64_t count = 0;    // requests whose outcome came from here
    std::uint64_t ok = 0;
    std::uint64_t errors = 0;
    std::uint64_t timeouts = 0;         // requests that ended as timeouts
    std::uint64_t attempt_timeouts = 0; // attempts that got no reply in time, retried or not
    Histogram latency_us;  // end to end, as the client saw it
    Histogram service_us;  // receipt to reply, as the server reported it
};

class Report {
public:
    explicit Report(std::string op) : op_(std::move(op)) {}

    void outcome_ok(std::string_view server, std::uint64_t latency_us, std::uint64_t service_us);
    void outcome_error(std::string_view server, std::string_view code, std::uint64_t latency_us,
                       std::uint64_t service_us);
    void outcome_timeout(std::string_view server);
    // An attempt that got no reply in time; the request may still succeed on a retry.
    void attempt_timeout(std::string_view server);
    void retry() { ++retried_; }
    void late_reply() { ++late_replies_; }
    void invalid_reply() { ++invalid_replies_; }
    void finish(std::uint64_t requests, double elapsed_s);
    // How many requests went to each endpoint (sends, not outcomes).
    void endpoint_sent(const std::string& endpoint, std::uint64_t sent);

    const GroupStats& overall() const { return overall_; }
    std::uint64_t failed() const { return overall_.errors; }
    std::uint64_t timeouts() const { return overall_.timeouts; }
    bool all_ok() const { return overall_.ok == requests_; }

    void table_print(std::FILE* out) const;
    // Throws std::runtime_error when the file can't be written.
    void json_write(const std::string& path) const;

private:
    GroupStats& server(std::string_view name);

    std::string op_;
    GroupStats overall_;
    std::map<std::string, GroupStats, std::less<>> servers_;
    std::map<std::string, std::uint64_t, std::less<>> errors_;
    std::uint64_t late_replies_ = 0;
    std::uint64_t retried_ = 0;
    std::uint64_t invalid_replies_ = 0;
    std::uint64_t requests_ = 0;
    double elapsed_s_ = 0;
    std::map<std::string, std::uint64_t> endpoints_;
};

} // namespace zlb::client
