#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace zlb::broker {

struct Settings {
    std::vector<std::string> frontends; // ROUTER for clients, protocol v1
    std::vector<std::string> backends;  // ROUTER for workers, the worker protocol
    std::string name;                   // in the broker's own replies; default host:pid
    std::chrono::milliseconds heartbeat{1'000};
    int liveness = 3;                   // heartbeats a worker may miss before it is dead
    std::size_t queue_max = 10'000;     // requests of one op waiting for credit; more get overloaded
    std::size_t held_max_bytes = 256 << 20; // bytes of all requests held (queued or at workers)
    std::chrono::milliseconds queue_timeout{30'000}; // wait without deadline_ms
    std::chrono::milliseconds stats_interval{5'000};
    std::size_t max_msg_bytes = 1 << 20;    // a client request, all frames counted
    std::size_t max_reply_bytes = 16 << 20; // one frame from a worker (fetch bodies included)
    std::size_t peer_queue_bytes = 256 << 20; // queued messages per client or worker, at most
    std::uint32_t max_credit = 4096;         // a worker claiming more gets this
    std::chrono::milliseconds worker_timeout{60'000}; // a request held longer is taken back
    std::chrono::milliseconds quarantine{1'000};      // first quarantine; doubles per strike
    std::chrono::milliseconds quarantine_max{60'000};
    std::size_t failures_remembered = 4096; // requests whose failed workers are kept
    // CURVE: the broker's .key file and who may connect where. All three or none.
    std::string curve_secret;
    std::string curve_allow_clients; // frontend: client .pub files
    std::string curve_allow_workers; // backend: worker .pub files
    std::string metrics; // --metrics: civetweb address of /metrics (metrics::listen_address); empty: off
};

} // namespace zlb::broker
