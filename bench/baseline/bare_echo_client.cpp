// zlb-bare-echo-client: the physical floor of scenario 1. One DEALER socket connected to every
// endpoint (libzmq round-robins), W requests in flight, closed loop. Each request is
// ["", payload]; the payload's first 16 bytes carry the send time and a sequence number, so the
// client keeps no per-request state. Latencies are kept exactly and sorted at the end.
//
//   zlb-bare-echo-client --connect EP [--connect EP ...] [--window W] [--size B]
//                        [--duration S] [--warmup S] [--count N]
//
// As in zlb-client, requests are issued for --duration seconds in all, and those sent within the
// first --warmup seconds are left out of the statistics. --count N stops after N requests
// (whichever comes first), for bounded runs under callgrind.
//
// Output, one key=value per line: requests elapsed_s throughput_rps p50_us p99_us p999_us
#include <zmq.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s --connect EP [--connect EP ...] [--window W] [--size B>=16] "
                 "[--duration S] [--warmup S] [--count N]\n",
                 argv0);
    std::exit(2);
}

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
}

// Nearest-rank percentile of sorted values.
double rank(const std::vector<std::int64_t>& v, double p) {
    if (v.empty()) return 0;
    auto k = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
    k = std::clamp<std::size_t>(k, 1, v.size());
    return static_cast<double>(v[k - 1]) / 1000.0;
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> endpoints;
    std::size_t window = 1, size = 16;
    std::uint64_t count = UINT64_MAX;
    double duration = 3, warmup = 0.5;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (i + 1 >= argc) usage(argv[0]);
        const char* v = argv[++i];
        if (a == "--connect") endpoints.emplace_back(v);
        else if (a == "--window") window = std::strtoul(v, nullptr, 10);
        else if (a == "--size") size = std::strtoul(v, nullptr, 10);
        else if (a == "--duration") duration = std::strtod(v, nullptr);
        else if (a == "--warmup") warmup = std::strtod(v, nullptr);
        else if (a == "--count") count = std::strtoull(v, nullptr, 10);
        else usage(argv[0]);
    }
    if (endpoints.empty() || window == 0 || size < 16 || duration <= warmup || warmup < 0)
        usage(argv[0]);

    zmq::context_t ctx(1);
    zmq::socket_t sock(ctx, zmq::socket_type::dealer);
    sock.set(zmq::sockopt::rcvhwm, 0);
    sock.set(zmq::sockopt::sndhwm, 0);
    sock.set(zmq::sockopt::linger, 0);
    for (const auto& ep : endpoints) sock.connect(ep);

    std::vector<char> payload(size, 'x');
    std::uint64_t seq = 0;
    auto send_one = [&] {
        std::int64_t t = now_ns();
        std::memcpy(payload.data(), &t, 8);
        std::memcpy(payload.data() + 8, &seq, 8);
        ++seq;
        sock.send(zmq::message_t(), zmq::send_flags::sndmore);
        sock.send(zmq::buffer(payload.data(), payload.size()), zmq::send_flags::none);
    };

    const std::int64_t start = now_ns();
    const std::int64_t measure_from = start + static_cast<std::int64_t>(warmup * 1e9);
    const std::int64_t stop_issuing = start + static_cast<std::int64_t>(duration * 1e9);
    std::vector<std::int64_t> lat;
    lat.reserve(1 << 20);
    std::int64_t first_measured = 0, last_reply = 0;

    std::size_t inflight = 0;
    for (; inflight < window && seq < count; ++inflight) send_one();
    zmq::message_t delim, body;
    while (inflight > 0) {
        if (!sock.recv(delim, zmq::recv_flags::none)) continue;
        if (!delim.more()) continue; // not our envelope
        (void)sock.recv(body, zmq::recv_flags::none);
        --inflight;
        std::int64_t now = now_ns(), sent = 0;
        if (body.size() >= 16) std::memcpy(&sent, body.data(), 8);
        if (sent >= measure_from && sent < stop_issuing) {
            if (!first_measured) first_measured = sent;
            lat.push_back(now - sent);
            last_reply = now;
        }
        if (now < stop_issuing && seq < count) {
            send_one();
            ++inflight;
        }
    }
    std::sort(lat.begin(), lat.end());
    // Throughput over the measured requests: from the first measured send to the last reply.
    double elapsed = first_measured ? static_cast<double>(last_reply - first_measured) / 1e9 : 0;
    std::printf("requests=%zu\nelapsed_s=%.6f\nthroughput_rps=%.1f\np50_us=%.1f\np99_us=%.1f\n"
                "p999_us=%.1f\n",
                lat.size(), elapsed, elapsed > 0 ? static_cast<double>(lat.size()) / elapsed : 0.0,
                rank(lat, 0.50), rank(lat, 0.99), rank(lat, 0.999));
    return lat.empty() ? 1 : 0;
}
