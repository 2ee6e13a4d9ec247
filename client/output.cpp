// The client's outputs beside the report: result rows, saved bodies, result checks and
// the progress line.
#include "client/client.hpp"

#include "core/factor.hpp"
#include "core/log.hpp"

#include <filesystem>
#include <fstream>

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

void Client::result_row(const Slot& s, std::string_view server, bool ok, std::string_view code,
                        std::uint64_t latency_us, std::uint64_t service_us) {
    if (!results_) return;
    std::fprintf(results_, "%llu,%s,%.*s,%d,%.*s,%llu,%llu,%u\n",
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

void Client::body_save(const Slot& s, std::string_view body) {
    auto path = std::filesystem::path(settings_.save_dir) /
                safe_name(s.index, workload_.text(s.index));
    std::ofstream out(path, std::ios::binary);
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
    if (!out) LOG_WARN("cannot write %s", path.c_str());
}

void Client::progress_print(bool final) {
    auto now = Clock::now();
    if (!final && now - last_progress_ < 250ms) return;
    last_progress_ = now;
    double secs = duration<double>(now - started_).count();
    const auto& o = report_.overall();
    std::fprintf(stderr, "\r%llu/%llu done  %.0f req/s  ok %llu  failed %llu  timeouts %llu  ",
                 static_cast<unsigned long long>(finished_),
                 static_cast<unsigned long long>(workload_.total()), secs > 0 ? finished_ / secs : 0,
                 static_cast<unsigned long long>(o.ok), static_cast<unsigned long long>(o.errors),
                 static_cast<unsigned long long>(o.timeouts));
    if (final) std::fputc('\n', stderr);
}

} // namespace zlb::client
