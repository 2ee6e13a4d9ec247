#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace zlb::server {

enum class Mode { cpu, io, all };
// How a worker of several brokers hands out its credit: split the total between them
// (never more in flight than it can run), or give each broker all of it (no credit
// idle while a broker is down; the excess waits in the server's own bounded queues).
enum class CreditPolicy { split, shared };

struct Settings {
    std::vector<std::string> binds;
    std::vector<std::string> brokers; // zlb-broker backends to serve as a worker of (at most kMaxBrokers)
    std::uint32_t credit = 0; // requests the brokers may have here at once; 0 = by mode
    CreditPolicy credit_policy = CreditPolicy::split;
    std::string name; // defaults to host:pid
    Mode mode = Mode::all;
    unsigned threads = 0;             // factor workers; 0 = number of cores
    std::size_t max_inflight = 1000;  // concurrent fetches
    std::size_t cpu_queue = 0;        // queued factor jobs; 0 = 256 per worker
    std::chrono::milliseconds max_factor{10'000}; // work one factor request may cost a worker
    std::size_t max_msg_bytes = 1 << 20;
    std::size_t peer_queue_bytes = 256 << 20; // queued replies (and requests) per peer, at most
    std::chrono::milliseconds stats_interval{10'000};
    std::chrono::milliseconds drain_timeout{60'000};
    std::chrono::milliseconds fetch_connect_timeout{10'000};
    std::vector<std::string> deny_cidrs;  // refused fetch destinations, on top of the defaults
    std::vector<std::string> allow_hosts; // fetch hosts exempt from the deny list
    std::string fetch_proxy; // the only proxy fetches use; empty: none (environment ignored)
    std::uint64_t max_fetch_bytes = 8 << 20; // a request's max_bytes is capped to this
    std::chrono::milliseconds max_fetch_timeout{60'000}; // and its timeout_ms to this
    std::string curve_secret; // the server's .key file; turns CURVE on
    std::string curve_allow;  // directory of allowed client .pub files
    std::vector<std::string> broker_keys; // the brokers' .pub files: one for all, or one per broker
    std::chrono::milliseconds heartbeat{1'000}; // ZMTP ping interval; peers dead after 3
};

} // namespace zlb::server
