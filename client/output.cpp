// The client's outputs beside the report: result rows, saved bodies, result checks, the
// interval lines, the live progress view and the files written at the end.
#include "client/client.hpp"

#include "factor/factor.hpp"
#include "core/log.hpp"

#include <algorithm>
#include <cerrno>
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

// Warm-up requests are left out here as everywhere else in the statistics.
void Client::result_row(const Slot& s, std::string_view server, bool ok, std::string_view code,
                        std::uint64_t latency_us, std::uint64_t service_us) {
    if (!results_ || s.warmup) return;
    std::fprintf(results_.get(), "%llu,%s,%.*s,%d,%.*s,%llu,%llu,%u\n",
                 static_cast<unsigned long long>(s.id), proto::to_string(workload_.op()).data(),
                 static_cast<int>(server.size()), server.data(), ok ? 1 : 0,
                 static_cast<int>(code.size()), code.data(),
                 static_cast<unsigned long long>(latency_us),
                 static_cast<unsigned long long>(service_us), s.attempt + 1);
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
        // Clears the live view's line first, which is redrawn below the new line.
        std::fprintf(stderr,
                     "%szlb-client: %7.1f s %9.1f req/s  p50 %6llu us  p99 %7llu us  errors %llu"
                     "%s\n",
                     settings_.progress ? "\r\033[K" : "", r.t_s, r.rps,
                     static_cast<unsigned long long>(r.p50_us),
                     static_cast<unsigned long long>(r.p99_us),
                     static_cast<unsigned long long>(r.errors), r.warmup ? "  (warm-up)" : "");
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
// so far (after the warm-up), errors and late starts.
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
    char total[32] = "?";
    if (limit_ != SIZE_MAX) std::snprintf(total, sizeof total, "%zu", limit_);
    char latency[64] = "p50 -  p99 -  (warm-up)";
    if (o.latency_us.count() > 0)
        std::snprintf(latency, sizeof latency, "p50 %.2f ms  p99 %.2f ms",
                      o.latency_us.percentile(50) / 1000.0, o.latency_us.percentile(99) / 1000.0);
    else if (now >= warmup_end_)
        std::snprintf(latency, sizeof latency, "p50 -  p99 -");
    const auto& w = report_.warmup();
    const std::uint64_t errors = o.errors + o.timeouts + w.errors + w.timeouts;
    char line[256];
    int n = std::snprintf(line, sizeof line, "\r%s %llu/%s  %.0f req/s  %s  errors %llu",
                          bar(final ? 1.0 : fraction, 20).c_str(),
                          static_cast<unsigned long long>(finished_), total,
                          secs > 0 ? finished_ / secs : 0, latency,
                          static_cast<unsigned long long>(errors));
    if (schedule_ && n > 0 && std::size_t(n) < sizeof line)
        std::snprintf(line + n, sizeof line - n, "  late %llu",
                      static_cast<unsigned long long>(report_.late_starts()));
    // One write per refresh: stderr is unbuffered, and the line must not tear.
    std::fprintf(stderr, "%s\033[K%s", line, final ? "\n" : "");
}

void Client::outputs_write() {
    if (!settings_.json_path.empty()) report_.json_write(settings_.json_path);
    if (!settings_.hist_path.empty()) report_.hist_write(settings_.hist_path);
    if (!settings_.plot_path.empty()) report_.plot_write(settings_.plot_path);
    LOG_INFO("peak memory (VmHWM): %s after %llu requests", peak_rss().c_str(),
             static_cast<unsigned long long>(finished_));
}

} // namespace zlb::client
