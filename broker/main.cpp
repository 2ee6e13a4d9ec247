// zlb-broker: parses flags into Settings and runs the broker; --status queries one.
#include "broker/broker.hpp"
#include "broker/status.hpp"
#include "core/log.hpp"
#include "core/endpoint.hpp"
#include "core/process.hpp"
#include "core/signals.hpp"
#include "metrics/exposer.hpp"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
    zlb::broker::Settings s;
    std::string log_level = "info", log_format = "text", status_endpoint, metrics;
    unsigned heartbeat_ms = 1000, queue_timeout_ms = 30'000;
    double stats_interval_s = 5;
    CLI::App app{"zlb-broker: load-balancing broker between zlb clients and zlb-server workers"};
    app.add_option("--frontend", s.frontends, "Endpoint for clients (protocol v1), repeatable");
    app.add_option("--backend", s.backends, "Endpoint for workers (zlb-server --broker), repeatable");
    app.add_option("--name", s.name, "Name in the broker's own replies (default host:pid)");
    app.add_option("--heartbeat-ms", heartbeat_ms, "Heartbeat interval with workers")
        ->check(CLI::Range(50u, 3'600'000u))->capture_default_str();
    app.add_option("--liveness", s.liveness, "Heartbeats a worker may miss before it is dead")
        ->check(CLI::Range(1, 100))->capture_default_str();
    app.add_option("--queue-max", s.queue_max, "Requests of one op held waiting for credit before overloaded")
        ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 24))->capture_default_str();
    app.add_option("--queue-timeout-ms", queue_timeout_ms,
                   "Longest wait for credit of a request without deadline_ms")
        ->check(CLI::Range(1u, 86'400'000u))->capture_default_str();
    app.add_option("--stats-interval", stats_interval_s, "Seconds between stats log lines")
        ->check(CLI::Range(0.1, 86400.0))->capture_default_str();
    app.add_option("--log-level", log_level, "debug, info, warn or error")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}))->capture_default_str();
    app.add_option("--log-format", log_format, "text or json (one JSON object per line)")
        ->check(CLI::IsMember({"text", "json"}))->capture_default_str();
    unsigned worker_timeout_ms = 60'000, quarantine_ms = 1000;
    app.add_option("--worker-timeout-ms", worker_timeout_ms,
                   "A worker holding a request longer (or past its deadline_ms) loses it to "
                   "another worker and is quarantined")
        ->check(CLI::Range(1u, 86'400'000u))->capture_default_str();
    app.add_option("--quarantine-ms", quarantine_ms,
                   "First quarantine of a worker that held a request too long; doubles per "
                   "strike up to 60 s, ends when it answers")
        ->check(CLI::Range(1u, 3'600'000u))->capture_default_str();
    app.add_option("--held-max-bytes", s.held_max_bytes,
                   "Bytes of requests the broker holds at most, queued or at workers (overloaded above)")
        ->check(CLI::Range(std::size_t{1} << 16, std::size_t{1} << 40))->capture_default_str();
    app.add_option("--peer-queue-bytes", s.peer_queue_bytes,
                   "Bytes queued for one client or worker at most; replies past it are dropped")
        ->check(CLI::Range(std::size_t{1} << 16, std::size_t{1} << 40))->capture_default_str();
    app.add_option("--max-credit", s.max_credit, "Credit a worker may claim at most")
        ->check(CLI::Range(1u, 1'000'000u))->capture_default_str();
    app.add_option("--max-msg-bytes", s.max_msg_bytes,
                   "Largest client request, all frames counted (too_large above)")
        ->check(CLI::Range(std::size_t{256}, std::size_t{1} << 30))->capture_default_str();
    app.add_option("--max-reply-bytes", s.max_reply_bytes,
                   "Largest frame a worker may send (a bigger one drops its connection)")
        ->check(CLI::Range(std::size_t{4096}, std::size_t{1} << 31))->capture_default_str();
    app.add_option("--curve-secret", s.curve_secret,
                   "Broker key file from zlb-keygen (NAME.key): turns CURVE on for both sockets")
        ->check(CLI::ExistingFile);
    app.add_option("--curve-allow-clients", s.curve_allow_clients,
                   "Directory of client public keys (*.pub) allowed on the frontend")
        ->check(CLI::ExistingDirectory);
    app.add_option("--curve-allow-workers", s.curve_allow_workers,
                   "Directory of worker public keys (*.pub) allowed on the backend")
        ->check(CLI::ExistingDirectory);
    auto* metrics_option = app.add_option("--metrics", metrics,
                   "Serve Prometheus metrics at http://HOST:PORT/metrics (PORT alone: on 127.0.0.1; "
                   "HOST an IP address or *); off by default");
    auto* status = app.add_option("--status", status_endpoint,
                   "Query the broker at this frontend endpoint for its worker table and exit");
    app.set_version_flag("--version", std::string("zlb-broker ") + zlb::version());
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    try { // before anything binds: a port past 65535 would wrap
        for (const auto& ep : s.frontends) zlb::endpoint_check(ep, true);
        for (const auto& ep : s.backends) zlb::endpoint_check(ep, true);
        if (metrics_option->count() > 0) s.metrics = zlb::metrics::listen_address(metrics);
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "zlb-broker: %s\n", e.what());
        return 2;
    }
    zlb::set_log_name("zlb-broker");
    zlb::set_log_level(*zlb::parse_log_level(log_level));
    zlb::set_log_format(*zlb::parse_log_format(log_format));
    if (status->count() > 0) return zlb::broker::status_query(status_endpoint);
    if (s.name.empty()) s.name = zlb::process_name_default();
    s.heartbeat = std::chrono::milliseconds(heartbeat_ms);
    s.worker_timeout = std::chrono::milliseconds(worker_timeout_ms);
    s.quarantine = std::chrono::milliseconds(quarantine_ms);
    s.queue_timeout = std::chrono::milliseconds(queue_timeout_ms);
    s.stats_interval = std::chrono::milliseconds(static_cast<long>(stats_interval_s * 1000));
    try {
        zlb::memory_return_eagerly();
        zlb::StopSignals stop; // before any thread, so every thread inherits the mask
        zmq::context_t ctx(1);
        zlb::broker::Broker broker(std::move(s), {ctx, zlb::steady_time(), stop.fd()});
        return broker.run();
    } catch (const std::exception& e) {
        LOG_ERROR("%s", e.what());
        return 1;
    }
}
