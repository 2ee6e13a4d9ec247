#include "client/report.hpp"

#include "client/units.hpp"
#include "report/table.hpp"

#include <algorithm>

namespace zlb::client {
namespace {

// Requests that never got a reply have no server; they are listed under this name.
constexpr std::string_view kNoServer = "(no reply)";

} // namespace

// A server's name and an error code are what the peer says: each becomes a key of the
// report, printable (no terminal escapes), at most kMaxKeyBytes, and at most kMaxKeys
// distinct of a kind, past which they share `other`. A hostile server that names itself
// anew in every reply would otherwise add a pair of histograms (360 KB) per reply.
// Returns the entry, key and value.
template <class Map>
auto& bounded_entry(Map& map, std::string_view raw, std::size_t max_keys, std::string_view other) {
    auto it = map.find(raw);
    if (it != map.end()) return *it;
    std::string key(raw.substr(0, Report::kMaxKeyBytes));
    for (char& c : key)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    it = map.find(key);
    if (it == map.end() && map.size() >= max_keys) it = map.find(key = std::string(other));
    if (it == map.end()) it = map.try_emplace(std::move(key)).first;
    return *it; // the entry, key and value
}

GroupStats& Report::server(std::string_view name) {
    auto& recent = recent_servers_;
    // Names like host:pid differ mostly in their last byte: comparing it first leaves the
    // memcmp to the name that matches.
    for (const auto& e : recent.entries)
        if (e.name && e.name->size() == name.size() && !name.empty() &&
            e.name->back() == name.back() && *e.name == name)
            return *e.group;
    auto& [key, g] = bounded_entry(servers_, name, kMaxServers, "(other servers)");
    // Under the name the map holds: a raw name stored cleaned or cut short never matches
    // here, and takes the map's way each time, as before.
    recent.entries[recent.next] = {&key, &g};
    recent.next = (recent.next + 1) % recent.entries.size();
    return g;
}

// What every answered request adds, ok or not: the time series, then (past the warm-up)
// the counts overall and in its server's group, and that group's histograms, which
// overall() sums. False for a warm-up outcome, which only the warm-up counts hold.
bool Report::answered_record(const Outcome& o, bool ok) {
    interval_record(&o, !ok);
    if (o.warmup) {
        ++warmup_.count;
        ++(ok ? warmup_.ok : warmup_.errors);
        return false;
    }
    // In a closed loop a request is due when it is first sent: the uncorrected latency
    // is the corrected one, and uncorrected() is the servers' histograms merged.
    if (mode_.open_loop) uncorrected_us_.record(o.latency.uncorrected_us);
    items_ += o.items;
    GroupStats& g = server(o.server);
    for (GroupStats* c : {&overall_, &g}) {
        ++c->count;
        ++(ok ? c->ok : c->errors);
    }
    g.latency_us.record(o.latency.corrected_us);
    g.service_us.record(o.service_us);
    overall_stale_ = true;
    return true;
}

const GroupStats& Report::overall() const {
    if (overall_stale_) {
        overall_.latency_us.reset();
        overall_.service_us.reset();
        for (const auto& [name, g] : servers_) {
            overall_.latency_us.merge(g.latency_us);
            overall_.service_us.merge(g.service_us);
        }
        overall_stale_ = false;
    }
    return overall_;
}

// The time series covers the whole run, warm-up included, so the warm-up can be seen.
void Report::interval_record(const Outcome* o, bool error) {
    ++interval_count_;
    interval_errors_ += error;
    if (!o || !mode_.intervals) return;
    interval_us_.record(o->latency.corrected_us);
    if (hlog_) interval_uncorrected_us_.record(o->latency.uncorrected_us);
}

void Report::outcome_ok(const Outcome& o) {
    if (answered_record(o, true) && o.http_status) ++http_status_[o.http_status];
}

void Report::message_record(std::string_view code, std::string_view message) {
    auto& m = bounded_entry(messages_, code, kMaxCodes, "(other codes)").second;
    // One line each, whatever the server sent.
    std::string text(message.substr(0, 200));
    for (char& c : text)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    for (auto& [seen, n] : m.messages)
        if (seen == text) {
            ++n;
            return;
        }
    if (m.messages.size() < ErrorMessages::kMaxMessages) m.messages.emplace_back(std::move(text), 1);
    else ++m.other;
}

void Report::invalid_reply(std::string_view message) {
    ++invalid_replies_;
    message_record("invalid_reply", message.empty() ? "undecodable reply" : message);
}

void Report::outcome_error(const Outcome& o, std::string_view code, std::string_view message) {
    if (!answered_record(o, false)) return;
    ++bounded_entry(errors_, code, kMaxCodes, "(other codes)").second;
    message_record(code, message.empty() ? "(no message)" : message);
}

void Report::outcome_timeout(std::string_view name, bool warmup, std::string_view message) {
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
    message_record("timeout(client)", message.empty() ? "no reply in time" : message);
}

void Report::attempt_timeout(std::string_view name) {
    ++overall_.attempt_timeouts;
    ++server(name).attempt_timeouts;
}

void Report::finish(double elapsed_s) {
    elapsed_s_ = elapsed_s;
}

double Report::measured_s() const { return std::max(elapsed_s_ - mode_.warmup_s, 0.0); }

double Report::throughput() const {
    double measured = measured_s();
    return measured > 0 ? double(overall_.count) / measured : 0;
}

double Report::error_rate() const {
    if (overall_.count == 0) return 0;
    return double(overall_.errors + overall_.timeouts) / double(overall_.count);
}

void Report::endpoint_sent(const std::string& endpoint, std::uint64_t sent) {
    endpoints_[endpoint].sent += sent;
}

void Report::endpoint_state(const std::string& endpoint, EndpointState state) {
    auto& e = endpoints_[endpoint];
    state.sent += e.sent;
    e = std::move(state);
}

void Report::interrupted(std::optional<std::uint64_t> unsent, std::uint64_t in_flight,
                         double grace_s) {
    interrupted_ = true;
    unsent_ = unsent;
    in_flight_ = in_flight;
    grace_s_ = grace_s;
}

void Report::slo_evaluate(const std::vector<Slo>& slos) {
    slo_results_.clear();
    const Histogram& h = overall().latency_us;
    for (const Slo& slo : slos) {
        SloResult r{slo};
        using M = Slo::Metric;
        switch (slo.metric) {
        case M::p50: r.value = double(h.percentile(50)); break;
        case M::p90: r.value = double(h.percentile(90)); break;
        case M::p99: r.value = double(h.percentile(99)); break;
        case M::p999: r.value = double(h.percentile(99.9)); break;
        case M::max: r.value = double(h.max()); break;
        case M::error_rate: r.value = error_rate(); break;
        }
        // Nothing measured meets no latency threshold: there is nothing to vouch for.
        bool nothing = overall_.count == 0;
        r.ok = !nothing && (slo.inclusive ? r.value <= slo.limit : r.value < slo.limit);
        slo_results_.push_back(std::move(r));
    }
}

bool Report::slo_ok() const {
    return std::all_of(slo_results_.begin(), slo_results_.end(),
                       [](const SloResult& r) { return r.ok; });
}

int Report::exit_code() const {
    if (interrupted_) return 130;
    if (!slo_ok()) return 3;
    return all_ok() ? 0 : 1;
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
    if (hlog_) hlog_rows(t_s - length_s, length_s);
    interval_end_s_ = t_s;
    interval_us_.reset();
    interval_count_ = interval_errors_ = 0;
    return intervals_.back();
}

namespace {

std::string slo_value_text(const SloResult& r) {
    char buf[64];
    if (r.slo.metric == Slo::Metric::error_rate)
        std::snprintf(buf, sizeof buf, "%.3g%%", r.value * 100);
    else
        std::snprintf(buf, sizeof buf, "%s ms", ms_text(static_cast<std::uint64_t>(r.value)).c_str());
    return buf;
}

} // namespace

void Report::table_print(std::FILE* out) const {
    const char* endpoints = endpoints_.size() == 1 ? "endpoint" : "endpoints";
    if (mode_.warmup_s > 0)
        std::fprintf(out,
                     "zlb-client: %s, %llu requests to %zu %s in %.3f s measured (after a "
                     "%.1f s warm-up; %.3f s in all): %.1f req/s",
                     op_.c_str(), static_cast<unsigned long long>(overall_.count),
                     endpoints_.size(), endpoints, measured_s(), mode_.warmup_s, elapsed_s_,
                     throughput());
    else
        std::fprintf(out, "zlb-client: %s, %llu requests to %zu %s in %.3f s: %.1f req/s",
                     op_.c_str(), static_cast<unsigned long long>(overall_.count),
                     endpoints_.size(), endpoints, elapsed_s_, throughput());
    if (op_ == "factor")
        std::fprintf(out, ", %llu numbers: %.1f numbers/s", static_cast<unsigned long long>(items_),
                     measured_s() > 0 ? double(items_) / measured_s() : 0.0);
    std::fprintf(out, "\n");
    if (interrupted_) {
        std::fprintf(out, "  INTERRUPTED: ");
        if (unsent_) std::fprintf(out, "%llu requests never sent, ", static_cast<unsigned long long>(*unsent_));
        std::fprintf(out, "%llu still in flight after the %.1f s grace (not counted below)\n",
                     static_cast<unsigned long long>(in_flight_), grace_s_);
    }
    if (mode_.open_loop)
        std::fprintf(out, "  open loop at %.1f req/s: late starts %llu\n", mode_.rate,
                     static_cast<unsigned long long>(late_starts_));
    if (start_late_ms_ && *start_late_ms_ > 0)
        std::fprintf(out, "  STARTED LATE: %.1f ms after --start-at\n", *start_late_ms_);
    if (mode_.warmup_s > 0)
        std::fprintf(out,
                     "  warm-up %.1f s: %llu requests left out "
                     "(ok %llu, failed %llu, timeouts %llu)\n",
                     mode_.warmup_s, static_cast<unsigned long long>(warmup_.count),
                     static_cast<unsigned long long>(warmup_.ok),
                     static_cast<unsigned long long>(warmup_.errors),
                     static_cast<unsigned long long>(warmup_.timeouts));
    std::fprintf(out,
                 "  ok %llu, failed %llu, timeouts %llu, retried %llu, late replies %llu, invalid %llu\n",
                 static_cast<unsigned long long>(overall_.ok),
                 static_cast<unsigned long long>(overall_.errors),
                 static_cast<unsigned long long>(overall_.timeouts),
                 static_cast<unsigned long long>(retried_),
                 static_cast<unsigned long long>(late_replies_),
                 static_cast<unsigned long long>(invalid_replies_));
    if (!http_status_.empty()) {
        std::fprintf(out, "  http status:");
        const char* sep = " ";
        for (const auto& [status, n] : http_status_) {
            std::fprintf(out, "%s%ld: %llu", sep, status, static_cast<unsigned long long>(n));
            sep = ", ";
        }
        std::fprintf(out, "\n");
    }
    std::fprintf(out, "\n");
    // In a closed loop the uncorrected row would repeat the end-to-end one.
    std::vector<report::TableRow> rows{{op_ + " end-to-end", overall_.count, overall_.count, &overall().latency_us}};
    if (mode_.open_loop) rows.push_back({op_ + " uncorrected", overall_.count, overall_.count, &uncorrected_us_});
    rows.push_back({op_ + " server service", overall_.count, overall_.count, &overall().service_us});
    for (const auto& [name, g] : servers_)
        rows.push_back({"server " + name, g.count, overall_.count, &g.latency_us});
    report::table_print(out, rows);
    std::fprintf(out, "\n  errors:");
    if (errors_.empty() && overall_.timeouts == 0) std::fprintf(out, " none");
    for (const auto& [code, n] : errors_)
        std::fprintf(out, " %s=%llu", code.c_str(), static_cast<unsigned long long>(n));
    if (overall_.timeouts)
        std::fprintf(out, " timeout(client)=%llu", static_cast<unsigned long long>(overall_.timeouts));
    std::fprintf(out, "\n");
    for (const auto& [code, m] : messages_) {
        for (const auto& [text, n] : m.messages)
            std::fprintf(out, "    %-18s %8llu  %s\n", code.c_str(),
                         static_cast<unsigned long long>(n), text.c_str());
        if (m.other)
            std::fprintf(out, "    %-18s %8llu  (other messages)\n", code.c_str(),
                         static_cast<unsigned long long>(m.other));
    }
    std::size_t unreachable = 0;
    for (const auto& [endpoint, e] : endpoints_) unreachable += !e.connected && !e.problem.empty();
    if (unreachable) {
        std::fprintf(out, "  endpoints not up at the end:\n");
        for (const auto& [endpoint, e] : endpoints_)
            if (!e.connected && !e.problem.empty())
                std::fprintf(out, "    %s: %s\n", endpoint.c_str(), e.problem.c_str());
    }
    if (!slo_results_.empty()) {
        std::fprintf(out, "  slo:");
        for (const auto& r : slo_results_)
            std::fprintf(out, "  %s %s (%s)", r.slo.text.c_str(), r.ok ? "ok" : "FAILED",
                         overall_.count ? slo_value_text(r).c_str() : "nothing measured");
        std::fprintf(out, "\n");
    }
}

} // namespace zlb::client
