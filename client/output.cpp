// The client's outputs beside the report: result rows, saved bodies, result checks, the
// interval lines, the live progress view and the files written at the end.
#include "client/client.hpp"

#include "client/units.hpp"
#include "factor/factor.hpp"
#include "core/log.hpp"

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace zlb::client {
namespace {

using namespace std::chrono;

// A file name that can't escape the save directory: unsafe characters become '_'.
std::string safe_name(std::size_t index, std::string_view url) {
    if (auto scheme = url.find("://"); scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
    std::string name = std::to_string(index) + "-";
    for (char c : url.substr(0, 120))
        name += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
    return name;
}

} // namespace

namespace {

// A CSV field: quoted when it holds a comma, a quote or a line end (RFC 4180); control
// characters become spaces so that every row stays one line.
void csv_field(std::string& out, std::string_view text) {
    bool quote = text.find_first_of(",\"\r\n") != std::string_view::npos;
    if (quote) out += '"';
    for (char c : text) {
        if (c == '"') out += "\"\"";
        else if (static_cast<unsigned char>(c) < 0x20) out += ' ';
        else out += c;
    }
    if (quote) out += '"';
}

void json_str(std::string& out, std::string_view text) {
    out += '"';
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += c;
        }
    }
    out += '"';
}

void number_append(std::string& out, std::uint64_t n) { out += std::to_string(n); }

} // namespace

// The request's input: its numbers (factor), its URL (fetch) or its payload size (echo).
void Client::item_append(std::string& out, const Slot& s, char sep) {
    switch (workload_.op()) {
    case proto::Op::factor:
        for (std::size_t i = 0; i < s.ns.size(); ++i) {
            if (i) out += sep;
            out += to_string_u128(s.ns[i]);
        }
        break;
    case proto::Op::fetch: out += workload_.text(s.index); break;
    default: number_append(out, workload_.text(s.index).size()); break;
    }
}

// --results: warm-up requests are left out here as everywhere else in the statistics.
// --output: every result, warm-up included (flagged), as it arrives: this is the work's
// answer, not its measurement. Numbers are strings: they may not fit a double.
void Client::result_row(const Slot& s, std::string_view server, bool ok, std::string_view code,
                        std::string_view message, std::uint64_t latency_us,
                        std::uint64_t service_us, const proto::Reply* reply) {
    if (!results_.is_open() && !output_.is_open()) return; // the usual case: no rows asked for
    const bool fetch = workload_.op() == proto::Op::fetch;
    const long status = fetch && reply && reply->ok ? reply->status : 0;
    const std::size_t line = workload_.line_of(s.index);
    if (results_.is_open() && !s.warmup) {
        std::string& r = row_;
        r.clear();
        number_append(r, s.id);
        r += ',';
        r += proto::to_string(workload_.op());
        r += ',';
        csv_field(r, server);
        r += ok ? ",1," : ",0,";
        csv_field(r, code);
        r += ',';
        number_append(r, latency_us);
        r += ',';
        number_append(r, service_us);
        r += ',';
        number_append(r, s.attempt + 1);
        r += ',';
        item_.clear();
        item_append(item_, s, ' ');
        csv_field(r, item_);
        r += ',';
        if (line) number_append(r, line);
        r += ',';
        if (status) number_append(r, static_cast<std::uint64_t>(status));
        r += ',';
        csv_field(r, message);
        r += '\n';
        results_.row(r);
    }
    if (!output_.is_open()) return;
    std::string& j = row_;
    j.clear();
    j += "{\"id\": ";
    number_append(j, s.id);
    j += ", \"index\": ";
    number_append(j, s.index);
    if (line) {
        j += ", \"input_line\": ";
        number_append(j, line);
    }
    j += ", \"ok\": ";
    j += ok ? "true" : "false";
    j += ", \"server\": ";
    json_str(j, server);
    j += ", \"latency_us\": ";
    number_append(j, latency_us);
    j += ", \"attempts\": ";
    number_append(j, s.attempt + 1);
    if (s.warmup) j += ", \"warmup\": true";
    if (!ok) {
        j += ", \"code\": ";
        json_str(j, code);
        j += ", \"message\": ";
        json_str(j, message);
    }
    switch (workload_.op()) {
    case proto::Op::factor: {
        j += ", \"numbers\": [";
        bool answered = ok && reply && reply->factor_sizes.size() == s.ns.size();
        std::size_t at = 0;
        for (std::size_t i = 0; i < s.ns.size(); ++i) {
            if (i) j += ", ";
            j += "{\"n\": \"";
            j += to_string_u128(s.ns[i]);
            j += '"';
            if (answered) {
                j += ", \"factors\": [";
                for (std::uint32_t k = 0; k < reply->factor_sizes[i]; ++k) {
                    if (k) j += ", ";
                    j += '"';
                    j += to_string_u128(reply->factors[at++]);
                    j += '"';
                }
                j += "]";
            }
            j += "}";
        }
        j += "]";
        break;
    }
    case proto::Op::fetch:
        j += ", \"url\": ";
        json_str(j, workload_.text(s.index));
        if (ok && reply) {
            j += ", \"status\": ";
            number_append(j, static_cast<std::uint64_t>(reply->status));
            j += ", \"bytes\": ";
            number_append(j, reply->bytes);
            j += ", \"content_type\": ";
            json_str(j, reply->content_type);
        }
        break;
    default:
        j += ", \"size\": ";
        number_append(j, workload_.text(s.index).size());
        break;
    }
    j += "}\n";
    output_.row(j);
}

// Factor replies must multiply back to the numbers sent, in ascending primes; echo
// replies must carry the payload sent.
bool Client::reply_verify(const Slot& s, const proto::Reply& r) const {
    if (workload_.op() == proto::Op::echo) return r.data == workload_.text(s.index);
    if (workload_.op() != proto::Op::factor) return true;
    if (r.factor_sizes.size() != s.ns.size()) return false;
    std::size_t at = 0;
    for (std::size_t i = 0; i < s.ns.size(); ++i) {
        u128 product = 1, previous = 0;
        for (std::uint32_t k = 0; k < r.factor_sizes[i]; ++k) {
            u128 f = r.factors[at++];
            if (f < previous || f < 2 || product > s.ns[i] / f || !is_prime(f)) return false;
            product *= f;
            previous = f;
        }
        if (product != s.ns[i]) return false;
    }
    return true;
}

// Written to a fresh file (mkostemp: O_CREAT | O_EXCL, so never through a symlink), then
// renamed to its name: rename replaces whatever is there, a planted symlink included,
// without following it, so nothing outside the save directory is ever written.
void Client::body_save(const Slot& s, std::string_view body) {
    const std::string name = safe_name(s.index, workload_.text(s.index));
    const auto path = std::filesystem::path(settings_.save_dir) / name;
    std::string tmp = (std::filesystem::path(settings_.save_dir) / ("." + name + ".XXXXXX")).string();
    // The mode a plain create would have given (0666 less the umask), read once.
    static const mode_t mode = [] {
        std::ifstream status("/proc/self/status");
        std::string line;
        while (std::getline(status, line))
            if (line.rfind("Umask:", 0) == 0)
                return static_cast<mode_t>(0666 & ~std::stoul(line.substr(6), nullptr, 8));
        return static_cast<mode_t>(0644);
    }();
    int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
    if (fd < 0) {
        LOG_WARN("cannot create a file in %s: %s", settings_.save_dir.c_str(), std::strerror(errno));
        return;
    }
    bool ok = ::fchmod(fd, mode) == 0;
    for (std::size_t at = 0; ok && at < body.size();) {
        ssize_t n = ::write(fd, body.data() + at, body.size() - at);
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        if (ok) at += static_cast<std::size_t>(n);
    }
    ok = ::close(fd) == 0 && ok;
    if (ok) ok = ::rename(tmp.c_str(), path.c_str()) == 0;
    if (!ok) {
        LOG_WARN("cannot write %s: %s", path.c_str(), std::strerror(errno));
        ::unlink(tmp.c_str());
    }
}

// Closes every interval that has ended by now; at the end of the run, also the partial
// one, unless it is too short for its rate to mean anything.
void Client::intervals_close(Clock::time_point now, bool last) {
    const auto step = seconds_of(settings_.interval_s);
    auto row_close = [&](Clock::time_point end) {
        double t = duration<double>(end - started_).count();
        double length = duration<double>(end - interval_start_).count();
        const IntervalRow& r = report_.interval_close(t, length, end <= warmup_end_);
        interval_start_ = end;
        if (!settings_.intervals_print) return;
        // The same unit as the live view and the table: milliseconds. On a terminal
        // too narrow for the aligned line, a compact one that does not wrap.
        char text[256];
        int n = std::snprintf(text, sizeof text,
                              "zlb-client: %7.1f s %9.1f req/s  p50 %s ms  p99 %s ms  errors %llu%s",
                              r.t_s, r.rps, ms_text(r.p50_us).c_str(), ms_text(r.p99_us).c_str(),
                              static_cast<unsigned long long>(r.errors),
                              r.warmup ? "  (warm-up)" : "");
        if (settings_.progress && n > 0 && unsigned(n) >= terminal_width(STDERR_FILENO))
            std::snprintf(text, sizeof text, "%.1f s %.1f req/s p50 %s p99 %s ms err %llu%s",
                          r.t_s, r.rps, ms_text(r.p50_us).c_str(), ms_text(r.p99_us).c_str(),
                          static_cast<unsigned long long>(r.errors), r.warmup ? " (warm-up)" : "");
        // Clears the live view's line first, which is redrawn below the new line.
        std::fprintf(stderr, "%s%s\n", settings_.progress ? "\r\033[K" : "", text);
    };
    while (now - interval_start_ >= step) row_close(interval_start_ + step);
    if (last && now - interval_start_ >= step / 10) row_close(now);
}

namespace {

std::string bar(double fraction, std::size_t width) {
    fraction = std::clamp(fraction, 0.0, 1.0);
    std::size_t filled = static_cast<std::size_t>(fraction * width + 0.5);
    std::string out(width + 2, '-');
    out.front() = '[';
    out.back() = ']';
    std::fill_n(out.begin() + 1, filled, '#');
    return out;
}

// Peak resident memory, to show that it does not grow with the number of requests.
std::string peak_rss() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmHWM:", 0) == 0) return line.substr(line.find_first_not_of(" \t", 6));
    return "unknown";
}

} // namespace

// Live view, only when stderr is a terminal: progress bar, done/total, rate, p50 and p99
// so far (after the warm-up), errors and late starts. It fits the terminal's width, read
// at every refresh: a line that wrapped would leave a new line behind at each refresh.
// What does not fit goes, last first; the bar shrinks, then goes too.
void Client::progress_print(bool final) {
    auto now = time_.now();
    if (!final && now - last_progress_ < 250ms) return;
    last_progress_ = now;
    double secs = duration<double>(now - started_).count();
    const auto& o = report_.overall();
    // Time-bound closed loops have no total: the bar shows time instead.
    double fraction = limit_ != SIZE_MAX
                          ? double(finished_) / double(std::max<std::size_t>(limit_, 1))
                          : secs / settings_.duration_s;
    char part[96];
    std::vector<std::string> parts;
    if (limit_ != SIZE_MAX)
        std::snprintf(part, sizeof part, "%llu/%zu", static_cast<unsigned long long>(finished_), limit_);
    else
        std::snprintf(part, sizeof part, "%llu", static_cast<unsigned long long>(finished_));
    parts.emplace_back(part);
    std::snprintf(part, sizeof part, "%.0f req/s", secs > 0 ? finished_ / secs : 0);
    parts.emplace_back(part);
    if (o.latency_us.count() > 0)
        std::snprintf(part, sizeof part, "p50 %s p99 %s ms",
                      ms_text(o.latency_us.percentile(50)).c_str(),
                      ms_text(o.latency_us.percentile(99)).c_str());
    else
        std::snprintf(part, sizeof part, "p50 - p99 -%s", now < warmup_end_ ? " (warm-up)" : "");
    parts.emplace_back(part);
    const auto& w = report_.warmup();
    const std::uint64_t errors = o.errors + o.timeouts + w.errors + w.timeouts;
    std::snprintf(part, sizeof part, "err %llu", static_cast<unsigned long long>(errors));
    parts.emplace_back(part);
    if (schedule_) {
        std::snprintf(part, sizeof part, "late %llu",
                      static_cast<unsigned long long>(report_.late_starts()));
        parts.emplace_back(part);
    }
    if (interrupted_) parts.emplace_back("interrupted");
    // The last column is left empty: some terminals wrap on writing it.
    const std::size_t width = std::max(terminal_width(STDERR_FILENO), 2u) - 1;
    std::string text;
    for (const auto& p : parts) {
        std::size_t need = text.size() + (text.empty() ? 0 : 1) + p.size();
        if (need > width) break;
        if (!text.empty()) text += ' ';
        text += p;
    }
    if (text.empty()) text = parts[0].substr(0, width);
    // The bar: 20 wide when there is room, down to 5, else none.
    if (width > text.size() + 3) {
        std::size_t room = width - text.size() - 3;
        if (room >= 5) text = bar(final ? 1.0 : fraction, std::min<std::size_t>(room, 20)) + " " + text;
    }
    // One write per refresh: stderr is unbuffered, and the line must not tear.
    std::string line = "\r" + text + "\033[K" + (final ? "\n" : "");
    std::fwrite(line.data(), 1, line.size(), stderr);
}

void Client::outputs_write() {
    if (!settings_.json_path.empty()) report_.json_write(settings_.json_path);
    if (!settings_.hist_path.empty()) report_.hist_write(settings_.hist_path);
    if (!settings_.plot_path.empty()) report_.plot_write(settings_.plot_path);
    LOG_INFO("peak memory (VmHWM): %s after %llu requests", peak_rss().c_str(),
             static_cast<unsigned long long>(finished_));
}

} // namespace zlb::client
