// zlb-client: parses flags into Settings, runs the workload, prints the report.
#include "client/client.hpp"
#include "client/endpoints.hpp"
#include "core/curve.hpp"
#include "core/log.hpp"

#include <CLI/CLI.hpp>

#include <unistd.h>

namespace {

struct Flags {
    zlb::client::Settings s;
    std::vector<std::string> connect;
    std::string endpoints_file;
    std::uint32_t timeout_ms = 30'000;
    std::uint32_t connect_wait_ms = 2'000;
    std::uint32_t heartbeat_ms = 1'000;
    std::uint32_t deadline_ms = 0;
    std::uint32_t fetch_timeout_ms = 0;
    bool head = false;
    bool no_verify = false;
    bool quiet = false;
    std::string log_level = "warn";
    std::string curve_server_key;
    std::string curve_secret;
    std::string op = "echo";
};

void flags_add(CLI::App& app, Flags& f) {
    auto& w = f.s.work;
    app.add_option("--connect", f.connect,
                   "Server endpoint, repeatable; port ranges like tcp://127.0.0.1:8004-8011");
    app.add_option("--endpoints-file", f.endpoints_file, "File with one endpoint or range per line")
        ->check(CLI::ExistingFile);
    app.add_option("--op", f.op, "echo, factor or fetch")
        ->check(CLI::IsMember({"echo", "factor", "fetch"}))
        ->capture_default_str();
    app.add_option("--input", w.input, "One number, URL or payload per line; - for stdin");
    app.add_option("--repeat", w.repeat, "Send the items this many times")
        ->check(CLI::PositiveNumber)->capture_default_str();
    app.add_option("--count", w.count, "Echo requests to send (without --input)");
    app.add_option("--size", w.size, "Echo payload bytes")->capture_default_str();
    app.add_option("--random", w.random, "Factor this many random numbers (without --input)");
    app.add_option("--bits", w.bits, "Bits of each random number")
        ->check(CLI::Range(2u, 128u))->capture_default_str();
    app.add_flag("--semiprimes", w.semiprimes, "Random numbers are products of two bits/2 primes");
    app.add_option("--seed", w.seed, "Seed for random numbers")->capture_default_str();
    app.add_option("--batch", w.batch, "Numbers per factor request")
        ->check(CLI::Range(std::size_t{1}, zlb::proto::kMaxBatch))->capture_default_str();
    app.add_option("--save-dir", f.s.save_dir, "Store fetched bodies here under safe names");
    app.add_option("--window", f.s.window,
                   "Requests in flight at most; in open loop a request due while all are busy "
                   "waits for one (a late start)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))->capture_default_str();
    app.add_option("--timeout-ms", f.timeout_ms, "Client-side timeout of each attempt")
        ->check(CLI::Range(1u, 86'400'000u))->capture_default_str();
    app.add_option("--retries", f.s.retries,
                   "Resends to another server after a timeout, a lost server or overloaded")
        ->check(CLI::Range(0u, 100u))->capture_default_str();
    app.add_option("--heartbeat-ms", f.heartbeat_ms,
                   "ZMTP heartbeat interval; a server silent for 3 intervals is dropped")
        ->check(CLI::Range(100u, 3'600'000u))->capture_default_str();
    app.add_option("--deadline-ms", f.deadline_ms, "Server-side time budget sent with each request");
    app.add_option("--fetch-timeout-ms", f.fetch_timeout_ms,
                   "timeout_ms sent with fetch requests (default: the server's 30000)");
    app.add_option("--max-bytes", w.fetch.max_bytes, "max_bytes sent with fetch requests")
        ->capture_default_str();
    app.add_flag("--head", f.head, "Fetch with HEAD instead of GET");
    app.add_option("--connect-wait-ms", f.connect_wait_ms,
                   "How long to wait at start for every endpoint to connect")->capture_default_str();
    app.add_option("--curve-server-key", f.curve_server_key,
                   "The servers' public key file (NAME.pub): turns CURVE encryption on")
        ->check(CLI::ExistingFile);
    app.add_option("--curve-secret", f.curve_secret,
                   "This client's key file from zlb-keygen (NAME.key), listed by the servers")
        ->check(CLI::ExistingFile);
    app.add_option("--rate", f.s.rate,
                   "Open loop: send this many requests per second on a fixed schedule, whatever "
                   "the replies do; latency counts from each request's scheduled time")
        ->check(CLI::PositiveNumber);
    app.add_option("--duration", f.s.duration_s,
                   "Seconds to keep issuing requests, cycling the items (open loop: rate x "
                   "duration requests)")
        ->check(CLI::PositiveNumber);
    app.add_option("--warmup", f.s.warmup_s,
                   "Leave requests started in the first S seconds out of the statistics")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--interval", f.s.interval_s,
                   "Print throughput, p50, p99 and errors every S seconds (stderr, and JSON "
                   "\"intervals\")")
        ->check(CLI::PositiveNumber);
    app.add_option("--hist", f.s.hist_path,
                   "Write the latency percentile distribution (HdrHistogram format, ms) to this file");
    app.add_option("--plot", f.s.plot_path,
                   "Write an SVG with latency by percentile and throughput/p99 over time");
    app.add_option("--json", f.s.json_path, "Write the summary as JSON to this file");
    app.add_option("--results", f.s.results_path,
                   "Write one CSV row per request to this file (warm-up left out)");
    app.add_flag("--no-verify", f.no_verify, "Don't check factor and echo results");
    app.add_flag("-q,--quiet", f.quiet,
                 "No live progress view (it is shown only when stderr is a terminal)");
    app.add_option("--log-level", f.log_level, "debug, info, warn or error")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}))->capture_default_str();
}

zlb::client::Settings settings_from(Flags& f) {
    auto s = std::move(f.s);
    for (const auto& c : f.connect)
        for (auto& ep : zlb::client::endpoints_expand(c)) s.endpoints.push_back(std::move(ep));
    if (!f.endpoints_file.empty())
        for (auto& ep : zlb::client::endpoints_read(f.endpoints_file)) s.endpoints.push_back(std::move(ep));
    if (s.endpoints.empty()) throw std::invalid_argument("give servers with --connect or --endpoints-file");
    s.work.op = *zlb::proto::parse_op(f.op);
    s.timeout = std::chrono::milliseconds(f.timeout_ms);
    s.connect_wait = std::chrono::milliseconds(f.connect_wait_ms);
    s.heartbeat = std::chrono::milliseconds(f.heartbeat_ms);
    if (f.curve_server_key.empty() != f.curve_secret.empty())
        throw std::invalid_argument("CURVE needs both --curve-server-key and --curve-secret");
    if (!f.curve_server_key.empty()) {
        s.curve_server_key = zlb::curve_public_read(f.curve_server_key);
        auto keys = zlb::curve_secret_read(f.curve_secret);
        s.curve_public = keys.public_z85;
        s.curve_secret = keys.secret_z85;
    }
    if (f.deadline_ms) s.work.deadline_ms = f.deadline_ms;
    if (f.fetch_timeout_ms) s.work.fetch.timeout_ms = f.fetch_timeout_ms;
    s.work.fetch.head = f.head;
    s.work.fetch.want_body = !s.save_dir.empty();
    s.verify = !f.no_verify;
    s.progress = !f.quiet && ::isatty(STDERR_FILENO);
    s.intervals_print = s.interval_s > 0;
    return s;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"zlb-client: sends echo, factor or fetch work to zlb servers and measures it"};
    Flags flags;
    flags_add(app, flags);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    zlb::set_log_name("zlb-client");
    zlb::set_log_level(*zlb::parse_log_level(flags.log_level));
    // No stop fd yet: Ctrl-C ends the client the default way (issue 10 brings the grace).
    zmq::context_t ctx(1);
    std::optional<zlb::client::Client> client;
    try {
        client.emplace(settings_from(flags), zlb::EngineEnv{ctx});
    } catch (const std::exception& e) {
        std::fprintf(stderr, "zlb-client: error: %s\n", e.what());
        return 2;
    }
    try {
        int code = client->run();
        client->report().table_print(stdout);
        return code;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "zlb-client: error: %s\n", e.what());
        return 2;
    }
}
