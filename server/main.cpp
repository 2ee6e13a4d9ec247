// zlb-server: parses flags into Settings and runs the server.
#include "core/log.hpp"
#include "core/endpoint.hpp"
#include "core/process.hpp"
#include "core/signals.hpp"
#include "server/curl_util.hpp"
#include "server/server.hpp"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
    using zlb::server::Mode;
    zlb::server::Settings s;
    std::string log_level = "info", log_format = "text";
    double stats_interval_s = 10;
    unsigned heartbeat_ms = 1000;
    CLI::App app{"zlb-server: serves echo, factor and fetch requests over ZeroMQ (protocol v1)"};
    app.add_option("--bind", s.binds, "Endpoint to bind, e.g. tcp://127.0.0.1:8004 (repeatable)");
    app.add_option("--broker", s.brokers,
                   "Serve as a worker of the zlb-broker backend at this endpoint (with or without "
                   "--bind; repeatable, up to 8: the worker joins every broker)");
    app.add_option("--credit", s.credit,
                   "Requests the brokers may have here at once (default: threads for cpu, "
                   "--max-inflight for io, both for all)")
        ->check(CLI::Range(1u, 1'000'000u));
    std::string credit_policy = "split";
    app.add_option("--credit-policy", credit_policy,
                   "With several --broker: split the credit between them (at least 1 each), or "
                   "give each all of it (shared: nothing idles while a broker is down; the excess "
                   "waits in the factor queue or is answered overloaded)")
        ->check(CLI::IsMember({"split", "shared"}))
        ->capture_default_str();
    app.add_option("--heartbeat-ms", heartbeat_ms, "ZMTP and broker heartbeat interval; peers dead after 3")
        ->check(CLI::Range(50u, 3'600'000u))
        ->capture_default_str();
    app.add_option("--name", s.name, "Name reported in every reply (default host:pid)");
    std::string mode = "all";
    app.add_option("--mode", mode, "Ops served: cpu (factor), io (fetch) or all; echo always")
        ->check(CLI::IsMember({"cpu", "io", "all"}))
        ->capture_default_str();
    app.add_option("--threads", s.threads, "Factor worker threads (default: number of cores)")
        ->check(CLI::Range(1u, 1024u));
    app.add_option("--max-inflight", s.max_inflight, "Concurrent fetches before overloaded")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100000}))
        ->capture_default_str();
    app.add_option("--cpu-queue", s.cpu_queue,
                   "Factor jobs queued or running before overloaded (default 256 per thread)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24));
    unsigned max_factor_ms = 10'000;
    app.add_option("--max-factor-ms", max_factor_ms,
                   "Longest a worker factors one request, deadline_ms or not; past it the "
                   "request is answered deadline_exceeded")
        ->check(CLI::Range(1u, 86'400'000u))
        ->capture_default_str();
    app.add_option("--peer-queue-bytes", s.peer_queue_bytes,
                   "Bytes of replies queued for one peer at most; a peer that does not read "
                   "loses replies past it")
        ->check(CLI::Range(std::size_t{1} << 16, std::size_t{1} << 40))
        ->capture_default_str();
    app.add_option("--max-msg-bytes", s.max_msg_bytes, "Largest request accepted (too_large above)")
        ->check(CLI::Range(std::size_t{256}, std::size_t{1} << 30))
        ->capture_default_str();
    app.add_option("--deny-cidr", s.deny_cidrs,
                   "Refuse fetches to this address range (repeatable); always refused: "
                   "169.254.0.0/16, fe80::/10, fd00:ec2::254");
    app.add_option("--allow-host", s.allow_hosts,
                   "Fetch this host name or address even if its address is refused (repeatable)");
    bool deny_private = false;
    app.add_flag("--deny-private", deny_private,
                 "Also refuse fetches to loopback, RFC 1918, 100.64.0.0/10, link-local, "
                 "fc00::/7 and unspecified addresses (for URLs from untrusted clients)");
    app.add_option("--fetch-proxy", s.fetch_proxy,
                   "Fetch through this proxy URL (default none: http_proxy and the like are ignored)");
    app.add_option("--max-fetch-bytes", s.max_fetch_bytes, "Cap on a fetch's max_bytes")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 30))
        ->capture_default_str();
    unsigned max_fetch_timeout_ms = 60'000;
    app.add_option("--max-fetch-timeout-ms", max_fetch_timeout_ms, "Cap on a fetch's timeout_ms")
        ->check(CLI::Range(1u, 86'400'000u))
        ->capture_default_str();
    app.add_option("--curve-secret", s.curve_secret,
                   "Server key file from zlb-keygen (NAME.key): turns CURVE encryption on")
        ->check(CLI::ExistingFile);
    app.add_option("--broker-key", s.broker_keys,
                   "The broker's public key file (NAME.pub): with --curve-secret, the broker "
                   "link is encrypted and this server's key is its worker key (one for all "
                   "brokers, or one per --broker, in the same order)")
        ->check(CLI::ExistingFile);
    app.add_option("--curve-allow", s.curve_allow,
                   "Directory of authorized client public keys (*.pub); any change to it applies to the next handshake")
        ->check(CLI::ExistingDirectory);
    app.add_option("--stats-interval", stats_interval_s, "Seconds between stats log lines")
        ->check(CLI::Range(0.1, 86400.0))
        ->capture_default_str();
    app.add_option("--log-level", log_level, "debug, info, warn or error")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
        ->capture_default_str();
    app.add_option("--log-format", log_format, "text or json (one JSON object per line)")
        ->check(CLI::IsMember({"text", "json"}))->capture_default_str();
    app.set_version_flag("--version", std::string("zlb-server ") + zlb::version());
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    try { // before anything binds: a port past 65535 would wrap
        for (const auto& ep : s.binds) zlb::endpoint_check(ep, true);
        for (const auto& ep : s.brokers) zlb::endpoint_check(ep);
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "zlb-server: %s\n", e.what());
        return 2;
    }
    if (s.name.empty()) s.name = zlb::process_name_default();
    s.mode = mode == "cpu" ? Mode::cpu : mode == "io" ? Mode::io : Mode::all;
    s.credit_policy = credit_policy == "shared" ? zlb::server::CreditPolicy::shared
                                                : zlb::server::CreditPolicy::split;
    s.stats_interval = std::chrono::milliseconds(static_cast<long>(stats_interval_s * 1000));
    s.heartbeat = std::chrono::milliseconds(heartbeat_ms);
    s.max_factor = std::chrono::milliseconds(max_factor_ms);
    s.max_fetch_timeout = std::chrono::milliseconds(max_fetch_timeout_ms);
    if (deny_private)
        s.deny_cidrs.insert(s.deny_cidrs.end(), zlb::server::kPrivateCidrs.begin(),
                            zlb::server::kPrivateCidrs.end());
    zlb::set_log_name("zlb-server");
    zlb::set_log_level(*zlb::parse_log_level(log_level));
    zlb::set_log_format(*zlb::parse_log_format(log_format));
    try {
        zlb::memory_return_eagerly();
        zlb::StopSignals stop; // before any thread, so every thread inherits the mask
        zlb::CurlGlobal curl;
        zmq::context_t ctx(1);
        zlb::server::Server server(std::move(s), {ctx, zlb::steady_time(), stop.fd()});
        return server.run();
    } catch (const std::exception& e) {
        LOG_ERROR("%s", e.what());
        return 1;
    }
}
